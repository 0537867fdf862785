#include "procfs.hpp"

#include <cstdio>

#include <sys/klog.h>

#include "common.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace ptlab {

std::optional<std::string> try_read_file(const std::string &path, int *err) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (err != nullptr) {
            *err = errno;
        }
        return std::nullopt;
    }
    std::string out;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (err != nullptr) {
                *err = errno;
            }
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::optional<std::string> read_file_patiently(const std::string &path, int *err) {
    int e = 0;
    for (int i = 0; i < 2000; ++i) {
        e = 0;
        auto s = try_read_file(path, &e);
        if (s || !(is_expected_errno(e) || is_injected_procfs_enoent(e, path))) {
            if (err != nullptr) {
                *err = e;
            }
            return s;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (err != nullptr) {
        *err = e;
    }
    return std::nullopt;
}

std::uint64_t read_u64_file(const std::string &path) {
    const auto s = read_file_patiently(path);
    if (!s) {
        return 0;
    }
    try {
        return std::stoull(trim(*s));
    } catch (const std::exception &) {
        return 0;
    }
}

std::string read_file(const std::string &path) {
    int err = 0;
    auto s = try_read_file(path, &err);
    if (!s) {
        throw SysError("read " + path, err);
    }
    return std::move(*s);
}

void write_file(const std::string &path, std::string_view text) {
    const Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) {
        throw SysError("open " + path + " for writing", errno);
    }
    const ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n < 0) {
        throw SysError("write '" + std::string(text) + "' to " + path, errno);
    }
}

std::string read_kernel_log() {
    const int size = ::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0);
    if (size <= 0) {
        return {};
    }
    std::string text(static_cast<std::size_t>(size), '\0');
    const int got = ::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, text.data(), size);
    text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return text;
}

std::string running_kernel_config() {
    std::string out;
    if (FILE *pipe = ::popen("zcat /proc/config.gz 2>/dev/null", "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) {
            out.append(buf, n);
        }
        ::pclose(pipe);
    }
    return out;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        lines.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) {
            break;
        }
        text.remove_prefix(nl + 1);
    }
    return lines;
}

std::string_view skip_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    return s;
}

template <typename T> bool parse_number(std::string_view s, T &out, int base = 10) {
    const auto *end = s.data() + s.size();
    const auto r = std::from_chars(s.data(), end, out, base);
    return r.ec == std::errc() && r.ptr == end;
}

// "Key:   123 kB" -> key, 123. False when the line is not of that form.
bool parse_key_value(std::string_view line, std::string_view &key, std::uint64_t &value,
                     bool &is_kb) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return false;
    }
    key = line.substr(0, colon);
    std::string_view rest = skip_spaces(line.substr(colon + 1));
    const auto sp = rest.find(' ');
    const std::string_view num = rest.substr(0, sp);
    if (!parse_number(num, value)) {
        return false;
    }
    is_kb = sp != std::string_view::npos && skip_spaces(rest.substr(sp)) == "kB";
    return true;
}

bool is_smaps_header(std::string_view line) {
    // "start-end perms ..." starts with a hex digit and has a '-' before the first space.
    const auto sp = line.find(' ');
    const auto dash = line.find('-');
    return !line.empty() && std::isxdigit(static_cast<unsigned char>(line.front())) != 0 &&
           dash != std::string_view::npos && sp != std::string_view::npos && dash < sp;
}

} // namespace

Meminfo parse_meminfo(std::string_view text) {
    Meminfo m;
    for (const auto line : split_lines(text)) {
        std::string_view key;
        std::uint64_t v = 0;
        bool kb = false;
        if (parse_key_value(line, key, v, kb)) {
            m.emplace(std::string(key), v);
        }
    }
    return m;
}

void refresh_vm_stats() {
    try {
        write_file("/proc/sys/vm/stat_refresh", "1");
    } catch (const std::exception &) {
        // Not root, or no procfs sysctl: the counters settle within a second anyway.
    }
}

Meminfo read_meminfo() {
    int err = 0;
    const auto text = read_file_patiently("/proc/meminfo", &err);
    if (!text) {
        throw SysError("read /proc/meminfo", err);
    }
    return parse_meminfo(*text);
}

std::uint64_t SmapsEntry::field(std::string_view key) const {
    const auto it = kb.find(key);
    return it == kb.end() ? 0 : it->second;
}

bool SmapsEntry::has_flag(std::string_view flag) const {
    for (const auto &f : vm_flags) {
        if (f == flag) {
            return true;
        }
    }
    return false;
}

