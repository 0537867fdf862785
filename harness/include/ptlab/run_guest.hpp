// ptlab run-guest: start QEMU for one boot, stream its console into the run folder, and judge
// it in the same process (or hand the terminal to it: make shell).
#pragma once

#include "ptlab/command.hpp"
#include "ptlab/machine.hpp"
#include "ptlab/run.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace ptlab {

struct RunGuestArgs {
    std::string machine;  ///< configs/machine/<arch>.json
    std::string geometry; ///< configs/geometry/<name>.config: the page size picks the memory
    std::string kernel;
    std::string initrd;
    std::string append;
    std::string run_dir; ///< console.log, qemu.stderr, guest.json, result.{json,xml,ktap}
    int timeout_seconds = 900;
    int smp = 0;
    int memory_mib = 0;
    std::vector<std::string> allow;
    std::string label;
    PromiseFiles promises;
    std::string share; ///< a host folder for the guest, or empty
    bool share_read_only = false;
    bool shell = false;
    bool live = false;
    /// Replaces the machine's binary (the tests' fake QEMU).
    std::string qemu_binary;
};

/// Exit codes: 0 pass, 1 fail; throws on bad input (a missing file names its package).
/// With shell and a run_dir, the console is kept there and judged once QEMU ends.
int run_guest_cmd(const RunGuestArgs &args, std::ostream &out, std::ostream &err);

/// Two runs of one config, step and plan set share a run folder; the second one refuses
/// instead of deleting the first one's log under it. The lock lives beside the folder, so
/// clearing the folder does not drop it, and goes with the process however it ends.
class RunDirLock {
public:
    explicit RunDirLock(const std::string &run_dir);
    ~RunDirLock();
    RunDirLock(const RunDirLock &) = delete;
    RunDirLock &operator=(const RunDirLock &) = delete;

private:
    std::string path_;
    int fd_ = -1;
};

/// What the machine is asked for: the files, memory, CPUs, command line and share of args.
GuestRequest guest_request_of(const RunGuestArgs &args);

/// The verdict on the console in args.run_dir (a local boot's, or a LAVA job's read back),
/// written as result.{json,xml,ktap} and reported on out: 0 pass, 1 fail. exit is QEMU's
/// when it ran here.
int judge_console(const RunGuestArgs &args, const std::optional<GuestExit> &exit, bool timed_out,
                  std::ostream &out);

/// After make shell: the splats of its console, grouped, or that there was none. No plans
/// ran, so only splats judge it: 1 when there is one, else 0.
int report_shell_console(const std::string &console_log, std::ostream &out);

/// The files of a run folder: one place for their names.
struct RunFiles {
    std::string console_log;
    std::string qemu_stderr;
    std::string guest_json;
    std::string result_json;
    std::string result_xml;
    std::string result_ktap;
};
RunFiles run_files(const std::string &run_dir);

} // namespace ptlab
