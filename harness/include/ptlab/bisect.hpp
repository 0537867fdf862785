// make bisect: `git bisect run` in build/linux with ptlab's own step (build, boot, judge),
// optionally over the user's series applied on series-base, and a report that says why the
// first bad commit is bad. The tree is back where the user left it afterwards.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace ptlab {

/// What `git bisect run` makes of a step's exit code.
namespace bisect_exit {
inline constexpr int good = 0;
inline constexpr int bad = 1;
inline constexpr int skip = 125;  ///< it does not build
inline constexpr int abort = 128; ///< the lab itself is broken: stop the bisection
} // namespace bisect_exit

struct StepOptions {
    /// BISECT_REPEAT: the runs a failing step must fail, each for the first run's reason, to
    /// be bad (a pass or another reason among them: flaky, skipped and named in the report).
    int repeat = 2;
    /// A commit whose Image is byte for byte its parent's is skipped, never blamed.
    bool compare_parent = true;
};

/// What the repeated runs of a failing step say (a run: why it failed, nullopt for a pass).
enum class Repeated { Bad, Flaky };
Repeated judge_repeats(const std::vector<std::optional<std::string>> &runs);

/// One step on the commit build/linux has checked out: built (a build failure is a skip),
/// compared with its parent's Image, booted as built and judged, a failure run again.
int bisect_step(const Layout &layout, const Request &request, std::ostream &out,
                const Progress &progress, const StepOptions &options = {});

/// BISECT_REPEAT from the environment (2 when unset; 1 to 10).
StepOptions step_options_from(const Getenv &env);

struct BisectRequest {
    std::string good;
    std::string bad;
    std::string series; ///< a folder of patches applied on series-base, or empty
    std::string self;   ///< this program, for `git bisect run`
    StepOptions step;   ///< how each step (and GOOD and BAD before them) is run
};
BisectRequest bisect_request_from(const Getenv &env);

/// GOOD is run and must pass, BAD is run and must fail; then git bisect run. 0 when a first
/// bad commit was found (the report on out and in build/results/bisect/bisect.json), 1 when
/// not (only skipped commits left: the report names them).
int bisect(const Layout &layout, const Request &request, const BisectRequest &bisect,
           std::ostream &out, const Progress &progress);

/// "first bad commit: ..., verdict: ..., failing tests: ..., first splat: ..." from a run.
void report_first_bad(std::ostream &out, const std::string &commit, const fs::path &run_dir);

/// The commits git bisect could not tell apart ("only 'skip'ped commits left"), from its log.
std::vector<std::string> skipped_candidates(const std::vector<std::string> &log);

} // namespace ptlab
