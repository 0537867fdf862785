// Results as a tree of tests, written as KTAP (the default) or as one JSON document (--json).
//
// KTAP (https://docs.kernel.org/dev-tools/ktap.html): "KTAP version 1", a plan "1..N", one
// result line per test, "# " diagnostics before the result they belong to, "# SKIP reason"
// directives, and subtests nested by four spaces under "# Subtest: name".
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptlab {

enum class Result { Pass, Fail, Skip };
std::string_view result_name(Result r); // "pass", "fail", "skip"

struct TestNode {
    std::string name;
    Result result = Result::Pass;
    std::string skip_reason;              // for Result::Skip
    std::vector<std::string> diagnostics; // "# " lines before the result line
    std::vector<TestNode> children;       // a node with children is a subtest
    nlohmann::json metrics = nlohmann::json::object();

    TestNode() = default;
    explicit TestNode(std::string n) : name(std::move(n)) {}

    // Appends a leaf: pass when ok, fail otherwise; diag becomes its diagnostic line(s).
    TestNode &check(std::string check_name, bool ok, const std::string &diag = {});
    TestNode &skip(std::string check_name, std::string reason);
    void diag(const std::string &line) { diagnostics.push_back(line); }
    // A node with children takes its result from them: fail if any failed, skip if all were
    // skipped, pass otherwise. Leaves keep their own. Returns the result.
    Result settle();
};

// The exit status for a set of top-level results: 1 if any failed, 4 if all were skipped
// (or there were none), 0 otherwise.
int exit_code_for(const std::vector<TestNode> &tests);

// KTAP result block of one test at the given nesting depth (0 = top level), numbered n.
void write_ktap_test(std::ostream &out, const TestNode &t, int n, int depth = 0);
// A whole KTAP document: header, plan, tests.
void write_ktap(std::ostream &out, const std::vector<TestNode> &tests,
                const std::vector<std::string> &header_diagnostics);

nlohmann::json to_json(const TestNode &t);

} // namespace ptlab
