#include "ptlab/ktap.hpp"

#include "ktap_writer.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <optional>
#include <ostream>
#include <utility>

namespace ptlab {

std::string_view status_name(Status status) {
    switch (status) {
    case Status::Pass:
        return "PASS";
    case Status::Fail:
        return "FAIL";
    case Status::Skip:
        return "SKIP";
    case Status::Error:
        return "ERROR";
    case Status::XFail:
        return "XFAIL";
    }
    return "ERROR";
}

bool contains_status(const TestResult &test, Status status) {
    if (test.status == status) {
        return true;
    }
    return std::any_of(test.subtests.begin(), test.subtests.end(),
                       [status](const TestResult &t) { return contains_status(t, status); });
}

namespace {

enum class Kind { None, Version, Plan, Result, Diagnostic };

struct Line {
    Kind kind = Kind::None;
    bool kernel = false; ///< had a printk timestamp
    int indent = 0;
    std::string_view body; ///< trimmed message
    int plan = -1;
    std::string plan_skip; ///< reason of "1..0 # SKIP reason": the whole block did not run
    bool ok = false;
    long number = 0;
    std::string name;
    std::string directive;
    std::string text; ///< diagnostic text after "# "
};

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        const char a = s[i] >= 'a' && s[i] <= 'z' ? static_cast<char>(s[i] - 'a' + 'A') : s[i];
        const char b = prefix[i] >= 'a' && prefix[i] <= 'z'
                           ? static_cast<char>(prefix[i] - 'a' + 'A')
                           : prefix[i];
        if (a != b) {
            return false;
        }
    }
    return true;
}

template <typename T> std::optional<T> parse_number(std::string_view s) {
    T value{};
    const auto *end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, value);
    if (ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

std::string unescape_name(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '#') {
            continue;
        }
        out += s[i];
    }
    return out;
}

bool parse_result(std::string_view body, Line &line) {
    if (!is_ktap_result(body)) {
        return false;
    }
    line.ok = body.starts_with("ok ");
    std::string_view rest = body.substr(line.ok ? 3 : 7);
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
        ++digits;
    }
    const auto number = parse_number<long>(rest.substr(0, digits));
    if (!number) {
        return false;
    }
    rest.remove_prefix(digits);
    if (!rest.empty() && rest[0] != ' ' && rest[0] != '\t') {
        return false;
    }
    rest = trim_left(rest);
    if (rest.starts_with("- ")) {
        rest.remove_prefix(2);
    } else if (rest == "-") {
        rest = {};
    }
    // A directive starts at a '#' that begins the text or follows whitespace ("\#" is literal).
    std::size_t hash = std::string_view::npos;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] == '#' && (i == 0 || rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
            hash = i;
            break;
        }
    }
    line.number = *number;
    if (hash == std::string_view::npos) {
        line.name = unescape_name(trim(rest));
    } else {
        line.name = unescape_name(trim(rest.substr(0, hash)));
        line.directive = std::string(trim(rest.substr(hash + 1)));
    }
    line.kind = Kind::Result;
    return true;
}

Line classify(std::string_view raw) {
    Line line;
    const std::string_view msg = strip_console_prefix(raw, &line.kernel);
    line.indent = indentation_of(msg);
    line.body = trim(msg);
    const std::string_view body = line.body;
    if (body.empty()) {
        return line;
    }
    for (const std::string_view prefix :
         {std::string_view("KTAP version "), std::string_view("TAP version ")}) {
        if (body.starts_with(prefix) && all_digits(body.substr(prefix.size()))) {
            line.kind = Kind::Version;
            return line;
        }
    }
    if (body.starts_with("1..")) {
        std::string_view rest = body.substr(3);
        std::size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
            ++digits;
        }
        const std::string_view after = trim_left(rest.substr(digits));
        const auto count = parse_number<int>(rest.substr(0, digits));
        if (count && (after.empty() || after[0] == '#')) {
            line.kind = Kind::Plan;
            line.plan = *count;
            std::string_view directive = trim(after.substr(after.empty() ? 0 : 1));
            if (*count == 0 && starts_with_icase(directive, "SKIP")) {
                line.plan_skip = std::string(trim(directive.substr(4)));
                if (line.plan_skip.empty()) {
                    line.plan_skip = "skipped";
                }
            }
            return line;
        }
    }
    if (parse_result(body, line)) {
        return line;
    }
    if (body == "#" || body.starts_with("# ") || body.starts_with("#\t")) {
        line.kind = Kind::Diagnostic;
        line.text = std::string(trim(body.substr(1)));
        return line;
    }
    return line;
}

