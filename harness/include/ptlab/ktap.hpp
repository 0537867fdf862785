// KTAP v1 / TAP 13-14 parser for console logs (in the spirit of kunit_tool's kunit_parser.py).
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

/// XFail: a failure the lab knew of, with its reason (expected results, applied on the host).
enum class Status { Pass, Fail, Skip, Error, XFail };

/// "PASS", "FAIL", "SKIP", "ERROR", "XFAIL".
std::string_view status_name(Status status);

struct TestResult {
    std::string name;
    Status status = Status::Pass;
    std::string skip_reason; ///< the reason of a SKIP or an XFAIL
    std::vector<std::string> diagnostics;
    double seconds = -1.0; ///< negative if unknown
    std::vector<TestResult> subtests;
    int expected_count = -1; ///< from the block's plan, -1 if none
};

struct KtapLog {
    /// Unnamed root; subtests are the top-level results of all KTAP documents in the log.
    /// status is Error iff a document-level problem was found (diagnostics explain it),
    /// otherwise Fail if any top-level result is Fail/Error, else Pass.
    TestResult root;
    bool found = false; ///< any KTAP header, plan or result seen
    int documents = 0;  ///< number of top-level KTAP documents
};

/// Parse KTAP out of a console log. Non-KTAP lines (printk noise) are ignored, kernel
/// timestamps are stripped. Never throws on malformed input: problems become Error results.
KtapLog parse_ktap(const std::vector<std::string> &lines);

/// True if this result or any descendant has the given status.
bool contains_status(const TestResult &test, Status status);

/// Serialise results as KTAP at the given indent (a multiple of 4), through the lab's one
/// KTAP writer (ktap/ktap_writer.hpp).
void write_ktap_results(std::ostream &out, const std::vector<TestResult> &tests, int indent = 0);

} // namespace ptlab
