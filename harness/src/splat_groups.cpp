#include "ptlab/splat_groups.hpp"

#include "ptlab/lines.hpp"

#include <cctype>
#include <cstdio>
#include <map>

namespace ptlab {

namespace {

bool is_hex_digit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Runs of digits (and hex words that hold one, as addresses do) become '#'.
std::string mask_numbers(std::string_view s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t j = i;
        bool digit = false;
        while (j < s.size() && (is_hex_digit(s[j]) || s[j] == 'x')) {
            digit = digit || std::isdigit(static_cast<unsigned char>(s[j])) != 0;
            ++j;
        }
        const bool word_start = i == 0 || std::isalnum(static_cast<unsigned char>(s[i - 1])) == 0;
        const bool word_end = j == s.size() || std::isalnum(static_cast<unsigned char>(s[j])) == 0;
        if (j > i && digit && word_start && word_end) {
            out += '#';
            i = j;
        } else {
            out += s[i];
            ++i;
        }
    }
    return out;
}

std::string word_after(std::string_view text, std::string_view key) {
    const auto at = text.find(key);
    if (at == std::string_view::npos) {
        return {};
    }
    std::string_view rest = text.substr(at + key.size());
    const auto end = rest.find_first_of(" \t");
    return std::string(rest.substr(0, end));
}

} // namespace

std::string splat_signature(const Splat &splat) {
    std::string_view message = splat.first_line;
    std::string masked;
    constexpr std::string_view in_process = "in process ";
    if (const auto at = message.find(in_process); at != std::string_view::npos) {
        const auto name = at + in_process.size();
        const auto end = message.find_first_of(" \t", name);
        masked = std::string(message.substr(0, name)) + "#" +
                 std::string(end == std::string_view::npos ? "" : message.substr(end));
        message = masked;
    }
    return splat.kind + ": " + mask_numbers(message);
}

std::optional<double> console_time(std::string_view raw) {
    bool had = false;
    const std::string_view rest = strip_console_prefix(raw, &had);
    if (!had) {
        return std::nullopt;
    }
    const auto open = raw.find('[');
    const auto close = raw.find(']', open);
    if (open == std::string_view::npos || close == std::string_view::npos ||
        close > raw.size() - rest.size()) {
        return std::nullopt;
    }
    try {
        return std::stod(std::string(raw.substr(open + 1, close - open - 1)));
    } catch (const std::exception &) {
        return std::nullopt;
    }
}

std::string splat_process(const Splat &splat) {
    if (std::string p = word_after(splat.first_line, "in process "); !p.empty()) {
        return p;
    }
    for (const auto &line : splat.excerpt) {
        if (std::string p = word_after(line, " Comm: "); !p.empty()) {
            return p;
        }
    }
    return {};
}

std::vector<SplatGroup> group_splats(const std::vector<Splat> &splats) {
    std::vector<SplatGroup> groups;
    std::map<std::string, std::size_t> index;
    for (const auto &splat : splats) {
        const auto time = splat.excerpt.empty() ? std::nullopt : console_time(splat.excerpt[0]);
        const auto [it, fresh] = index.emplace(splat_signature(splat), groups.size());
        if (fresh) {
            groups.push_back({splat, 0, time, time, splat_process(splat)});
        }
        SplatGroup &g = groups[it->second];
        ++g.count;
        if (time) {
            g.first_time = g.first_time ? g.first_time : time;
            g.last_time = time;
        }
    }
    return groups;
}

std::string group_heading(const SplatGroup &group) {
    const Splat &s = group.first;
    std::string text =
        "[" + s.kind + "] line " + std::to_string(s.line_number) + ": " + s.first_line;
    if (group.count > 1) {
        text += " x" + std::to_string(group.count);
        if (group.first_time && group.last_time) {
            text +=
                ", " + seconds_text(*group.first_time) + " to " + seconds_text(*group.last_time);
        }
        if (!group.first_process.empty()) {
            text += ", first in " + group.first_process;
        }
    }
    return text + (s.expected.empty() ? "" : " (" + s.expected + ")");
}

std::vector<std::string> splat_shown_lines(const Splat &splat, std::size_t max_lines) {
    const auto &lines = splat.excerpt;
    std::size_t trace = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view msg = trim(strip_console_prefix(lines[i]));
        if (msg == "Call trace:" || msg == "Call Trace:") {
            trace = i;
            break;
        }
    }
    // The header and what explains it (page dump, lock chains) as far as the trace leaves
    // room; then the trace.
    const std::size_t trace_lines = lines.size() - trace;
    const std::size_t head = std::min(
        trace, std::max<std::size_t>(1, max_lines > trace_lines ? max_lines - trace_lines : 1));
    std::vector<std::string> out(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(head));
    if (head < trace && trace < lines.size()) {
        out.push_back("... (" + std::to_string(trace - head) + " lines before the call trace)");
    }
    const std::size_t shown_trace = std::min(trace_lines, max_lines > head ? max_lines - head : 0);
    out.insert(out.end(), lines.begin() + static_cast<std::ptrdiff_t>(trace),
               lines.begin() + static_cast<std::ptrdiff_t>(trace + shown_trace));
    if (trace + shown_trace < lines.size() && trace < lines.size()) {
        out.push_back("... (" + std::to_string(lines.size() - trace - shown_trace) +
                      " more lines)");
    } else if (trace == lines.size() && head < lines.size()) {
        out.push_back("... (" + std::to_string(lines.size() - head) + " more lines)");
    }
    return out;
}

} // namespace ptlab
