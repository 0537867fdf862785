// The one KTAP writer of the lab's C++ (the host tool and the guest's stress tool, built for
// both): a tree of results out as KTAP version 1, with subtests nested four spaces deeper,
// names escaped and diagnostics kept from being read back as KTAP. Only the host parses KTAP
// (harness/src/ktap.cpp).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::ktap {

/// XFail: a failure the lab knew of (its reason in skip_reason), written as kselftest does,
/// "ok N name # XFAIL reason".
enum class Outcome { Ok, NotOk, Skip, XFail };

struct Node {
    std::string name;
    Outcome outcome = Outcome::Ok;
    std::string skip_reason;
    std::vector<std::string> diagnostics; ///< a diagnostic with newlines is several lines
    std::optional<double> seconds;        ///< "# time=" before the result line
    std::vector<Node> children;
};

/// A name or directive text on one line: '#' escaped as "\#", line breaks as spaces; empty
/// becomes "(unnamed)".
std::string escape(std::string_view name);

/// "# text" at indent, one line per line of text; a line that would read back as
/// "# Subtest:" or "# time=" is quoted with "> ".
void write_diagnostic(std::ostream &out, std::string_view indent, std::string_view text);

/// The result line of node numbered n at depth (four spaces each), its subtests first.
void write_result(std::ostream &out, const Node &node, int n, int depth = 0);

/// The first line of every KTAP document, nested or not.
inline constexpr const char *version_line = "KTAP version 1";

/// version_line, header diagnostics, the plan, every result.
void write_document(std::ostream &out, const std::vector<Node> &nodes,
                    const std::vector<std::string> &header = {});

} // namespace ptlab::ktap