std::string in_quotes(const std::string &name) { return "'" + name + "'"; }

struct Frame {
    int indent = 0;
    TestResult test;
    int plan = -1;
    std::string plan_skip;
    long last_number = 0;
    bool has_header = false;
    std::vector<std::string> pre;     ///< parent's pending diagnostics when this block opened
    std::vector<std::string> pending; ///< diagnostics waiting for the next result here
    std::string pending_subtest_name; ///< "# Subtest:" seen here, for the next child block

    [[nodiscard]] bool fresh() const { return test.subtests.empty() && plan < 0 && !has_header; }
};

void append(std::vector<std::string> &to, std::vector<std::string> &&from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
    from.clear();
}

std::string plan_mismatch(int plan, std::size_t got) {
    return "expected " + std::to_string(plan) + " tests, got " + std::to_string(got);
}

/// Parses one stream of lines (kernel printk or plain console output).
class Parser {
public:
    Parser() { stack_.emplace_back(); }

    void feed(const Line &line, std::size_t index) {
        index_ = index;
        handle(line);
    }

    struct Output {
        std::vector<std::pair<std::size_t, TestResult>> results; ///< (line index, top-level)
        std::vector<std::string> errors;
        bool found = false;
        int documents = 0;
        int plan_total = 0;
        bool fully_planned = false;
    };

    Output finish(std::size_t end_index) {
        index_ = end_index;
        finish_document(true);
        Output out;
        auto &tops = stack_[0].test.subtests;
        for (std::size_t i = 0; i < tops.size(); ++i) {
            out.results.emplace_back(root_order_[i], std::move(tops[i]));
        }
        out.errors = std::move(root_errors_);
        out.found = found_;
        out.documents = documents_;
        out.plan_total = plan_total_;
        out.fully_planned = any_plan_ && all_planned_;
        return out;
    }

private:
    std::vector<Frame> stack_;
    std::size_t index_ = 0;
    std::vector<std::size_t> root_order_; ///< line index of each top-level result
    bool found_ = false;
    bool root_indent_known_ = false;
    int documents_ = 0;
    std::size_t doc_start_ = 0;
    std::vector<std::string> root_errors_;
    int plan_total_ = 0;
    bool any_plan_ = false;
    bool all_planned_ = true;
    std::optional<double> time_;
    int time_indent_ = 0;
    bool cont_ = false;
    std::size_t cont_frame_ = 0;
    int cont_indent_ = 0;

    /// Deepest open frame whose indent is <= indent.
    [[nodiscard]] std::size_t level_for(int indent) const {
        std::size_t d = stack_.size() - 1;
        while (d > 0 && stack_[d].indent > indent) {
            --d;
        }
        return d;
    }

    [[nodiscard]] bool root_has_content() const {
        return stack_[0].test.subtests.size() > doc_start_ || stack_[0].plan >= 0 ||
               stack_.size() > 1;
    }

    void ensure_document() {
        found_ = true;
        if (documents_ == 0) {
            documents_ = 1;
        }
    }

    void new_document() {
        finish_document(false);
        ++documents_;
    }

    Frame &push_child(int indent) {
        Frame child;
        child.indent = indent;
        Frame &parent = stack_.back();
        child.test.name = std::exchange(parent.pending_subtest_name, {});
        child.pre = std::exchange(parent.pending, {});
        stack_.push_back(std::move(child));
        return stack_.back();
    }

