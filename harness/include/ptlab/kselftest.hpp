// The kernel's own selftests (tools/testing/selftests/vm and kvm of the step under test) as
// plans: built once per distinct source (a step whose selftest sources and uapi headers did
// not change reuses the binaries), carried into the guest as an archive appended to the
// initramfs only when a kselftest plan is asked for, and judged with the lab's known
// results (configs/kselftests.json): a known failure is an XFAIL with its reason, a known
// failure that passes is a failure of its own.
#pragma once

#include "ptlab/ktap.hpp"
#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/promises.hpp"
#include "ptlab/splat.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace ptlab {

/// Any plan named kselftest*.
bool wants_kselftests(const std::vector<std::string> &plans);

/// What a build is named after: the git trees of the selftest sources, tools headers and
/// uapi headers at sha, and the lab's recipe.
std::string kselftest_key(const std::filesystem::path &src, const std::string &sha);

struct KselftestBuild {
    std::filesystem::path dir; ///< build/kselftests/<key>: vm/, kvm/, build logs
    std::string key;
    bool reused = false;
};

/// Builds (or finds) the selftests of the step at sha, in a git worktree of build/linux
/// (build/kselftest-src) so that the user's checkout is never touched.
KselftestBuild build_kselftests(const Layout &layout, const std::string &sha,
                                const std::string &step_name, const Progress &progress);

/// gen_init_cpio lines for the guest: the binaries under /kselftest, the test table, and
/// bash (bash-static, from make deps).
std::string kselftest_cpio_list(const Layout &layout, const KselftestBuild &build);

/// The known failures of the table that hold for this config and step: test name -> why.
/// A row's "when" names facts of the geometry (page_size, va_bits, levels, pmd), "config"
/// or "step"; every one must match.
KnownFailures known_failures(const nlohmann::json &table,
                             const std::map<std::string, std::string> &facts);

/// The known splats of the table that hold for this config and step ("when" as above).
KnownSplats known_splats(const nlohmann::json &table,
                         const std::map<std::string, std::string> &facts);

/// The selftest that was running at console line `index`: the name of the nearest
/// "# Subtest:" line above it, or "".
std::string selftest_running_at(const std::vector<std::string> &lines, std::size_t index);

/// Why `splat`, at console line `index`, is expected, or "" when no known splat covers it:
/// the report contains a known splat's text and came while its test ran.
std::string expected_splat(const Splat &splat, const std::vector<std::string> &lines,
                           std::size_t index, const KnownSplats &known);

/// In every kselftest* plan of the log: a known failure becomes XFAIL with its reason; a
/// known failure that passed fails ("unexpected pass") unless it is flaky; the plan's result
/// follows.
void apply_known_failures(KtapLog &log, const KnownFailures &known);

} // namespace ptlab
