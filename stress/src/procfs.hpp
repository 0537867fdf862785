// Parsers for /proc/meminfo and /proc/<pid>/smaps, and small file helpers for procfs/sysfs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

// Reads a whole file (procfs files have no size): throws SysError.
std::string read_file(const std::string &path);
// Like read_file, but nullopt (and errno in *err) instead of throwing.
std::optional<std::string> try_read_file(const std::string &path, int *err = nullptr);
// try_read_file, retried while it fails with an expected errno (fault injection), ~2 s at most.
std::optional<std::string> read_file_patiently(const std::string &path, int *err = nullptr);
// Writes text to a file in one write(); throws SysError.
void write_file(const std::string &path, std::string_view text);
// The unsigned number a sysfs/procfs file holds (read patiently), 0 when unreadable or no number.
std::uint64_t read_u64_file(const std::string &path);
std::string trim(std::string_view s);
// The kernel log, as dmesg prints it (klogctl), or empty.
std::string read_kernel_log();
// The running kernel's .config (/proc/config.gz through zcat), or empty.
std::string running_kernel_config();

// /proc/meminfo: "Name:   value kB" -> {Name, value}. Values are in kB where the file says
// kB (and plain counts otherwise, e.g. HugePages_Total).
using Meminfo = std::map<std::string, std::uint64_t, std::less<>>;
Meminfo parse_meminfo(std::string_view text);
Meminfo read_meminfo(); // /proc/meminfo

// Folds every CPU's pending vmstat deltas into the global counters (/proc/sys/vm/stat_refresh,
// root only; silently nothing otherwise). PageTables and SecPageTables are per-CPU batched: a
// reading can be off by stat_threshold pages per CPU, 64 kB each on 64K pages, until the next
// vmstat_update() a second later.
void refresh_vm_stats();

struct SmapsEntry {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::string perms; // "rw-p"
    std::uint64_t offset = 0;
    std::string name;                                     // path, "[heap]", or empty
    std::map<std::string, std::uint64_t, std::less<>> kb; // "Rss" -> kB, ... (all "X: n kB")
    std::optional<int> thp_eligible;                      // "THPeligible:" when present
    std::vector<std::string> vm_flags;

    [[nodiscard]] std::uint64_t field(std::string_view key) const; // 0 when absent
    [[nodiscard]] bool has_flag(std::string_view flag) const;
};

// Throws std::runtime_error on a malformed header line.
std::vector<SmapsEntry> parse_smaps(std::string_view text);

// Sum of one field over the entries that overlap [start, end).
std::uint64_t smaps_sum(const std::vector<SmapsEntry> &entries, std::string_view field,
                        std::uint64_t start = 0, std::uint64_t end = UINT64_MAX);

// How many page-table pages the mappings could need at most below the top level: one table
// per distinct table-sized span the VMAs touch at each level (a PTE table spans page_size *
// page_size / 8 bytes, the next level 512 or 8192 times that, ...), three levels. Folded levels
// make it an overestimate, which is what a leak tolerance wants: table pages that the
// process's own mappings explain.
std::uint64_t page_table_pages_bound(const std::vector<SmapsEntry> &entries,
                                     std::uint64_t page_size);

// Consistency of one entry: AnonHugePages <= Rss <= Size, huge page counters multiples of the
// PMD huge page size. Returns a description of the first violation, or empty.
std::string smaps_entry_problem(const SmapsEntry &e, std::uint64_t pmd_kb);

// The bracketed choice in a sysfs "a [b] c" file ("madvise"), or the trimmed text.
std::string sysfs_choice(std::string_view text);

// Sets a sysfs/procfs value for the lifetime of the object and restores the old value.
class SettingOverride {
public:
    SettingOverride() = default;
    // Returns false (and keeps nothing to restore) when the file cannot be read or written.
    bool set(const std::string &path, const std::string &value, std::string *error = nullptr);
    SettingOverride(const SettingOverride &) = delete;
    SettingOverride &operator=(const SettingOverride &) = delete;
    ~SettingOverride() { restore(); }
    // Returns false when the old value could not be written back.
    bool restore(std::string *error = nullptr);
    [[nodiscard]] const std::string &old_value() const { return old_; }

private:
    std::string path_;
    std::string old_;
    bool active_ = false;
};

} // namespace ptlab