    /// Pop the innermost frame: its block never got a result line.
    void close_unterminated(bool eof) {
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        TestResult result = std::move(frame.test);
        if (result.name.empty()) {
            result.name = "(unnamed subtest)";
        }
        result.status = Status::Error;
        result.expected_count = frame.plan;
        std::vector<std::string> diags;
        diags.push_back(eof ? "log ended inside subtest " + in_quotes(result.name) +
                                  " (missing result)"
                            : "missing result line for subtest " + in_quotes(result.name));
        if (frame.plan >= 0 && static_cast<std::size_t>(frame.plan) != result.subtests.size()) {
            diags.push_back(plan_mismatch(frame.plan, result.subtests.size()));
        }
        append(diags, std::move(frame.pre));
        append(diags, std::move(frame.pending));
        result.diagnostics = std::move(diags);
        if (stack_.size() == 1) {
            root_order_.push_back(index_);
        }
        Frame &parent = stack_.back();
        parent.test.subtests.push_back(std::move(result));
        parent.last_number += 1;
    }

    void close_above(std::size_t depth, bool eof) {
        while (stack_.size() > depth + 1) {
            close_unterminated(eof);
        }
    }

    void finish_document(bool eof) {
        close_above(0, eof);
        Frame &root = stack_[0];
        const std::size_t got = root.test.subtests.size() - doc_start_;
        if (root.plan >= 0) {
            any_plan_ = true;
            plan_total_ += root.plan;
            if (static_cast<std::size_t>(root.plan) != got) {
                const std::string prefix =
                    documents_ > 1 ? "document " + std::to_string(documents_) + ": " : "";
                root_errors_.push_back(prefix + plan_mismatch(root.plan, got));
            }
        } else if (got > 0) {
            all_planned_ = false;
        }
        root.plan = -1;
        root.last_number = 0;
        root.has_header = false;
        root.pending.clear();
        root.pending_subtest_name.clear();
        doc_start_ = root.test.subtests.size();
    }

    void handle(Line line) {
        if (line.kind == Kind::None) {
            handle_noise(line);
            return;
        }
        if (!root_indent_known_ && line.kind != Kind::Diagnostic) {
            stack_[0].indent = line.indent;
            root_indent_known_ = true;
        }
        line.indent = std::max(line.indent, stack_[0].indent);
        cont_ = false;
        bool keep_time = false;
        switch (line.kind) {
        case Kind::Version:
            on_version(line);
            break;
        case Kind::Plan:
            on_plan(line);
            break;
        case Kind::Result:
            on_result(line);
            break;
        case Kind::Diagnostic:
            keep_time = on_diagnostic(line);
            break;
        case Kind::None:
            break;
        }
        if (!keep_time) {
            time_.reset();
        }
    }

    void handle_noise(const Line &line) {
        if (line.body.empty()) {
            return; // blank lines neither continue nor break a diagnostic
        }
        // A non-KTAP line indented deeper than the diagnostic right before it continues it
        // (e.g. kunit's "Expected a == b, but" lines after "# test: EXPECTATION FAILED").
        if (cont_ && line.indent > cont_indent_ && cont_frame_ < stack_.size()) {
            stack_[cont_frame_].pending.emplace_back(line.body);
            return;
        }
        cont_ = false;
    }

    void on_version(const Line &line) {
        ensure_document();
        const std::size_t d = level_for(line.indent);
        if (stack_[d].indent == line.indent) {
            if (d == 0) {
                if (root_has_content()) {
                    new_document();
                }
                stack_[0].has_header = true;
                return;
            }
            close_above(d, false);
            if (stack_[d].fresh()) {
                stack_[d].has_header = true;
                return;
            }
            // A sibling block starts while the previous one never got its result line.
            close_unterminated(false);
        } else {
            close_above(d, false);
        }
        push_child(line.indent).has_header = true;
    }

    void on_plan(const Line &line) {
        ensure_document();
        std::size_t d = level_for(line.indent);
        if (stack_[d].indent < line.indent) {
            close_above(d, false);
            push_child(line.indent);
            d = stack_.size() - 1;
        } else if (stack_[d].plan >= 0 && !stack_[d].test.subtests.empty()) {
            if (d == 0) {
                new_document(); // a second plan at top level: headerless new document
            } else {
                close_above(d - 1, false);
                push_child(line.indent);
                d = stack_.size() - 1;
            }
        }
        stack_[d].plan = line.plan;
        stack_[d].plan_skip = line.plan_skip;
    }

