// The host-testable parts of `ptlab-stress bench`: page-table geometry and the layouts of the
// faulting threads, the /proc/lock_stat and /proc/vmstat parsers, statistics of repetitions.
//
// Geometry: a table of any level is one page of 8-byte entries. A PTE table maps `pmd` bytes
// (2 MiB on 4K pages, 512 MiB on 64K); a PMD table maps entries * pmd (1 GiB on 4K, 4 TiB on
// 64K). With the split PMD lock a PMD huge-page fault takes the lock of the PMD table its PMD
// lives in; without it, the mm's page_table_lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptlab::bench {

struct Geometry {
    std::uint64_t page = 0; // base page size
    std::uint64_t pmd = 0;  // PMD huge page size (hpage_pmd_size)

    [[nodiscard]] std::uint64_t entries_per_table() const { return page / 8; }
    [[nodiscard]] std::uint64_t pte_table_span() const { return pmd; }
    [[nodiscard]] std::uint64_t pmd_table_span() const { return pmd * entries_per_table(); }
    // Geometry of a kernel with this base page size (PMD = entries * page).
    static Geometry for_page_size(std::uint64_t page);
};

enum class Level { Pmd, Pte };          // where a fault installs its entry: THP or a 4K/64K page
enum class Sharing { Private, Shared }; // one table per thread, or one table for all
enum class Access { Write, Read };      // read faults of THP memory map the huge zero page

struct LayoutName {
    Level level = Level::Pmd;
    Sharing sharing = Sharing::Private;
    [[nodiscard]] std::string str() const; // "thp-private", "pte-shared", ...
};
std::optional<LayoutName> parse_layout(std::string_view s);
std::optional<Access> parse_access(std::string_view s);
std::string access_name(Access a);
// The layouts in their canonical order.
std::vector<LayoutName> all_layouts();

// Pages faulted per madvise(MADV_DONTNEED) chunk at the PTE level; the same in both sharings.
constexpr std::uint64_t kPteChunkPages = 16;

// Where T threads fault. Offsets are from the start of a reservation aligned to
// pmd_table_span(), so a private thread's region starts a PMD table of its own and the shared
// layout lives in the first PMD table.
//   private: thread t's chunk k at t * pmd_table_span + k * chunk
//   shared:  thread t's chunk k at (k * T + t) * chunk (chunks dealt out round-robin)
struct Layout {
    LayoutName name;
    Geometry geo;
    unsigned threads = 1;
    std::uint64_t granule = 0; // bytes one fault maps: pmd (THP) or page
    std::uint64_t chunk = 0;   // bytes per MADV_DONTNEED: one PMD, or kPteChunkPages pages
    std::uint64_t chunks_per_thread = 0;

    [[nodiscard]] std::uint64_t faults_per_chunk() const { return chunk / granule; }
    [[nodiscard]] std::uint64_t offset(unsigned thread, std::uint64_t k) const;
    // Length of the reservation (a multiple of pmd_table_span()).
    [[nodiscard]] std::uint64_t reservation() const;
    // The [start, end) ranges that must be mapped read-write, merged, sorted.
    [[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint64_t>> used_ranges() const;
    // Bytes of memory in use when every chunk of every thread is faulted in.
    [[nodiscard]] std::uint64_t footprint() const { return chunk * chunks_per_thread * threads; }
    // Which PMD table (at the level where a THP fault takes its lock) or PTE table an offset
    // belongs to: the table's index from the reservation's start.
    [[nodiscard]] std::uint64_t pmd_table_of(std::uint64_t off) const {
        return off / geo.pmd_table_span();
    }
    [[nodiscard]] std::uint64_t pte_table_of(std::uint64_t off) const {
        return off / geo.pte_table_span();
    }
    // Empty when the layout keeps its promise: private threads share no table of the faulting
    // level's lock, shared threads all fault under each table used (THP: one PMD table).
    [[nodiscard]] std::string problem() const;
};

// chunks_per_thread for a layout, from the memory the run may use (bytes) and the largest
// thread count: THP up to 8 PMDs per thread (at least 1), the PTE level 64 chunks of 16
// pages. 0 when even one chunk per thread does not fit.
std::uint64_t chunks_per_thread(const LayoutName &name, const Geometry &geo, unsigned max_threads,
                                std::uint64_t budget_bytes);
Layout make_layout(const LayoutName &name, const Geometry &geo, unsigned threads,
                   std::uint64_t chunks_per_thread);

// 1, 2, 4, ... up to cpus, and cpus itself.
std::vector<unsigned> default_thread_counts(unsigned cpus);

// One lock class row of /proc/lock_stat (version 0.4). Times in microseconds, as printed.
struct LockStat {
    std::uint64_t con_bounces = 0;
    std::uint64_t contentions = 0;
    double waittime_min = 0;
    double waittime_max = 0;
    double waittime_total = 0;
    std::uint64_t acq_bounces = 0;
    std::uint64_t acquisitions = 0;
    double holdtime_min = 0;
    double holdtime_max = 0;
    double holdtime_total = 0;

    LockStat &operator+=(const LockStat &o);
    [[nodiscard]] nlohmann::json to_json() const;
};

struct LockStatFile {
    bool valid = false;           // "lock_stat version 0.4" header seen
    bool debug_locks_off = false; // "*WARNING* lock debugging disabled!!"
    // Class name as printed (with "#2", "/1", "-W", "-R" suffixes) -> its row.
    std::map<std::string, LockStat, std::less<>> classes;
};
LockStatFile parse_lock_stat(std::string_view text);

// A class name without lockdep's decorations: "ptlock_ptr(page)#3" -> "ptlock_ptr(page)",
// "&mm->page_table_lock/1-W" -> "&mm->page_table_lock".
std::string lock_class_base(std::string_view printed);

// The sum over every class whose base name is `base` (one inline ctor in a header gives one
// class per compilation unit: ptlock_ptr(page), ptlock_ptr(page)#2, ...).
LockStat lock_family(const LockStatFile &f, std::string_view base);
// after - before for the counters and totals; min and max are after's (the run clears the
// statistics first, when it can).
LockStat lock_delta(const LockStat &before, const LockStat &after);

// The lock classes the bench reports.
constexpr std::string_view kPageTableLockClass = "&mm->page_table_lock";
constexpr std::string_view kPtlockClass = "ptlock_ptr(page)";

// The rows of /proc/lock_stat a reader needs beside the numbers: the column header, and each
// page-table lock class (page_table_lock, ptlock_ptr) with its contention points, as printed.
std::vector<std::string> lock_stat_excerpt(std::string_view text);

// /proc/vmstat: "name value" lines.
std::map<std::string, std::uint64_t, std::less<>> parse_vmstat(std::string_view text);

struct Stats {
    std::size_t n = 0;
    double median = 0;
    double min = 0;
    double max = 0;
    double mean = 0;
};
// Median of an even count is the mean of the middle two. All zero for no samples.
Stats stats_of(std::vector<double> samples);
nlohmann::json to_json(const Stats &s);

} // namespace ptlab::bench
