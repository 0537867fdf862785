// make bisect: `git bisect run` in build/linux with ptlab's own step (build, boot, judge),
// optionally over the user's series applied on series-base, and a report that says why the
// first bad commit is bad. The tree is back where the user left it afterwards.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"

#include <iosfwd>
#include <string>

namespace ptlab {

/// What `git bisect run` makes of a step's exit code.
namespace bisect_exit {
inline constexpr int good = 0;
inline constexpr int bad = 1;
inline constexpr int skip = 125;  ///< it does not build
inline constexpr int abort = 128; ///< the lab itself is broken: stop the bisection
} // namespace bisect_exit

/// One step on the commit build/linux has checked out: built (a build failure is a skip),
/// booted as built, judged.
int bisect_step(const Layout &layout, const Request &request, std::ostream &out,
                const Progress &progress);

struct BisectRequest {
    std::string good;
    std::string bad;
    std::string series; ///< a folder of patches applied on series-base, or empty
    std::string self;   ///< this program, for `git bisect run`
};
BisectRequest bisect_request_from(const Getenv &env);

/// 0 when a first bad commit was found (the report on out), 1 when not.
int bisect(const Layout &layout, const Request &request, const BisectRequest &bisect,
           std::ostream &out, const Progress &progress);

/// "first bad commit: ..., verdict: ..., failing tests: ..., first splat: ..." from a run.
void report_first_bad(std::ostream &out, const std::string &commit, const fs::path &run_dir);

} // namespace ptlab