    void on_result(const Line &line) {
        ensure_document();
        std::size_t d = level_for(line.indent);
        std::optional<Frame> block;
        if (stack_[d].indent < line.indent) {
            close_above(d, false);
            push_child(line.indent);
            d = stack_.size() - 1;
        } else {
            close_above(d + 1, false);
            if (stack_.size() > d + 1) {
                block = std::move(stack_.back());
                stack_.pop_back();
            }
        }
        add_result(d, line, block ? &*block : nullptr);
    }

    void add_result(std::size_t d, const Line &line, Frame *block) {
        Frame &frame = stack_[d];
        TestResult result;
        std::vector<std::string> diags;
        if (block != nullptr) {
            result.subtests = std::move(block->test.subtests);
            result.expected_count = block->plan;
            append(diags, std::move(block->pre));
            append(diags, std::move(block->pending));
        }
        append(diags, std::move(frame.pending));

        result.name = line.name;
        if (result.name.empty() && block != nullptr) {
            result.name = block->test.name;
        }
        if (result.name.empty()) {
            result.name = "test " + std::to_string(line.number);
        }

        result.status = line.ok ? Status::Pass : Status::Fail;
        if (!line.directive.empty()) {
            std::string_view directive = line.directive;
            if (starts_with_icase(directive, "SKIP")) {
                result.status = Status::Skip;
                directive.remove_prefix(4);
                while (!directive.empty() &&
                       ((directive[0] >= 'A' && directive[0] <= 'Z') ||
                        (directive[0] >= 'a' && directive[0] <= 'z') || directive[0] == ':')) {
                    directive.remove_prefix(1); // "SKIPPED:", "skip:"
                }
                result.skip_reason = unescape_name(trim(directive));
            } else if (starts_with_icase(directive, "XFAIL")) {
                result.status = Status::XFail;
                result.skip_reason = unescape_name(trim(directive.substr(5)));
            } else if (starts_with_icase(directive, "TODO")) {
                if (!line.ok) {
                    result.status = Status::Skip;
                    result.skip_reason = "TODO";
                    const std::string_view why = trim(directive.substr(4));
                    if (!why.empty()) {
                        result.skip_reason += ": " + std::string(why);
                    }
                }
            } else {
                diags.push_back("directive: " + line.directive);
            }
        }
        if (block != nullptr) {
            take_skip_from_block(*block, result);
        }
        if (time_ && time_indent_ == line.indent) {
            result.seconds = *time_;
        }

        std::vector<std::string> problems;
        const long expected_number = frame.last_number + 1;
        if (line.number != expected_number) {
            problems.push_back("result numbered " + std::to_string(line.number) + ", expected " +
                               std::to_string(expected_number) + " (out of order)");
            result.status = Status::Error;
        }
        frame.last_number = line.number;
        if (block != nullptr && block->plan >= 0 &&
            static_cast<std::size_t>(block->plan) != result.subtests.size()) {
            problems.push_back(plan_mismatch(block->plan, result.subtests.size()));
            result.status = Status::Error;
        }
        if (result.status == Status::Pass || result.status == Status::Skip) {
            const auto bad = std::find_if(
                result.subtests.begin(), result.subtests.end(), [](const TestResult &t) {
                    return t.status == Status::Fail || t.status == Status::Error;
                });
            if (bad != result.subtests.end()) {
                problems.push_back("reported ok but subtest " + in_quotes(bad->name) + " failed");
                result.status = Status::Fail;
            }
        }
        append(problems, std::move(diags));
        result.diagnostics = std::move(problems);
        if (d == 0) {
            root_order_.push_back(index_);
        }
        frame.test.subtests.push_back(std::move(result));
    }

    /// The block's own words are the skip: "1..0 # SKIP reason" makes an "ok" result a SKIP
    /// with that reason; a "# SKIP" result without a reason takes the plan's, or the first
    /// skipped child's.
    static void take_skip_from_block(const Frame &block, TestResult &result) {
        if (!block.plan_skip.empty() && result.status == Status::Pass) {
            result.status = Status::Skip;
        }
        if (result.status != Status::Skip || !result.skip_reason.empty()) {
            return;
        }
        result.skip_reason = block.plan_skip;
        for (const auto &child : result.subtests) {
            if (result.skip_reason.empty() && child.status == Status::Skip) {
                result.skip_reason = child.name + ": " + child.skip_reason;
            }
        }
    }

