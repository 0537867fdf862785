#include "ptlab/result.hpp"

#include "ptlab/lines.hpp"

#include <set>
#include <stdexcept>

namespace ptlab {

namespace {

void failing_names(const nlohmann::json &tests, std::set<std::string> &into) {
    for (const auto &test : tests) {
        const std::string status = test.value("status", "");
        if (status == "fail" || status == "error") {
            into.insert(test.value("name", ""));
        }
        failing_names(test.value("subtests", nlohmann::json::array()), into);
    }
}

} // namespace

std::string result_field(const nlohmann::json &j, const std::string &field) {
    const std::string reason = j.value("reason", "");
    const std::string detail = j.value("detail", "");
    if (field == "reason") {
        return reason;
    }
    if (field == "verdict") {
        return (reason.empty() ? "pass" : reason) + (detail.empty() ? "" : " (" + detail + ")");
    }
    if (field == "first-splat") {
        const auto splats = j.value("splats", nlohmann::json::array());
        if (splats.empty()) {
            return "";
        }
        return splats[0].value("kind", "") + ": " + splats[0].value("first_line", "") +
               " (console line " + std::to_string(splats[0].value("line_number", 0)) + ")";
    }
    if (field == "failing-tests") {
        std::set<std::string> names;
        failing_names(j.value("tests", nlohmann::json::array()), names);
        return join_words({names.begin(), names.end()}, ", ");
    }
    throw std::runtime_error("no result field '" + field +
                             "'; fields: reason verdict failing-tests first-splat");
}

} // namespace ptlab
