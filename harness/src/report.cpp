#include "ptlab/report.hpp"

#include "ktap_writer.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/splat_groups.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <sstream>

namespace ptlab {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::size_t excerpt_lines_shown = 30;
constexpr std::size_t max_note_chars = 160;
constexpr std::size_t max_name_column = 60;

/// Returns the number of failures counted in this subtree.
int count_node(const TestResult &test, Counts &counts) {
    if (test.subtests.empty()) {
        switch (test.status) {
        case Status::Pass:
            ++counts.passed;
            return 0;
        case Status::Skip:
            ++counts.skipped;
            return 0;
        case Status::XFail:
            ++counts.xfailed;
            return 0;
        case Status::Fail:
        case Status::Error:
            ++counts.failed;
            return 1;
        }
        return 0;
    }
    int failures = 0;
    for (const auto &sub : test.subtests) {
        failures += count_node(sub, counts);
    }
    if (failures == 0 && (test.status == Status::Fail || test.status == Status::Error)) {
        ++counts.failed; // e.g. plan mismatch or a suite that failed with all cases passing
        return 1;
    }
    return failures;
}

std::string format_time(double seconds) {
    if (seconds < 0) {
        return "-";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", seconds);
    return buf;
}

std::string shorten(std::string_view s, std::size_t max) {
    std::string out(s.substr(0, std::min(s.size(), max)));
    std::replace(out.begin(), out.end(), '\n', ' ');
    if (s.size() > max) {
        out += "...";
    }
    return out;
}

std::string note_for(const TestResult &test) {
    switch (test.status) {
    case Status::Skip:
        return test.skip_reason;
    case Status::XFail:
        return "expected failure: " + test.skip_reason;
    case Status::Fail:
    case Status::Error:
        return test.diagnostics.empty() ? std::string() : test.diagnostics.front();
    case Status::Pass:
        break;
    }
    return {};
}

struct Row {
    std::string name;
    std::string result;
    std::string time;
    std::string note;
};

void collect_rows(const std::vector<TestResult> &tests, int depth, std::vector<Row> &rows) {
    for (const auto &test : tests) {
        rows.push_back({std::string(static_cast<std::size_t>(depth) * 2, ' ') + test.name,
                        std::string(status_name(test.status)), format_time(test.seconds),
                        shorten(note_for(test), max_note_chars)});
        collect_rows(test.subtests, depth + 1, rows);
    }
}

std::string splat_heading(const Splat &splat) {
    return "[" + splat.kind + "] line " + std::to_string(splat.line_number) + ": " +
           splat.first_line + (splat.expected.empty() ? "" : " (" + splat.expected + ")");
}

ordered_json test_to_json(const TestResult &test) {
    ordered_json j;
    j["name"] = test.name;
    std::string status(status_name(test.status));
    std::transform(status.begin(), status.end(), status.begin(),
                   [](char c) { return static_cast<char>(c - 'A' + 'a'); });
    j["status"] = status;
    if (test.status == Status::Skip) {
        j["skip_reason"] = test.skip_reason;
    }
    if (test.status == Status::XFail) {
        j["xfail_reason"] = test.skip_reason;
    }
    j["seconds"] = test.seconds >= 0 ? ordered_json(test.seconds) : ordered_json(nullptr);
    j["diagnostics"] = test.diagnostics;
    j["expected_count"] = test.expected_count;
    j["subtests"] = ordered_json::array();
    for (const auto &sub : test.subtests) {
        j["subtests"].push_back(test_to_json(sub));
    }
    return j;
}

ordered_json splat_to_json(const Splat &splat, bool allowed) {
    return ordered_json{
        {"kind", splat.kind}, {"line_number", splat.line_number},  {"first_line", splat.first_line},
        {"allowed", allowed}, {"expected_reason", splat.expected}, {"excerpt", splat.excerpt}};
}

/// XML 1.0 text: valid UTF-8, no control characters but tab/newline, markup escaped.
std::string xml_escape(std::string_view raw, bool attribute) {
    const std::string text = sanitize_utf8(raw);
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        case '\n':
            out += attribute ? "&#10;" : "\n";
            break;
        case '\t':
            out += attribute ? "&#9;" : "\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                out += '?';
            } else {
                out += c;
            }
        }
    }
    return out;
}