std::vector<SmapsEntry> parse_smaps(std::string_view text) {
    std::vector<SmapsEntry> out;
    for (const auto line : split_lines(text)) {
        if (line.empty()) {
            continue;
        }
        if (is_smaps_header(line)) {
            SmapsEntry e;
            // start-end perms offset dev inode [name]
            std::string_view rest = line;
            auto take = [&rest]() {
                rest = skip_spaces(rest);
                const auto sp = rest.find(' ');
                const std::string_view tok = rest.substr(0, sp);
                rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp);
                return tok;
            };
            const std::string_view range = take();
            const auto dash = range.find('-');
            if (!parse_number(range.substr(0, dash), e.start, 16) ||
                !parse_number(range.substr(dash + 1), e.end, 16) || e.end < e.start) {
                throw std::runtime_error("smaps: bad address range in '" + std::string(line) + "'");
            }
            e.perms = std::string(take());
            if (!parse_number(take(), e.offset, 16)) {
                throw std::runtime_error("smaps: bad offset in '" + std::string(line) + "'");
            }
            take(); // device
            take(); // inode
            e.name = trim(rest);
            out.push_back(std::move(e));
            continue;
        }
        if (out.empty()) {
            throw std::runtime_error("smaps: field before the first mapping: '" +
                                     std::string(line) + "'");
        }
        SmapsEntry &e = out.back();
        if (line.starts_with("VmFlags:")) {
            std::string_view flags = line.substr(8);
            for (;;) {
                flags = skip_spaces(flags);
                if (flags.empty()) {
                    break;
                }
                const auto sp = flags.find(' ');
                e.vm_flags.emplace_back(flags.substr(0, sp));
                if (sp == std::string_view::npos) {
                    break;
                }
                flags.remove_prefix(sp);
            }
            continue;
        }
        std::string_view key;
        std::uint64_t v = 0;
        bool kb = false;
        if (parse_key_value(line, key, v, kb)) {
            if (key == "THPeligible") {
                e.thp_eligible = static_cast<int>(v);
            } else if (kb) {
                e.kb.emplace(std::string(key), v);
            }
        }
    }
    return out;
}

std::uint64_t smaps_sum(const std::vector<SmapsEntry> &entries, std::string_view field,
                        std::uint64_t start, std::uint64_t end) {
    std::uint64_t sum = 0;
    for (const auto &e : entries) {
        if (e.end > start && e.start < end) {
            sum += e.field(field);
        }
    }
    return sum;
}

std::uint64_t page_table_pages_bound(const std::vector<SmapsEntry> &entries,
                                     std::uint64_t page_size) {
    const std::uint64_t per_table = page_size / 8;
    std::uint64_t span = page_size * per_table; // what one PTE table maps
    std::uint64_t pages = 0;
    for (int level = 0; level < 3 && span != 0; ++level) {
        std::uint64_t last = UINT64_MAX; // last span counted (entries are sorted by address)
        for (const auto &e : entries) {
            if (e.end <= e.start) {
                continue;
            }
            std::uint64_t first = e.start / span;
            const std::uint64_t final = (e.end - 1) / span;
            if (first == last) {
                ++first;
            }
            if (first <= final) {
                pages += final - first + 1;
                last = final;
            }
        }
        span = span > UINT64_MAX / per_table ? 0 : span * per_table;
    }
    return pages;
}

std::string smaps_entry_problem(const SmapsEntry &e, std::uint64_t pmd_kb) {
    const std::uint64_t size = e.field("Size");
    const std::uint64_t rss = e.field("Rss");
    const std::uint64_t ahp = e.field("AnonHugePages");
    const std::uint64_t shp = e.field("ShmemPmdMapped");
    const std::string where = hex(e.start) + "-" + hex(e.end);
    if (size * 1024 != e.end - e.start) {
        return where + ": Size " + std::to_string(size) + " kB does not match the range";
    }
    if (rss > size) {
        return where + ": Rss " + std::to_string(rss) + " kB > Size " + std::to_string(size) +
               " kB";
    }
    if (ahp > rss || shp > rss) {
        return where + ": AnonHugePages " + std::to_string(ahp) + " kB / ShmemPmdMapped " +
               std::to_string(shp) + " kB > Rss " + std::to_string(rss) + " kB";
    }
    if (pmd_kb != 0 && (ahp % pmd_kb != 0 || shp % pmd_kb != 0)) {
        return where + ": AnonHugePages " + std::to_string(ahp) + " kB / ShmemPmdMapped " +
               std::to_string(shp) + " kB not a multiple of the PMD size " +
               std::to_string(pmd_kb) + " kB";
    }
    return {};
}

std::string sysfs_choice(std::string_view text) {
    const auto open = text.find('[');
    const auto close = text.find(']');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
        return std::string(text.substr(open + 1, close - open - 1));
    }
    return trim(text);
}

bool SettingOverride::set(const std::string &path, const std::string &value, std::string *error) {
    restore();
    int err = 0;
    auto old = read_file_patiently(path, &err);
    if (!old) {
        if (error != nullptr) {
            *error = "read " + path + ": " + errno_text(err);
        }
        return false;
    }
    try {
        write_file(path, value);
    } catch (const SysError &e) {
        if (error != nullptr) {
            *error = e.what();
        }
        return false;
    }
    path_ = path;
    old_ = sysfs_choice(*old);
    active_ = true;
    return true;
}

bool SettingOverride::restore(std::string *error) {
    if (!active_) {
        return true;
    }
    active_ = false;
    try {
        write_file(path_, old_);
    } catch (const SysError &e) {
        if (error != nullptr) {
            *error = e.what();
        }
        return false;
    }
    return true;
}

} // namespace ptlab
