// Output of verdicts: text table, JSON, JUnit XML and a re-serialised KTAP block.
#pragma once

#include "ptlab/ktap.hpp"
#include "ptlab/run.hpp"
#include "ptlab/splat.hpp"
#include "ptlab/splat_groups.hpp"

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ptlab {

struct RunInfo {
    bool end_marker_seen = false;
    int guest_rc = -1;
    bool timed_out = false;
    std::map<std::string, std::string> start_fields;
};

/// What gets reported: rows of results plus run-level findings.
struct Summary {
    std::string title;
    bool pass = true;
    std::string reason;
    std::string detail;
    std::vector<TestResult> tests; ///< top-level rows
    std::vector<Splat> splats;
    std::vector<Splat> allowed_splats;
    bool unclean_end = false;      ///< panic / timeout / no end marker
    std::vector<std::string> tail; ///< console tail shown for unclean ends
    std::optional<RunInfo> run;
};

struct Counts {
    int passed = 0;
    int failed = 0;
    int skipped = 0;
    int xfailed = 0; ///< failures known and expected (with their reason): neither pass nor fail
};

/// Leaf counting: passed/skipped leaves, failed = failed or errored leaves, plus a Fail/Error
/// inner node whose descendants contain no counted failure (e.g. a plan mismatch).
Counts count_results(const std::vector<TestResult> &tests);
/// count_results() + 1 per splat + 1 for an unclean end.
Counts count_summary(const Summary &summary);

/// Build the summary of one boot; KTAP document errors become a row named "ktap".
Summary summary_from_verdict(const Verdict &verdict, const std::string &title);

/// Text report; the last line is exactly "<N> passed, <M> failed".
/// "splat [kind] line N: ... xC, ..." for each group, then its header and call trace.
void print_splat_groups(std::ostream &out, const std::vector<SplatGroup> &groups);

void print_report(std::ostream &out, const Summary &summary);

std::string summary_to_json(const Summary &summary);
void write_junit(std::ostream &out, const Summary &summary);

/// A one-test KTAP document: a subtest block named `label` holding the results, one "not ok"
/// leaf per splat and one for an unclean end; the block's result is the verdict.
void write_ktap_block(std::ostream &out, const Summary &summary, const std::string &label);

/// The leaves write_ktap_block() adds (splats, unclean end, document errors) - exposed for
/// tests.
std::vector<TestResult> summary_findings_as_results(const Summary &summary);

} // namespace ptlab
