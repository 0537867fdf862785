#include "report.hpp"

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

std::string ktap_escape_name(std::string_view name) {
    std::string out;
    for (const char c : name) {
        out += (c == '#' || c == '\n' || c == '\r') ? '_' : c;
    }
    return out.empty() ? std::string("unnamed") : out;
}

namespace {

std::string single_line(std::string_view s) {
    std::string out(s);
    for (auto &c : out) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return out;
}

void write_diagnostics(std::ostream &out, const std::string &indent,
                       const std::vector<std::string> &diags) {
    for (const auto &d : diags) {
        std::string_view rest = d;
        for (;;) {
            const auto nl = rest.find('\n');
            out << indent << "# " << rest.substr(0, nl) << '\n';
            if (nl == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(nl + 1);
        }
    }
}

} // namespace

void write_ktap_test(std::ostream &out, const TestNode &t, int n, int depth) {
    const std::string indent(static_cast<std::size_t>(depth) * 4, ' ');
    const std::string name = ktap_escape_name(t.name);
    if (!t.children.empty()) {
        const std::string sub = indent + "    ";
        out << sub << "KTAP version 1\n";
        out << sub << "# Subtest: " << name << '\n';
        out << sub << "1.." << t.children.size() << '\n';
        int i = 0;
        for (const auto &c : t.children) {
            write_ktap_test(out, c, ++i, depth + 1);
        }
    }
    write_diagnostics(out, indent, t.diagnostics);
    out << indent << (t.result == Result::Fail ? "not ok " : "ok ") << n << ' ' << name;
    if (t.result == Result::Skip) {
        out << " # SKIP " << single_line(t.skip_reason);
    }
    out << '\n';
}

void write_ktap(std::ostream &out, const std::vector<TestNode> &tests,
                const std::vector<std::string> &header_diagnostics) {
    out << "KTAP version 1\n";
    write_diagnostics(out, "", header_diagnostics);
    out << "1.." << tests.size() << '\n';
    int i = 0;
    for (const auto &t : tests) {
        write_ktap_test(out, t, ++i, 0);
    }
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
