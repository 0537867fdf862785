#include "report.hpp"

#include "ktap_writer.hpp"

namespace ptlab {

std::string_view result_name(Result r) {
    switch (r) {
    case Result::Pass:
        return "pass";
    case Result::Fail:
        return "fail";
    case Result::Skip:
        return "skip";
    }
    return "fail";
}

TestNode &TestNode::check(std::string check_name, bool ok, const std::string &diag) {
    TestNode &c = children.emplace_back(std::move(check_name));
    c.result = ok ? Result::Pass : Result::Fail;
    if (!diag.empty()) {
        c.diagnostics.push_back(diag);
    }
    return c;
}

TestNode &TestNode::skip(std::string check_name, std::string reason) {
    TestNode &c = children.emplace_back(std::move(check_name));
    c.result = Result::Skip;
    c.skip_reason = std::move(reason);
    return c;
}

Result TestNode::settle() {
    if (children.empty()) {
        return result;
    }
    bool any_fail = false;
    bool all_skip = true;
    for (auto &c : children) {
        const Result r = c.settle();
        any_fail = any_fail || r == Result::Fail;
        all_skip = all_skip && r == Result::Skip;
    }
    if (any_fail || result == Result::Fail) {
        result = Result::Fail;
    } else if (all_skip) {
        result = Result::Skip;
        if (skip_reason.empty()) {
            skip_reason = children.size() == 1 && !children[0].skip_reason.empty()
                              ? children[0].skip_reason
                              : "all checks skipped";
        }
    } else {
        result = Result::Pass;
    }
    return result;
}

int exit_code_for(const std::vector<TestNode> &tests) {
    bool all_skip = true;
    for (const auto &t : tests) {
        if (t.result == Result::Fail) {
            return 1;
        }
        all_skip = all_skip && t.result == Result::Skip;
    }
    return all_skip ? 4 : 0;
}

namespace {

ktap::Node ktap_node(const TestNode &t) {
    ktap::Node n;
    n.name = t.name;
    n.outcome = t.result == Result::Fail   ? ktap::Outcome::NotOk
                : t.result == Result::Skip ? ktap::Outcome::Skip
                                           : ktap::Outcome::Ok;
    n.skip_reason = t.skip_reason;
    n.diagnostics = t.diagnostics;
    for (const auto &child : t.children) {
        n.children.push_back(ktap_node(child));
    }
    return n;
}

} // namespace

void write_ktap_test(std::ostream &out, const TestNode &t, int n, int depth) {
    ktap::write_result(out, ktap_node(t), n, depth);
}

void write_ktap(std::ostream &out, const std::vector<TestNode> &tests,
                const std::vector<std::string> &header_diagnostics) {
    std::vector<ktap::Node> nodes;
    for (const auto &t : tests) {
        nodes.push_back(ktap_node(t));
    }
    ktap::write_document(out, nodes, header_diagnostics);
}

nlohmann::json to_json(const TestNode &t) {
    nlohmann::json j;
    j["name"] = t.name;
    j["result"] = result_name(t.result);
    if (t.result == Result::Skip) {
        j["skip_reason"] = t.skip_reason;
    }
    j["diagnostics"] = t.diagnostics;
    if (!t.metrics.empty()) {
        j["metrics"] = t.metrics;
    }
    if (!t.children.empty()) {
        auto &c = j["tests"] = nlohmann::json::array();
        for (const auto &child : t.children) {
            c.push_back(to_json(child));
        }
    }
    return j;
}

} // namespace ptlab
