// Facts against promises. The guest reports what it sees as structured lines,
//   # ptlab-fact <source> <key>=<value> [<key>=<value> ...]
// (the boot plan from user space, the audit module from inside the kernel); the host knows
// the built .config before anything boots. Each fact whose key a step promises is compared
// with the promise here, on the host, and every difference is named in the verdict.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct Fact {
    std::string source; ///< "config", "boot", "audit", ...
    std::string key;
    std::string value;
};

/// The ptlab-fact lines of a console log, in order (indentation and a KTAP "# " prefix are
/// what nesting adds; both are accepted). A malformed word is skipped.
std::vector<Fact> parse_facts(const std::vector<std::string> &lines);

/// Facts from one source, as Fact rows.
std::vector<Fact> facts_from(const std::string &source,
                             const std::map<std::string, std::string> &values);

struct PromiseCheck {
    std::string key;
    std::string source;
    std::string expected; ///< may list alternatives: "none|table+ptl"
    std::string found;
    [[nodiscard]] bool kept() const;
    /// "split_pmd (config): on, expected off", and the likely cause where the facts name one
    [[nodiscard]] std::string message() const;
    /// Why a broken promise broke, when the facts alone say it (else empty).
    [[nodiscard]] std::string cause() const;
};

/// One check per fact whose key is promised; facts nobody promised are not checked.
std::vector<PromiseCheck> check_promises(const std::map<std::string, std::string> &promised,
                                         const std::vector<Fact> &facts);

/// The broken ones, in order.
std::vector<PromiseCheck> broken(const std::vector<PromiseCheck> &checks);

/// The values of an expectations file written by `ptlab expect --json`.
std::map<std::string, std::string> load_promises(const std::string &path);

/// An upstream selftest the lab knows to fail at a config and step, and why. A flaky one
/// (timing under TCG) may also pass.
struct KnownFailure {
    std::string reason;
    bool flaky = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KnownFailure, reason, flaky)
/// By test name.
using KnownFailures = std::map<std::string, KnownFailure>;

/// Its "known_failures", empty when it has none.
KnownFailures load_known_failures(const std::string &path);

/// A kernel report an upstream selftest is known to provoke at a config and step, and why:
/// a splat whose report contains `text`, printed while `test` runs, is expected.
struct KnownSplat {
    std::string test;
    std::string text;
    std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KnownSplat, test, text, reason)
using KnownSplats = std::vector<KnownSplat>;

/// Its "known_splats", empty when it has none.
KnownSplats load_known_splats(const std::string &path);

} // namespace ptlab
