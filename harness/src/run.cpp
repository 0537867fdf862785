#include "ptlab/run.hpp"

#include "ptlab/kselftest.hpp"

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
    return r == reason::panic || r == reason::timeout || r == reason::qemu_failed_to_start ||
           r == reason::qemu_died || r == reason::no_end_marker;
}

namespace {

/// QEMU's first error line: the one naming the program, else the first it printed.
std::string qemu_message(const GuestExit &qemu) {
    for (const auto &line : qemu.stderr_lines) {
        if (line.find("qemu-system") != std::string::npos || line.starts_with("cannot execute")) {
            return line;
        }
    }
    for (const auto &line : qemu.stderr_lines) {
        if (!trim(line).empty()) {
            return line;
        }
    }
    return "(no message on its stderr)";
}

std::string how_it_ended(const GuestExit &qemu) {
    if (qemu.signal) {
        return "killed by signal " + std::to_string(*qemu.signal);
    }
    return "exit status " + std::to_string(qemu.exit_code.value_or(-1));
}

/// Why a guest that never printed the end marker stopped, when nothing in its log says so:
/// QEMU refusing to start (an empty console) or QEMU going away by itself.
bool explain_qemu_end(const GuestExit &qemu, Verdict &v) {
    if (qemu.killed_by_runner()) {
        return false;
    }
    const bool failed = qemu.signal || qemu.exit_code.value_or(0) != 0;
    if (qemu.console_bytes == 0 && failed) {
        v.reason = reason::qemu_failed_to_start;
        v.detail = qemu_message(qemu) + " (" + how_it_ended(qemu) + ")";
        return true;
    }
    if (failed) {
        v.reason = reason::qemu_died;
        v.detail = how_it_ended(qemu) + " before the end marker";
        if (!qemu.stderr_lines.empty()) {
            v.detail += ": " + qemu_message(qemu);
        }
        return true;
    }
    return false;
}

} // namespace

namespace {

/// PTLAB-START's fields and PTLAB-END's rc.
void read_markers(const std::vector<std::string> &lines, const RunOptions &options, Verdict &v) {
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
}

/// Splats that fail the run, and splats of allowed kinds or known to come with an upstream
/// selftest (each with its reason), each at its line in the file;
/// the first panic of either, or nullptr.
const Splat *sort_splats(const ConsoleLines &console, const RunOptions &options, Verdict &v) {
    for (auto &splat : find_splats(console.lines)) {
        splat.expected =
            expected_splat(splat, console.lines, splat.line_number - 1, options.known_splats);
        splat.line_number = console.source_line[splat.line_number - 1];
        const bool allowed =
            options.allowed_kinds.count(splat.kind) != 0 || !splat.expected.empty();
        auto &into = allowed ? v.allowed_splats : v.splats;
        into.push_back(std::move(splat));
    }
    for (const auto *list : {&v.splats, &v.allowed_splats}) {
        for (const auto &splat : *list) {
            if (splat.kind == "panic") {
                return &splat;
            }
        }
    }
    return nullptr;
}

struct KtapOutcome {
    std::vector<std::string> failed;
    std::vector<std::string> errors;
};

KtapOutcome ktap_outcome(const KtapLog &ktap) {
    KtapOutcome o;
    if (ktap.root.status == Status::Error) {
        for (const auto &diag : ktap.root.diagnostics) {
            o.errors.push_back("ktap: " + diag);
        }
    }
    for (const auto &test : ktap.root.subtests) {
        collect_failures(test, "", o.failed, o.errors);
    }
    return o;
}

/// Host and guest facts against the promises; the broken ones as messages.
std::vector<std::string> judge_promises(const std::vector<std::string> &lines,
                                        const RunOptions &options, Verdict &v) {
    v.promises = check_promises(options.promised, options.host_facts);
    for (auto &check : check_promises(options.promised, parse_facts(lines))) {
        v.promises.push_back(std::move(check));
    }
    std::vector<std::string> messages;
    for (const auto &check : broken(v.promises)) {
        messages.push_back(check.message());
    }
    return messages;
}

/// A guest that never printed the end marker: why (panic, timeout, QEMU), what it was built
/// to be when that contradicts its promises, and its last lines.
void judge_unclean_end(const std::vector<std::string> &lines, const RunOptions &options,
                       const Splat *panic, const std::vector<std::string> &broken_messages,
                       Verdict &v) {
    if (panic != nullptr) {
        v.reason = reason::panic;
        v.detail = panic->first_line;
    } else if (options.timed_out) {
        v.reason = reason::timeout;
        v.detail = "runner killed QEMU after timeout";
    } else if (options.qemu && explain_qemu_end(*options.qemu, v)) {
        // reason and detail set
    } else {
        v.reason = reason::no_end_marker;
        v.detail = "guest exited without printing " + options.end_marker;
    }
    // What the kernel was built to be is known even when it died: say it beside the Oops.
    if (!broken_messages.empty()) {
        v.detail += "; broken promise: " + join_limited(broken_messages, 5);
    }
    const std::size_t n = std::min(options.tail_lines, lines.size());
    v.tail.assign(lines.end() - static_cast<std::ptrdiff_t>(n), lines.end());
    if (options.qemu) {
        for (const auto &line : options.qemu->stderr_lines) {
            v.tail.push_back("(qemu stderr) " + line);
        }
    }
}

} // namespace

/// The reasons in priority order: an unclean end, a splat, a broken promise, failed tests,
/// broken KTAP; else a pass.
Verdict judge_run(const std::vector<std::string> &raw, const RunOptions &options) {
    const ConsoleLines console = untangle_console(raw);
    const std::vector<std::string> &lines = console.lines;
    Verdict v;
    v.timed_out = options.timed_out;
    v.ktap = parse_ktap(lines);
    apply_known_failures(v.ktap, options.known_failures);
    read_markers(lines, options, v);
    const Splat *panic = sort_splats(console, options, v);
    const KtapOutcome ktap = ktap_outcome(v.ktap);
    const std::vector<std::string> broken_messages = judge_promises(lines, options, v);

    v.outcome = Outcome::Fail;
    if (!v.end_marker_seen) {
        judge_unclean_end(lines, options, panic, broken_messages, v);
    } else if (!v.splats.empty()) {
        v.reason = reason::splat;
        v.detail = v.splats.front().kind + ": " + v.splats.front().first_line;
    } else if (!broken_messages.empty()) {
        v.reason = reason::broken_promise;
        v.detail = join_limited(broken_messages, 5);
    } else if (!ktap.failed.empty()) {
        v.reason = reason::test_failures;
        v.detail = join_limited(ktap.failed, 5);
    } else if (!ktap.errors.empty()) {
        v.reason = reason::ktap_error;
        v.detail = ktap.errors.front();
    } else {
        v.outcome = Outcome::Pass;
    }
    return v;
}

} // namespace ptlab