    /// Returns true for a "# time=" line (which must survive until the next result).
    bool on_diagnostic(const Line &line) {
        const std::string_view text = line.text;
        if (text.starts_with("Subtest:")) {
            std::string name(trim(text.substr(8)));
            const std::size_t d = level_for(line.indent);
            if (stack_[d].indent < line.indent) {
                close_above(d, false);
                push_child(line.indent).test.name = std::move(name);
            } else if (d > 0 && d == stack_.size() - 1 && stack_[d].test.subtests.empty() &&
                       stack_[d].plan < 0 && stack_[d].test.name.empty()) {
                stack_[d].test.name = std::move(name);
            } else {
                stack_[d].pending_subtest_name = std::move(name);
            }
            return false;
        }
        if (text.starts_with("time=")) {
            if (const auto seconds = parse_number<double>(trim(text.substr(5)))) {
                time_ = *seconds;
                time_indent_ = line.indent;
                return true;
            }
        }
        const std::size_t d = level_for(line.indent);
        stack_[d].pending.push_back(line.text);
        cont_ = true;
        cont_frame_ = d;
        cont_indent_ = line.indent;
        return false;
    }
};

} // namespace

KtapLog parse_ktap(const std::vector<std::string> &lines) {
    // Kernel printk output (timestamped) and plain console output (e.g. a test program's
    // stdout) are separate KTAP streams: a kunit module loaded mid-run must not be mistaken
    // for a new document of the userspace plan.
    Parser kernel;
    Parser console;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const Line line = classify(lines[i]);
        (line.kernel ? kernel : console).feed(line, i);
    }
    Parser::Output outputs[] = {kernel.finish(lines.size()), console.finish(lines.size())};
    const bool both = outputs[0].found && outputs[1].found;

    KtapLog log;
    std::vector<std::pair<std::size_t, TestResult>> merged;
    std::vector<std::string> errors;
    bool planned = true;
    int plan_total = 0;
    for (auto &out : outputs) {
        if (!out.found) {
            continue;
        }
        log.found = true;
        log.documents += out.documents;
        planned = planned && out.fully_planned;
        plan_total += out.plan_total;
        for (auto &error : out.errors) {
            errors.push_back(both ? (&out == &outputs[0] ? "kernel log: " : "console: ") + error
                                  : error);
        }
        for (auto &result : out.results) {
            merged.push_back(std::move(result));
        }
    }
    std::stable_sort(merged.begin(), merged.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    for (auto &[index, result] : merged) {
        log.root.subtests.push_back(std::move(result));
    }
    log.root.expected_count = log.found && planned ? plan_total : -1;
    if (!errors.empty()) {
        log.root.status = Status::Error;
        log.root.diagnostics = std::move(errors);
    } else {
        const bool failed = std::any_of(
            log.root.subtests.begin(), log.root.subtests.end(), [](const TestResult &t) {
                return t.status == Status::Fail || t.status == Status::Error;
            });
        log.root.status = failed ? Status::Fail : Status::Pass;
    }
    return log;
}

namespace {

ktap::Node ktap_node(const TestResult &test) {
    ktap::Node n;
    n.name = test.name;
    n.outcome = test.status == Status::Skip    ? ktap::Outcome::Skip
                : test.status == Status::XFail ? ktap::Outcome::XFail
                : test.status == Status::Pass  ? ktap::Outcome::Ok
                                               : ktap::Outcome::NotOk;
    n.skip_reason = test.skip_reason;
    n.diagnostics = test.diagnostics;
    if (test.seconds >= 0) {
        n.seconds = test.seconds;
    }
    for (const auto &sub : test.subtests) {
        n.children.push_back(ktap_node(sub));
    }
    return n;
}

} // namespace

void write_ktap_results(std::ostream &out, const std::vector<TestResult> &tests, int indent) {
    int number = 0;
    for (const auto &test : tests) {
        ktap::write_result(out, ktap_node(test), ++number, std::max(indent, 0) / 4);
    }
}

} // namespace ptlab
