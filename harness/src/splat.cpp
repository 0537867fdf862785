#include "ptlab/splat.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>
#include <optional>
#include <regex>

namespace ptlab {

namespace {

constexpr std::size_t max_block_lines = 60;
constexpr std::size_t vm_bug_lookback = 12;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Message used for header matching: console prefix stripped, trimmed, and a leading
/// "CPU: x PID: y" prefix removed.
std::string_view header_message(std::string_view raw) {
    std::string_view msg = trim(strip_console_prefix(raw));
    if (msg.starts_with("CPU: ")) {
        std::string_view rest = msg.substr(5);
        std::size_t i = 0;
        while (i < rest.size() && is_digit(rest[i])) {
            ++i;
        }
        if (i > 0 && rest.substr(i).starts_with(" PID: ")) {
            rest.remove_prefix(i + 6);
            i = 0;
            while (i < rest.size() && is_digit(rest[i])) {
                ++i;
            }
            if (i > 0) {
                rest.remove_prefix(i);
                if (!rest.empty() && rest[0] == ':') {
                    rest.remove_prefix(1);
                }
                msg = trim_left(rest);
            }
        }
    }
    return msg;
}

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

const std::vector<std::string_view> &lockdep_headers() {
    static const std::vector<std::string_view> headers = {
        "WARNING: possible recursive locking detected",
        "WARNING: inconsistent lock state",
        "WARNING: possible circular locking dependency detected",
        "WARNING: suspicious RCU usage",
        "WARNING: possible irq lock inversion dependency detected",
        "WARNING: bad unlock balance detected!",
        "WARNING: held lock freed!",
        "WARNING: lock held when returning to user space!",
        "WARNING: Nested lock was not taken",
        "WARNING: bad contention detected!",
        "WARNING: held lock freed",
        "INFO: trying to register non-static key",
    };
    return headers;
}

bool is_lock_order_header(std::string_view msg) {
    // "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected" and friends.
    return msg.starts_with("WARNING: ") && contains(msg, "lock order detected");
}

bool preceded_by_vm_dump(const std::vector<std::string> &previous, std::size_t index) {
    const std::size_t limit = std::min(index, previous.size());
    for (std::size_t k = 1; k <= std::min(limit, vm_bug_lookback); ++k) {
        const std::string_view msg = header_message(previous[limit - k]);
        if (msg.starts_with("page dumped because:") || contains(msg, "VM_BUG_ON")) {
            return true;
        }
    }
    return false;
}

std::string classify_message(std::string_view msg, const std::vector<std::string> &previous,
                             std::size_t index) {
    if (msg.empty() || msg[0] == '#' || msg.starts_with("ok ") || msg.starts_with("not ok ")) {
        return {};
    }
    if (msg.starts_with("FAULT_INJECTION:")) {
        return {}; // an injected failure's stack dump is expected, not a splat
    }
    if (msg.starts_with("BUG: KASAN:")) {
        return "kasan";
    }
    if (contains(msg, "Bad page state")) {
        return "bad_page";
    }
    if (msg.starts_with("kernel BUG at ")) {
        if (contains(msg, "page_table_check.c")) {
            return "page_table_check";
        }
        if (preceded_by_vm_dump(previous, index)) {
            return "debug_vm";
        }
        return "bug";
    }
    if (msg.starts_with("BUG: soft lockup") || contains(msg, "soft lockup - CPU#")) {
        return "soft_lockup";
    }
    if (contains(msg, "Watchdog detected hard LOCKUP")) {
        return "hard_lockup";
    }
    if (msg.starts_with("BUG: ")) {
        return "bug";
    }
    if (msg.starts_with("WARNING: CPU: ")) {
        return "warning";
    }
    const auto &lockdep = lockdep_headers();
    if (std::any_of(lockdep.begin(), lockdep.end(),
                    [msg](std::string_view h) { return msg.starts_with(h); }) ||
        is_lock_order_header(msg) || contains(msg, "DEBUG_LOCKS_WARN_ON")) {
        return "lockdep";
    }
    if (msg.starts_with("Internal error: ") || msg.starts_with("Unable to handle kernel ")) {
        return "oops";
    }
    if (msg.starts_with("Kernel panic - not syncing")) {
        return "panic";
    }
    if (msg.starts_with("page dumped because:")) {
        return "debug_vm";
    }
    if (msg.starts_with("kmemleak: ") && contains(msg, "new suspected memory leak")) {
        return "kmemleak";
    }
    if (msg.starts_with("unreferenced object 0x")) {
        return "kmemleak";
    }
    if (msg.starts_with("UBSAN:")) {
        return "ubsan";
    }
    if (contains(msg, "self-detected stall on CPU") ||
        ((msg.starts_with("rcu: INFO: rcu_") || msg.starts_with("INFO: rcu_")) &&
         contains(msg, "detected stall"))) {
        return "rcu_stall";
    }
    if (msg.starts_with("INFO: task ")) {
        static const std::regex hung(R"(^INFO: task .*:\d+ blocked for more than \d+ seconds)");
        if (std::regex_search(msg.begin(), msg.end(), hung)) {
            return "hung_task";
        }
    }
    if (contains(msg, "list_add corruption") || contains(msg, "list_del corruption")) {
        return "list_corruption";
    }
    if (msg.starts_with("refcount_t: ")) {
        return "refcount";
    }
    if (contains(msg, "page allocation failure: order:")) {
        return "alloc_failure";
    }
    return {};
}

/// Kinds a block absorbs instead of starting a new splat: the same kind, plus the follow-up
/// reports the kernel prints as part of one event (BUG() -> "Internal error: Oops - BUG",
/// list corruption -> WARNING, bad page -> "page dumped because:").
bool absorbs(const std::string &block_kind, const std::string &kind) {
    if (kind == "panic") {
        return false; // a panic after an Oops is its own splat
    }
    return kind == block_kind || kind == "oops" || kind == "warning" || kind == "debug_vm";
}

bool is_rule_line(std::string_view msg) {
    return msg.size() >= 20 && std::all_of(msg.begin(), msg.end(), [](char c) { return c == '='; });
}

/// A stack-trace line: " func+0x1c/0x30", " 0xffff800008...", "<IRQ>", "Code: ...", and the
/// lockdep irq-trace lines a WARN prints after its call trace.
bool is_trace_line(std::string_view stripped) {
    const std::string_view t = trim(stripped);
    if (t == "<IRQ>" || t == "</IRQ>" || t == "<TASK>" || t == "</TASK>" ||
        t.starts_with("Code: ") || t.starts_with("irq event stamp:") ||
        t.starts_with("hardirqs last") || t.starts_with("softirqs last")) {
        return true;
    }
    if (stripped.empty() || (stripped[0] != ' ' && stripped[0] != '\t')) {
        return false;
    }
    return contains(t, "+0x") || t.starts_with("0x") || t.starts_with("[<");
}

struct OpenBlock {
    std::size_t splat = 0;
    std::size_t start = 0;
    std::string kind;
    bool in_call_trace = false;
    bool seen_frame = false;
};

enum class BlockStep { Continue, EndBefore, EndAfter };

/// Does line i continue the open block, end it (line excluded) or end it (line included)?
BlockStep next_step(const OpenBlock &open, const std::vector<std::string> &lines, std::size_t i,
                    std::string_view stripped, std::string_view msg) {
    if (is_ktap_result(msg) || i - open.start + 1 > max_block_lines) {
        return BlockStep::EndBefore;
    }
    if (contains(msg, "---[ end trace") || contains(msg, "---[ end Kernel panic") ||
        ((open.kind == "kasan" || open.kind == "ubsan") && is_rule_line(msg))) {
        return BlockStep::EndAfter;
    }
    if (open.kind != "panic" && open.kind != "kasan" && open.seen_frame &&
        !is_trace_line(stripped)) {
        return BlockStep::EndBefore; // the call trace is over
    }
    const std::string kind = classify_message(msg, lines, i);
    if (!kind.empty() && !absorbs(open.kind, kind)) {
        return BlockStep::EndBefore; // a new report starts here
    }
    return BlockStep::Continue;
}

} // namespace

const std::vector<std::string> &splat_kinds() {
    static const std::vector<std::string> kinds = {
        "alloc_failure",   "bad_page",  "bug",      "debug_vm",
        "hard_lockup",     "hung_task", "kasan",    "kmemleak",
        "list_corruption", "lockdep",   "oops",     "page_table_check",
        "panic",           "rcu_stall", "refcount", "soft_lockup",
        "ubsan",           "warning",
    };
    return kinds;
}

std::string classify_splat_header(std::string_view line, const std::vector<std::string> &previous,
                                  std::size_t index) {
    return classify_message(header_message(line), previous, index);
}

std::vector<Splat> find_splats(const std::vector<std::string> &lines) {
    std::vector<Splat> splats;
    std::optional<OpenBlock> open;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string_view raw = lines[i];
        while (!raw.empty() && raw.back() == '\r') {
            raw.remove_suffix(1);
        }
        const std::string_view stripped = strip_console_prefix(raw);
        const std::string_view msg = header_message(raw);

        if (open) {
            const BlockStep step = next_step(*open, lines, i, stripped, msg);
            const bool end_before = step == BlockStep::EndBefore;
            const bool end_after = step == BlockStep::EndAfter;
            if (!end_before) {
                splats[open->splat].excerpt.emplace_back(raw);
                if (msg == "Call trace:" || msg == "Call Trace:") {
                    open->in_call_trace = true;
                } else if (open->in_call_trace && is_trace_line(stripped)) {
                    open->seen_frame = true;
                }
                if (end_after) {
                    open.reset();
                }
                continue;
            }
            open.reset();
        }

        std::string kind = classify_message(msg, lines, i);
        if (kind.empty()) {
            continue;
        }
        Splat splat{kind, i + 1, std::string(msg), {std::string(raw)}, ""};
        splats.push_back(std::move(splat));
        open = OpenBlock{splats.size() - 1, i, kind, false, false};
    }
    return splats;
}

} // namespace ptlab
