#include "ptlab/gtest_import.hpp"

#include "ptlab/lines.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace ptlab {

namespace {

using json = nlohmann::json;

std::string string_field(const json &object, const char *key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// gtest writes durations as "0.004s".
double parse_time(std::string text) {
    if (!text.empty() && text.back() == 's') {
        text.pop_back();
    }
    try {
        std::size_t used = 0;
        const double value = std::stod(text, &used);
        return used == text.size() ? value : -1.0;
    } catch (const std::exception &) {
        return -1.0;
    }
}

} // namespace

bool looks_like_gtest_json(std::string_view text) {
    const std::string_view t = trim_left(text);
    if (t.empty() || t[0] != '{') {
        return false;
    }
    const json j = json::parse(t, nullptr, false);
    return !j.is_discarded() && j.is_object() && j.contains("testsuites") &&
           j["testsuites"].is_array();
}

std::vector<TestResult> import_gtest_json(std::string_view text) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("testsuites") ||
        !j["testsuites"].is_array()) {
        throw std::runtime_error("not a GoogleTest JSON report");
    }
    std::vector<TestResult> results;
    for (const auto &suite : j["testsuites"]) {
        if (!suite.is_object()) {
            continue;
        }
        const std::string suite_name = string_field(suite, "name");
        const auto cases = suite.find("testsuite");
        if (cases == suite.end() || !cases->is_array()) {
            continue;
        }
        for (const auto &test : *cases) {
            if (!test.is_object()) {
                continue;
            }
            TestResult r;
            r.name = suite_name + "." + string_field(test, "name");
            r.seconds = parse_time(string_field(test, "time"));
            const std::string status = string_field(test, "status");
            const std::string result = string_field(test, "result");
            const auto failures = test.find("failures");
            if (failures != test.end() && failures->is_array() && !failures->empty()) {
                r.status = Status::Fail;
                for (const auto &failure : *failures) {
                    for (auto &line : split_lines(string_field(failure, "failure"))) {
                        r.diagnostics.push_back(std::move(line));
                    }
                }
            } else if (result == "SKIPPED") {
                r.status = Status::Skip;
                r.skip_reason = "skipped";
            } else if (status == "NOTRUN" || result == "SUPPRESSED") {
                r.status = Status::Skip;
                r.skip_reason = "disabled";
            }
            results.push_back(std::move(r));
        }
    }
    return results;
}

} // namespace ptlab
