#include "ptlab/run.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>
#include <charconv>

namespace ptlab {

namespace {

std::map<std::string, std::string> parse_fields(std::string_view text) {
    std::map<std::string, std::string> fields;
    while (!(text = trim_left(text)).empty()) {
        const std::size_t end = text.find_first_of(" \t");
        const std::string_view word = text.substr(0, end);
        const std::size_t eq = word.find('=');
        if (eq != std::string_view::npos && eq > 0) {
            fields[std::string(word.substr(0, eq))] = std::string(word.substr(eq + 1));
        }
        if (end == std::string_view::npos) {
            break;
        }
        text.remove_prefix(end);
    }
    return fields;
}

/// The marker must start the message (after the console prefix) and be followed by a space
/// or the end, so "+ echo PTLAB-END ..." shell traces and partial words do not count.
bool starts_with_marker(std::string_view msg, const std::string &marker) {
    return msg.starts_with(marker) &&
           (msg.size() == marker.size() || msg[marker.size()] == ' ' || msg[marker.size()] == '\t');
}

void collect_failures(const TestResult &test, const std::string &prefix,
                      std::vector<std::string> &failed, std::vector<std::string> &errors) {
    const std::string path = prefix.empty() ? test.name : prefix + "." + test.name;
    if (test.status == Status::Error) {
        errors.push_back(path + ": " + (test.diagnostics.empty() ? "" : test.diagnostics.front()));
    }
    if (test.subtests.empty()) {
        if (test.status == Status::Fail) {
            failed.push_back(path);
        }
        return;
    }
    std::size_t before = failed.size();
    for (const auto &sub : test.subtests) {
        collect_failures(sub, path, failed, errors);
    }
    if (test.status == Status::Fail && failed.size() == before) {
        failed.push_back(path);
    }
}

std::string join_limited(const std::vector<std::string> &items, std::size_t limit) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
        out += (i == 0 ? "" : ", ") + items[i];
    }
    if (items.size() > limit) {
        out += ", ... (" + std::to_string(items.size()) + " in all)";
    }
    return out;
}

} // namespace

bool is_unclean_end(const std::string &r) {
    return r == reason::panic || r == reason::timeout || r == reason::no_end_marker;
}

Verdict judge_run(const std::vector<std::string> &raw, const RunOptions &options) {
    const ConsoleLines console = untangle_console(raw);
    const std::vector<std::string> &lines = console.lines;
    Verdict v;
    v.timed_out = options.timed_out;
    v.ktap = parse_ktap(lines);

    for (const auto &line : lines) {
        const std::string_view msg = trim(strip_console_prefix(line));
        if (!v.start_marker_seen && starts_with_marker(msg, options.start_marker)) {
            v.start_marker_seen = true;
            v.start_fields = parse_fields(msg.substr(options.start_marker.size()));
        } else if (starts_with_marker(msg, options.end_marker)) {
            v.end_marker_seen = true;
            const auto fields = parse_fields(msg.substr(options.end_marker.size()));
            v.guest_rc = -1;
            if (const auto it = fields.find("rc"); it != fields.end()) {
                int rc = -1;
                const auto *end = it->second.data() + it->second.size();
                if (std::from_chars(it->second.data(), end, rc).ptr == end) {
                    v.guest_rc = rc;
                }
            }
        }
    }

    const Splat *panic = nullptr;
    for (auto &splat : find_splats(lines)) {
        splat.line_number = console.source_line[splat.line_number - 1];
        const bool allowed = options.allowed_kinds.count(splat.kind) != 0;
        auto &into = allowed ? v.allowed_splats : v.splats;
        into.push_back(std::move(splat));
    }
    for (const auto *list : {&v.splats, &v.allowed_splats}) {
        for (const auto &splat : *list) {
            if (splat.kind == "panic" && panic == nullptr) {
                panic = &splat;
            }
        }
    }

    std::vector<std::string> failed;
    std::vector<std::string> errors;
    if (v.ktap.root.status == Status::Error) {
        for (const auto &diag : v.ktap.root.diagnostics) {
            errors.push_back("ktap: " + diag);
        }
    }
    for (const auto &test : v.ktap.root.subtests) {
        collect_failures(test, "", failed, errors);
    }

    v.outcome = Outcome::Fail;
    if (!v.end_marker_seen) {
        if (panic != nullptr) {
            v.reason = reason::panic;
            v.detail = panic->first_line;
        } else if (options.timed_out) {
            v.reason = reason::timeout;
            v.detail = "runner killed QEMU after timeout";
        } else {
            v.reason = reason::no_end_marker;
            v.detail = "guest exited without printing " + options.end_marker;
        }
        const std::size_t n = std::min(options.tail_lines, lines.size());
        v.tail.assign(lines.end() - static_cast<std::ptrdiff_t>(n), lines.end());
    } else if (!v.splats.empty()) {
        v.reason = reason::splat;
        v.detail = v.splats.front().kind + ": " + v.splats.front().first_line;
    } else if (!failed.empty()) {
        v.reason = reason::test_failures;
        v.detail = join_limited(failed, 5);
    } else if (!errors.empty()) {
        v.reason = reason::ktap_error;
        v.detail = errors.front();
    } else {
        v.outcome = Outcome::Pass;
    }
    return v;
}

} // namespace ptlab