std::string join_lines(const std::vector<std::string> &lines) {
    std::string out;
    for (const auto &line : lines) {
        out += line;
        out += '\n';
    }
    return out;
}

struct JunitCase {
    std::string classname;
    std::string name;
    double seconds = -1;
    Status status = Status::Pass;
    std::string message;
    std::string body;
};

int junit_collect(const TestResult &test, const std::string &classname,
                  std::vector<JunitCase> &cases) {
    auto make_case = [&] {
        JunitCase c{classname,   test.name,      test.seconds,
                    test.status, note_for(test), join_lines(test.diagnostics)};
        return c;
    };
    if (test.subtests.empty()) {
        cases.push_back(make_case());
        return test.status == Status::Fail || test.status == Status::Error ? 1 : 0;
    }
    const std::string child_class = classname.empty() ? test.name : classname + "." + test.name;
    int failures = 0;
    for (const auto &sub : test.subtests) {
        failures += junit_collect(sub, child_class, cases);
    }
    if (failures == 0 && (test.status == Status::Fail || test.status == Status::Error)) {
        cases.push_back(make_case());
        return 1;
    }
    return failures;
}

/// Failing tests by their full path, leaves first; a failed parent whose
/// children all passed (plan mismatch) is listed itself.
/// The audit's lines for the table pages that broke a rule ("level=pmd pfn=0x4a3f2
/// va=0x...-0x... found=none required=table+ptl", with the mm in the test's name), and the
/// module's "... more" line after them: what a failed audit test is about.
std::vector<std::string> offending_tables(const TestResult &test) {
    constexpr std::size_t max_shown = 8;
    std::vector<std::string> out;
    for (const auto &diag : test.diagnostics) {
        const bool table = diag.find(" pfn=") != std::string::npos &&
                           diag.find(" found=") != std::string::npos &&
                           diag.find(" required=") != std::string::npos;
        const bool more = diag.find(": ... ") != std::string::npos && !out.empty();
        if ((table && out.size() < max_shown) || more) {
            out.push_back(diag);
        }
    }
    return out;
}

int collect_failures(const TestResult &test, const std::string &prefix,
                     std::vector<std::string> &lines) {
    const std::string path = prefix.empty() ? test.name : prefix + " / " + test.name;
    const bool failed = test.status == Status::Fail || test.status == Status::Error;
    int failures = 0;
    for (const auto &sub : test.subtests) {
        failures += collect_failures(sub, path, lines);
    }
    if (failed && failures == 0) {
        const std::string note = shorten(note_for(test), max_note_chars);
        lines.push_back(note.empty() ? path : path + ": " + note);
        for (const auto &line : offending_tables(test)) {
            lines.push_back("  " + line);
        }
        return 1;
    }
    return failures;
}

/// EXEC's command is the user's: its output (the exec plan's diagnostics) is shown whole,
/// whatever its status.
void print_exec_output(std::ostream &out, const Summary &summary) {
    for (const auto &test : summary.tests) {
        if (test.name != exec_plan || test.diagnostics.empty()) {
            continue;
        }
        out << "EXEC output:\n";
        for (const auto &line : test.diagnostics) {
            out << "    " << line << '\n';
        }
    }
}

std::string unclean_leaf_name(const Summary &summary) {
    return summary.reason.empty() ? std::string(reason::no_end_marker) : summary.reason;
}

