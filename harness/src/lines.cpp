#include "ptlab/lines.hpp"

#include <cstdio>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace ptlab {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "[   12.345678]" -> true and advances past ']'.
bool consume_timestamp(std::string_view &s) {
    if (s.empty() || s[0] != '[') {
        return false;
    }
    std::size_t i = 1;
    while (i < s.size() && s[i] == ' ') {
        ++i;
    }
    const std::size_t int_start = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    if (i == int_start || i >= s.size() || s[i] != '.') {
        return false;
    }
    ++i;
    const std::size_t frac_start = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    if (i == frac_start || i >= s.size() || s[i] != ']') {
        return false;
    }
    s.remove_prefix(i + 1);
    return true;
}

// "[    T1]" / "[  C0]" (CONFIG_PRINTK_CALLER).
bool consume_caller_id(std::string_view &s) {
    if (s.empty() || s[0] != '[') {
        return false;
    }
    std::size_t i = 1;
    while (i < s.size() && s[i] == ' ') {
        ++i;
    }
    if (i >= s.size() || (s[i] != 'T' && s[i] != 'C')) {
        return false;
    }
    ++i;
    const std::size_t digits = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    if (i == digits || i >= s.size() || s[i] != ']') {
        return false;
    }
    s.remove_prefix(i + 1);
    return true;
}

// Where a printk timestamp "[    3.760534]" starts in s at or after from, or npos. The
// kernel pads the seconds to five columns and prints six digits of microseconds, which
// keeps user space's own brackets from looking like one.
std::size_t find_printk_timestamp(std::string_view s, std::size_t from) {
    for (std::size_t at = s.find('[', from); at != std::string_view::npos;
         at = s.find('[', at + 1)) {
        std::string_view rest = s.substr(at);
        if (!consume_timestamp(rest)) {
            continue;
        }
        // Between the brackets: "    3.760534".
        const std::string_view stamp = s.substr(at + 1, s.size() - rest.size() - at - 2);
        const std::size_t dot = stamp.find('.');
        if (dot >= 5 && stamp.size() - dot - 1 == 6) {
            return at;
        }
    }
    return std::string_view::npos;
}

} // namespace

ConsoleLines untangle_console(const std::vector<std::string> &raw) {
    ConsoleLines out;
    out.lines.reserve(raw.size());
    out.source_line.reserve(raw.size());
    for (std::size_t n = 0; n < raw.size(); ++n) {
        const std::string_view line = raw[n];
        std::size_t start = 0;
        for (std::size_t at = find_printk_timestamp(line, 1); at != std::string_view::npos;
             at = find_printk_timestamp(line, at + 1)) {
            out.lines.emplace_back(line.substr(start, at - start));
            out.source_line.push_back(n + 1);
            start = at;
        }
        out.lines.emplace_back(line.substr(start));
        out.source_line.push_back(n + 1);
    }
    return out;
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        lines.emplace_back(line);
        start = end + 1;
    }
    return lines;
}

std::string read_text_file(const std::filesystem::path &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
        throw std::runtime_error("error reading " + path.string());
    }
    return buffer.str();
}

std::vector<std::string> read_lines(const std::filesystem::path &path) {
    return split_lines(read_text_file(path));
}

std::string_view trim_left(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    return s;
}

std::string_view trim_right(std::string_view s) {
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

std::string_view trim(std::string_view s) { return trim_left(trim_right(s)); }

std::string_view strip_console_prefix(std::string_view line, bool *had_timestamp) {
    if (had_timestamp != nullptr) {
        *had_timestamp = false;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
        line.remove_suffix(1);
    }
    std::string_view s = line;
    // Syslog level as in /dev/kmsg dumps: "<6>".
    if (s.size() >= 3 && s[0] == '<') {
        std::size_t i = 1;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        if (i > 1 && i < s.size() && s[i] == '>') {
            s.remove_prefix(i + 1);
        }
    }
    std::string_view rest = s;
    if (consume_timestamp(rest)) {
        if (had_timestamp != nullptr) {
            *had_timestamp = true;
        }
        consume_caller_id(rest);
        if (!rest.empty() && rest[0] == ' ') {
            rest.remove_prefix(1);
        }
        return rest;
    }
    return s;
}

int indentation_of(std::string_view s) {
    int col = 0;
    for (const char c : s) {
        if (c == ' ') {
            ++col;
        } else if (c == '\t') {
            col += 8 - (col % 8);
        } else {
            break;
        }
    }
    return col;
}

bool is_ktap_result(std::string_view s) {
    if (s.starts_with("not ok ")) {
        s.remove_prefix(7);
    } else if (s.starts_with("ok ")) {
        s.remove_prefix(3);
    } else {
        return false;
    }
    return !s.empty() && is_digit(s[0]);
}

std::string sanitize_utf8(std::string_view s) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        unsigned min = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        if ((c & 0xE0U) == 0xC0U) {
            len = 2;
            cp = c & 0x1FU;
            min = 0x80;
        } else if ((c & 0xF0U) == 0xE0U) {
            len = 3;
            cp = c & 0x0FU;
            min = 0x800;
        } else if ((c & 0xF8U) == 0xF0U) {
            len = 4;
            cp = c & 0x07U;
            min = 0x10000;
        } else {
            out += replacement;
            ++i;
            continue;
        }
        bool valid = i + len <= s.size();
        for (std::size_t k = 1; valid && k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0U) != 0x80U) {
                valid = false;
            } else {
                cp = (cp << 6U) | (cc & 0x3FU);
            }
        }
        if (valid && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
            valid = false;
        }
        if (valid) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += replacement;
            ++i;
        }
    }
    return out;
}

std::string seconds_text(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    return buf;
}

std::string pad_right(const std::string &s, std::size_t width) {
    return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string join_words(const std::vector<std::string> &words, std::string_view sep) {
    std::string out;
    for (const auto &word : words) {
        if (!out.empty()) {
            out += sep;
        }
        out += word;
    }
    return out;
}

bool has_matching_line(std::string_view text, const std::string &pattern) {
    const std::regex re(pattern);
    const auto lines = split_lines(text);
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string &line) { return std::regex_search(line, re); });
}

} // namespace ptlab
