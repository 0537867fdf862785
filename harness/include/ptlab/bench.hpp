// make bench: the guest's `ptlab-stress bench` reports (one JSON line per console log) from
// alternating boots of two steps, turned into a head/base comparison: statistics per layout,
// access and thread count, page_table_lock and ptlock contention, a text table, JSON, and the
// data and script of a gnuplot PNG.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptlab {

/// The marker the bench plan puts before its JSON report on the console.
inline constexpr const char *kBenchJsonMarker = "PTLAB-BENCH-JSON ";

/// The last bench report in a console log, or nullopt (no marker, or its JSON does not parse:
/// *error says which).
std::optional<nlohmann::json> extract_bench_json(const std::vector<std::string> &console_lines,
                                                 std::string *error = nullptr);

struct BenchStats {
    std::size_t n = 0;
    double median = 0;
    double min = 0;
    double max = 0;
};
/// Median (mean of the middle two for an even count), min, max; all 0 for no samples.
BenchStats bench_stats(std::vector<double> samples);

/// What the kernel of a run was built with: the options that change timing.
struct KernelFacts {
    std::map<std::string, std::string> options; ///< LOCK_STAT -> "y" / "n", ...
    int spinlock_size = -1;                     ///< include/generated/bounds.h, -1 if unknown
    /// ALLOC_SPLIT_PTLOCKS: spinlock_t larger than a long, page->ptl is kmalloc'ed.
    [[nodiscard]] std::optional<bool> alloc_split_ptlocks() const;
    /// "LOCK_STAT=n PROVE_LOCKING=n DEBUG_VM=n DEBUG_SPINLOCK=n, spinlock_t 4 bytes: ..."
    [[nodiscard]] std::string describe() const;
};
/// Reads <out>/.config and <out>/include/generated/bounds.h; missing files leave gaps.
KernelFacts read_kernel_facts(const std::string &kernel_out);
/// The options KernelFacts reports, in order.
const std::vector<std::string> &bench_kernel_options();

/// One boot of make bench (an entry of its runs.json).
struct BenchRun {
    std::string config;
    std::string step;
    std::string flavour;
    std::string role; ///< "throughput" or "contention"
    int round = 0;
    std::string dir;                    ///< the run's folder: console.log, result.json
    std::string kernel_out;             ///< the kernel's build folder (.config, bounds.h)
    std::optional<double> host_load;    ///< the host's 1-minute load average before the boot
    std::string outcome;                ///< result.json's outcome ("pass", "fail"), or "missing"
    std::string reason;                 ///< result.json's reason and detail when it failed
    std::optional<nlohmann::json> data; ///< the bench report
    std::string error;                  ///< why data is missing
    KernelFacts kernel;
};

/// Fills outcome, reason, data and kernel from the run's folder and its kernel's.
void read_bench_run(BenchRun &run);
/// The runs.json entry of a run: what identifies it, not what is read back.
nlohmann::json bench_index_entry(const BenchRun &run);
/// {"runs": [bench_index_entry...]}: relative folders are taken from relative_to; each run
/// is read back (read_bench_run).
std::vector<BenchRun> load_bench_runs(const nlohmann::json &index,
                                      const std::string &relative_to = {});

/// Per step of one row: samples pooled over the runs of that step and role.
struct BenchSide {
    BenchStats faults_per_sec;
    std::vector<double> round_medians; ///< median faults/s of each run, in round order
    // Contention (lock_stat runs): per repetition.
    BenchStats ptl_contentions;
    BenchStats ptl_acquisitions;
    BenchStats ptl_wait_us;
    BenchStats ptlock_contentions;
    BenchStats ptlock_acquisitions;
    BenchStats ptlock_wait_us;
    BenchStats faults;     ///< faults per repetition of the lock_stat runs
    double thp_share = -1; ///< thp_fault_alloc / faults over the runs, -1 when not measured
};

struct BenchRow {
    std::string layout; ///< thp-private, thp-shared, pte-private, pte-shared
    std::string access; ///< write, read
    unsigned threads = 0;
    BenchSide base;
    BenchSide head;
    std::optional<double> ratio;     ///< head/base of the median faults/s
    std::optional<double> ptl_ratio; ///< head/base of the median page_table_lock contentions
};

struct BenchReport {
    std::string config;
    std::string base_step;
    std::string head_step;
    std::vector<BenchRun> runs;
    std::vector<BenchRow> throughput; ///< from the throughput runs
    std::vector<BenchRow> contention; ///< from the contention (lock_stat) runs
    unsigned cpus = 0;
    std::uint64_t page_size = 0;
    std::uint64_t pmd_size = 0;
    std::uint64_t mem_available_kb = 0;
    std::map<std::string, std::string> flavours;  ///< role -> flavour name
    std::map<std::string, std::string> kernels;   ///< "role step" -> KernelFacts::describe()
    std::map<std::string, std::string> split_pmd; ///< step -> ARCH_ENABLE_SPLIT_PMD_PTLOCK
    std::map<std::string, int> rounds;            ///< role -> boots per step
    std::map<std::string, unsigned> reps;         ///< role -> repetitions per boot
    std::vector<std::string> problems;            ///< failed runs, missing reports, ...
};

BenchReport build_bench_report(std::vector<BenchRun> runs, const std::string &base_step,
                               const std::string &head_step);

/// What the timing of a run under QEMU TCG does and does not show (in the table, JSON, plot).
std::string bench_tcg_note(const BenchReport &r);

/// The table; the last line is "bench <config>: N runs, M problems".
void print_bench_report(std::ostream &out, const BenchReport &r);
std::string bench_report_to_json(const BenchReport &r);
/// gnuplot data: one block (two blank lines apart) per layout, access and step:
/// "threads median min max"; blocks in the order of bench_plot_blocks().
std::string bench_plot_data(const BenchReport &r);
/// (layout, access, step) of each block of bench_plot_data().
std::vector<std::tuple<std::string, std::string, std::string>>
bench_plot_blocks(const BenchReport &r);
/// A gnuplot script that draws data_path into png_path (pngcairo): one panel per layout and
/// access, faults/s against threads, median with min..max bars, base and head.
std::string bench_gnuplot_script(const BenchReport &r, const std::string &data_path,
                                 const std::string &png_path);

} // namespace ptlab