/// One row per fact checked against a promise, under "promises".
TestResult promises_as_result(const std::vector<PromiseCheck> &checks) {
    TestResult row;
    row.name = "promises";
    for (const auto &check : checks) {
        TestResult t;
        t.name = check.key + " (" + check.source + ")";
        t.status = check.kept() ? Status::Pass : Status::Fail;
        t.diagnostics.push_back("found " + check.found + ", expected " + check.expected);
        if (const std::string why = check.cause(); !why.empty()) {
            t.diagnostics.push_back(why);
        }
        row.status = t.status == Status::Fail ? Status::Fail : row.status;
        row.subtests.push_back(std::move(t));
    }
    return row;
}

} // namespace

Counts count_results(const std::vector<TestResult> &tests) {
    Counts counts;
    for (const auto &test : tests) {
        count_node(test, counts);
    }
    return counts;
}

Counts count_summary(const Summary &summary) {
    Counts counts = count_results(summary.tests);
    counts.failed += static_cast<int>(summary.splats.size());
    if (summary.unclean_end) {
        ++counts.failed;
    }
    return counts;
}

Summary summary_from_verdict(const Verdict &verdict, const std::string &title) {
    Summary s;
    s.title = title;
    s.pass = verdict.outcome == Outcome::Pass;
    s.reason = verdict.reason;
    s.detail = verdict.detail;
    s.tests = verdict.ktap.root.subtests;
    if (verdict.ktap.root.status == Status::Error) {
        TestResult ktap;
        ktap.name = "ktap";
        ktap.status = Status::Error;
        ktap.diagnostics = verdict.ktap.root.diagnostics;
        s.tests.push_back(std::move(ktap));
    }
    if (!verdict.promises.empty()) {
        s.tests.push_back(promises_as_result(verdict.promises));
    }
    s.splats = verdict.splats;
    s.allowed_splats = verdict.allowed_splats;
    s.unclean_end = is_unclean_end(verdict.reason);
    s.tail = verdict.tail;
    s.run =
        RunInfo{verdict.end_marker_seen, verdict.guest_rc, verdict.timed_out, verdict.start_fields};
    return s;
}

void print_splat_groups(std::ostream &out, const std::vector<SplatGroup> &groups) {
    for (const auto &group : groups) {
        out << "splat " << group_heading(group) << '\n';
        for (const auto &line : splat_shown_lines(group.first, excerpt_lines_shown)) {
            out << "    " << line << '\n';
        }
    }
}

void print_report(std::ostream &out, const Summary &summary) {
    if (!summary.title.empty()) {
        out << "== " << summary.title << " ==\n";
    }
    if (summary.run) {
        const auto &run = *summary.run;
        out << "run:";
        for (const auto &[key, value] : run.start_fields) {
            out << ' ' << key << '=' << value;
        }
        out << " end-marker=" << (run.end_marker_seen ? "yes" : "no");
        if (run.guest_rc >= 0) {
            out << " rc=" << run.guest_rc;
        }
        if (run.timed_out) {
            out << " timed-out=yes";
        }
        out << '\n';
    }

    std::vector<Row> rows;
    collect_rows(summary.tests, 0, rows);
    if (rows.empty()) {
        out << "(no test results)\n";
    } else {
        std::size_t width = 4;
        for (const auto &row : rows) {
            width = std::max(width, std::min(row.name.size(), max_name_column));
        }
        out << pad_right("TEST", width) << "  RESULT  TIME    NOTE\n";
        for (const auto &row : rows) {
            std::string line = pad_right(row.name, width) + "  " + pad_right(row.result, 6) + "  " +
                               pad_right(row.time, 6);
            if (!row.note.empty()) {
                line += "  " + row.note;
            }
            out << trim_right(line) << '\n';
        }
    }

    print_exec_output(out, summary);
    const auto groups = group_splats(summary.splats);
    print_splat_groups(out, groups);
    for (const auto &splat : summary.allowed_splats) {
        out << (splat.expected.empty() ? "allowed splat (informational) " : "expected splat ")
            << splat_heading(splat) << '\n';
    }
    if (summary.unclean_end && !summary.tail.empty()) {
        out << "last 50 console lines:\n";
        for (const auto &line : summary.tail) {
            out << "    " << line << '\n';
        }
    }

    // Repeated last so that the tail of a long log says what failed.
    std::vector<std::string> failures;
    for (const auto &test : summary.tests) {
        collect_failures(test, "", failures);
    }
    for (const auto &group : groups) {
        failures.push_back("splat " + group_heading(group));
    }
    if (!failures.empty()) {
        out << "failures:\n";
        for (const auto &line : failures) {
            out << "  " << line << '\n';
        }
    }
    out << "verdict: " << (summary.pass ? "PASS" : "FAIL");
    if (!summary.reason.empty()) {
        out << " (" << summary.reason;
        if (!summary.detail.empty()) {
            out << ": " << summary.detail;
        }
        out << ')';
    }
    out << '\n';
    const Counts counts = count_summary(summary);
    out << counts.skipped << " skipped\n";
    if (counts.xfailed > 0) {
        out << counts.xfailed << " expected failures (XFAIL, each with its reason above)\n";
    }
    out << counts.passed << " passed, " << counts.failed << " failed\n";
}

