// ENGINE=lava: boots as jobs on a LAVA instance. The client is lavacli (Debian's) with the
// lab's own identity file; a boot's files are copied under build/lava/artifacts, where the
// workers fetch them; the job's log comes back as the run folder's console.log and is judged
// there exactly as a local boot's is.
#pragma once

#include "ptlab/lava.hpp"
#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"
#include "ptlab/run_guest.hpp"

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace ptlab {

/// lavacli reads its identities from $XDG_CONFIG_HOME/lavacli.yaml.
inline constexpr const char *lavacli_settings = "lavacli.yaml";

/// How often the jobs are polled; a refused submission's first pause (then twice it).
struct LavaTiming {
    std::chrono::milliseconds poll_interval{std::chrono::seconds(5)};
    std::chrono::milliseconds retry_pause{std::chrono::seconds(2)};
};

struct LavaInstance {
    std::string url;           ///< "http://127.0.0.1:8000/": the web UI and the API
    std::string device_type;   ///< what the jobs ask for
    std::string artifacts_url; ///< where artifacts_dir is served: file://... or http(s)://...
    std::filesystem::path artifacts_dir;
    std::filesystem::path client_dir; ///< holds lavacli.yaml (the token): XDG_CONFIG_HOME
    std::string lavacli = "lavacli";  ///< PTLAB_LAVACLI replaces it (the tests' fake)
    LavaTiming timing;
    [[nodiscard]] std::string job_url(const std::string &id) const;
};

/// LAVA_URL and its token, else the instance `make lava-up` started (build/lava/client).
/// Throws with what to do when there is neither.
LavaInstance lava_instance(const Layout &layout, const LavaSettings &settings);

/// One lavacli call per method. Each throws with lavacli's own message when it fails.
class LavaClient {
public:
    explicit LavaClient(LavaInstance instance) : instance_(std::move(instance)) {}
    /// The new job's id; a refused submission is retried (3 attempts) before it throws.
    [[nodiscard]] std::string submit(const std::filesystem::path &job) const;
    [[nodiscard]] LavaJobStatus status(const std::string &id) const;
    [[nodiscard]] std::string raw_log(const std::string &id) const;
    [[nodiscard]] std::string version() const;
    /// "hostname type state health" of each device.
    [[nodiscard]] std::vector<std::string> devices() const;
    [[nodiscard]] const LavaInstance &instance() const { return instance_; }

private:
    [[nodiscard]] std::string call(const std::vector<std::string> &args) const;
    LavaInstance instance_;
};

/// A boot on its way through LAVA: what the local run would have been, and its job.
struct LavaCell {
    std::string label; ///< "series-base x 4k-48"
    RunGuestArgs args;
    std::string job_id;
    LavaJobStatus status;
    std::string problem; ///< lava_problem(): empty when LAVA completed the job
    bool infrastructure = false;
    bool lost = false;                ///< LAVA stopped answering for it
    int verdict = -1;                 ///< the console's: 0 pass, 1 fail, -1 not judged
    std::shared_ptr<RunDirLock> lock; ///< the run folder, from submission to judgement
    std::chrono::steady_clock::time_point submitted;
    double seconds = -1; ///< from submission until the job's log was judged
};

/// Copies the boot's firmware, kernel and initramfs under the artifacts folder and writes the
/// job into the run folder (job.yaml); returns its path.
std::filesystem::path write_lava_job(const LavaInstance &instance, const Layout &layout,
                                     const RunGuestArgs &args);

/// Submits the cell's job (cell.job_id), or records why it could not be.
void submit_lava_cell(const LavaClient &client, const Layout &layout, LavaCell &cell,
                      const Progress &progress);

/// Polls every submitted cell until its job finishes, saying each change of state, then
/// collects it: the job's log, lava.json and console.log in the run folder, judged there.
void collect_lava_cells(const LavaClient &client, std::vector<LavaCell> &cells, std::ostream &out,
                        const Progress &progress);

/// `ptlab lava-status`: the instance's version and devices, once it answers (polled for up to
/// wait_seconds: make lava-up's readiness check). 0 when it answered, 1 if not.
int lava_status(const LavaInstance &instance, int wait_seconds, std::ostream &out);

/// One boot as one job: submit, wait, collect, judge. 0 pass, 1 fail.
int lava_boot(const Layout &layout, const Request &request, const RunGuestArgs &args,
              std::ostream &out, const Progress &progress, const LavaTiming &timing = {});

} // namespace ptlab
