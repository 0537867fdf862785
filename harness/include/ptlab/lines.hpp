// Line handling shared by all parsers: splitting, console prefix stripping, trimming.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

/// Split text into lines; "\r\n" and "\n" both end a line, a trailing newline adds no line.
std::vector<std::string> split_lines(std::string_view text);

/// Read a whole file; throws std::runtime_error when it cannot be read.
std::string read_text_file(const std::filesystem::path &path);

/// read_text_file() + split_lines().
std::vector<std::string> read_lines(const std::filesystem::path &path);

std::string_view trim_left(std::string_view s);
std::string_view trim_right(std::string_view s);
std::string_view trim(std::string_view s);

/// Remove what the console puts before a printk message: trailing CR, an optional syslog
/// level "<6>", a timestamp "[   12.345678] " and an optional caller id "[    T1] ".
/// Indentation after the prefix is kept. *had_timestamp tells whether a timestamp was removed.
std::string_view strip_console_prefix(std::string_view line, bool *had_timestamp = nullptr);

/// A console log in which every printk record starts a line of its own.
struct ConsoleLines {
    std::vector<std::string> lines;
    std::vector<std::size_t> source_line; ///< 1-based line of the file each line came from
};

/// The serial console interleaves the kernel's records with user space's output at any
/// byte: "    KTAP version 1[    3.760534] Kernel panic - not syncing: ...". Split such
/// lines before each printk timestamp ("[%5lu.%06lu]") that does not begin the line.
ConsoleLines untangle_console(const std::vector<std::string> &raw);

/// The words with sep between them: "boot audit", "boot,audit".
std::string join_words(const std::vector<std::string> &words, std::string_view sep);

/// Some line of text matches pattern (ECMAScript; '^' and '$' are the line's ends).
bool has_matching_line(std::string_view text, const std::string &pattern);

/// "96.8 s": a time or duration in seconds to a tenth (console times, durations compared).
std::string seconds_text(double seconds);

/// s with spaces after it up to width (as it is when longer): a table's column.
std::string pad_right(const std::string &s, std::size_t width);

/// Number of columns of leading whitespace (tabs advance to the next multiple of 8).
int indentation_of(std::string_view s);

/// True for "ok <n>..." / "not ok <n>..." (no leading whitespace expected).
bool is_ktap_result(std::string_view trimmed);

/// Replace invalid UTF-8 sequences by U+FFFD so the text can go into JSON or XML.
std::string sanitize_utf8(std::string_view s);

} // namespace ptlab