std::string summary_to_json(const Summary &summary) {
    const Counts counts = count_summary(summary);
    ordered_json j;
    j["title"] = summary.title;
    j["outcome"] = summary.pass ? "pass" : "fail";
    j["reason"] = summary.reason;
    j["detail"] = summary.detail;
    j["counts"] = {{"passed", counts.passed},
                   {"failed", counts.failed},
                   {"skipped", counts.skipped},
                   {"xfailed", counts.xfailed}};
    if (summary.run) {
        j["run"] = {{"end_marker_seen", summary.run->end_marker_seen},
                    {"guest_rc", summary.run->guest_rc},
                    {"timed_out", summary.run->timed_out},
                    {"start", summary.run->start_fields}};
    }
    j["tests"] = ordered_json::array();
    for (const auto &test : summary.tests) {
        j["tests"].push_back(test_to_json(test));
    }
    j["splats"] = ordered_json::array();
    for (const auto &splat : summary.splats) {
        j["splats"].push_back(splat_to_json(splat, false));
    }
    j["allowed_splats"] = ordered_json::array();
    for (const auto &splat : summary.allowed_splats) {
        j["allowed_splats"].push_back(splat_to_json(splat, true));
    }
    j["unclean_end"] = summary.unclean_end;
    j["tail"] = summary.tail;
    return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

void write_junit(std::ostream &out, const Summary &summary) {
    std::vector<JunitCase> cases;
    for (const auto &test : summary.tests) {
        junit_collect(test, "", cases);
    }
    for (const auto &splat : summary.splats) {
        cases.push_back({"splat", splat.kind + " (line " + std::to_string(splat.line_number) + ")",
                         -1, Status::Fail, splat.first_line, join_lines(splat.excerpt)});
    }
    if (summary.unclean_end) {
        cases.push_back({"boot", unclean_leaf_name(summary), -1, Status::Fail, summary.detail,
                         join_lines(summary.tail)});
    }
    int failures = 0;
    int errors = 0;
    int skipped = 0;
    double total = 0;
    for (const auto &c : cases) {
        failures += c.status == Status::Fail ? 1 : 0;
        errors += c.status == Status::Error ? 1 : 0;
        skipped += c.status == Status::Skip || c.status == Status::XFail ? 1 : 0;
        total += std::max(c.seconds, 0.0);
    }
    const std::string suite = summary.title.empty() ? std::string("ptlab") : summary.title;
    char time_buf[32];
    std::snprintf(time_buf, sizeof time_buf, "%.3f", total);
    const std::string counts_attr =
        " tests=\"" + std::to_string(cases.size()) + "\" failures=\"" + std::to_string(failures) +
        "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) + "\"";
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out << "<testsuites name=\"ptlab\"" << counts_attr << ">\n";
    out << "  <testsuite name=\"" << xml_escape(suite, true) << "\"" << counts_attr << " time=\""
        << time_buf << "\">\n";
    for (const auto &c : cases) {
        out << "    <testcase classname=\""
            << xml_escape(c.classname.empty() ? suite : c.classname, true) << "\" name=\""
            << xml_escape(c.name, true) << "\"";
        if (c.seconds >= 0) {
            std::snprintf(time_buf, sizeof time_buf, "%.3f", c.seconds);
            out << " time=\"" << time_buf << "\"";
        }
        if (c.status == Status::Pass) {
            out << "/>\n";
            continue;
        }
        out << ">\n";
        if (c.status == Status::Skip || c.status == Status::XFail) {
            // JUnit has no expected failure: a skip whose message says so (note_for()).
            out << "      <skipped message=\"" << xml_escape(c.message, true) << "\"/>\n";
        } else {
            const char *tag = c.status == Status::Error ? "error" : "failure";
            out << "      <" << tag << " message=\"" << xml_escape(c.message, true) << "\">"
                << xml_escape(c.body, false) << "</" << tag << ">\n";
        }
        out << "    </testcase>\n";
    }
    if (!summary.allowed_splats.empty()) {
        std::string text;
        for (const auto &splat : summary.allowed_splats) {
            text += "allowed splat " + splat_heading(splat) + "\n";
        }
        out << "    <system-out>" << xml_escape(text, false) << "</system-out>\n";
    }
    out << "  </testsuite>\n</testsuites>\n";
}

std::vector<TestResult> summary_findings_as_results(const Summary &summary) {
    std::vector<TestResult> results;
    for (const auto &splat : summary.splats) {
        TestResult t;
        t.name = "splat: " + splat.kind + ": " + splat.first_line;
        t.status = Status::Fail;
        t.diagnostics.push_back("console line " + std::to_string(splat.line_number));
        const std::size_t n = std::min(splat.excerpt.size(), excerpt_lines_shown);
        for (std::size_t i = 0; i < n; ++i) {
            t.diagnostics.push_back("| " + splat.excerpt[i]);
        }
        results.push_back(std::move(t));
    }
    if (summary.unclean_end) {
        TestResult t;
        t.name = unclean_leaf_name(summary);
        t.status = Status::Fail;
        if (!summary.detail.empty()) {
            t.diagnostics.push_back(summary.detail);
        }
        for (const auto &line : summary.tail) {
            t.diagnostics.push_back("| " + line);
        }
        results.push_back(std::move(t));
    }
    return results;
}

void write_ktap_block(std::ostream &out, const Summary &summary, const std::string &label) {
    std::vector<TestResult> children = summary.tests;
    for (auto &finding : summary_findings_as_results(summary)) {
        children.push_back(std::move(finding));
    }
    const std::string name = ktap::escape(label.empty() ? std::string("run") : label);
    out << ktap::version_line << "\n1..1\n";
    if (!children.empty()) {
        out << "    " << ktap::version_line << '\n';
        out << "    # Subtest: " << name << '\n';
        out << "    1.." << children.size() << '\n';
        write_ktap_results(out, children, 4);
    }
    std::string verdict = summary.pass ? "PASS" : "FAIL";
    if (!summary.reason.empty()) {
        verdict += ": " + summary.reason;
        if (!summary.detail.empty()) {
            verdict += ": " + summary.detail;
        }
    }
    out << "# verdict: " << shorten(verdict, 400) << '\n';
    for (const auto &splat : summary.allowed_splats) {
        out << "# allowed splat " << splat_heading(splat) << '\n';
    }
    if (summary.pass) {
        out << "ok 1 " << name << (children.empty() ? " # SKIP no test results" : "") << '\n';
    } else {
        out << "not ok 1 " << name << '\n';
    }
}

} // namespace ptlab
