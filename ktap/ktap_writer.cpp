#include "ktap_writer.hpp"

#include <charconv>
#include <iterator>
#include <ostream>

namespace ptlab::ktap {

namespace {

std::string seconds_text(double seconds) {
    char buf[64];
    const auto [ptr, ec] = std::to_chars(std::begin(buf), std::end(buf), seconds);
    return ec == std::errc() ? std::string(std::begin(buf), ptr) : std::string("0");
}

void write_line(std::ostream &out, std::string_view indent, std::string_view line) {
    const bool reserved = line.starts_with("Subtest:") || line.starts_with("time=");
    out << indent << "# " << (reserved ? "> " : "");
    for (const char c : line) {
        out << (c == '\r' ? ' ' : c);
    }
    out << '\n';
}

} // namespace

std::string escape(std::string_view name) {
    if (name.empty()) {
        return "(unnamed)";
    }
    std::string out;
    out.reserve(name.size());
    for (const char c : name) {
        if (c == '#') {
            out += "\\#";
        } else if (c == '\n' || c == '\r') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

void write_diagnostic(std::ostream &out, std::string_view indent, std::string_view text) {
    for (;;) {
        const auto nl = text.find('\n');
        write_line(out, indent, text.substr(0, nl));
        if (nl == std::string_view::npos) {
            return;
        }
        text.remove_prefix(nl + 1);
    }
}

void write_result(std::ostream &out, const Node &node, int n, int depth) {
    const std::string indent(static_cast<std::size_t>(depth) * 4, ' ');
    const std::string name = escape(node.name);
    if (!node.children.empty()) {
        const std::string sub = indent + "    ";
        out << sub << version_line << '\n' << sub << "# Subtest: " << name << '\n';
        out << sub << "1.." << node.children.size() << '\n';
        int i = 0;
        for (const auto &child : node.children) {
            write_result(out, child, ++i, depth + 1);
        }
    }
    for (const auto &d : node.diagnostics) {
        write_diagnostic(out, indent, d);
    }
    if (node.seconds) {
        out << indent << "# time=" << seconds_text(*node.seconds) << '\n';
    }
    out << indent << (node.outcome == Outcome::NotOk ? "not ok " : "ok ") << n << ' ' << name;
    if (node.outcome == Outcome::Skip || node.outcome == Outcome::XFail) {
        out << (node.outcome == Outcome::Skip ? " # SKIP" : " # XFAIL");
        if (!node.skip_reason.empty()) {
            out << ' ' << escape(node.skip_reason);
        }
    }
    out << '\n';
}

void write_document(std::ostream &out, const std::vector<Node> &nodes,
                    const std::vector<std::string> &header) {
    out << version_line << '\n';
    for (const auto &h : header) {
        write_diagnostic(out, "", h);
    }
    out << "1.." << nodes.size() << '\n';
    int i = 0;
    for (const auto &node : nodes) {
        write_result(out, node, ++i, 0);
    }
}

} // namespace ptlab::ktap
