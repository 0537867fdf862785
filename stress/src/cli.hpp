// Command line of ptlab-stress (CLI11).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ptlab {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSkip = 4;
// Seconds a workload runs unless told otherwise: the one place these are stated (the guest's
// plans pass no duration; ptlab.stress_seconds= on the kernel command line overrides).
double default_duration(const std::string &command);

// ptlab-stress bench: fault throughput per thread count and layout (bench.cpp).
struct BenchOptions {
    std::vector<unsigned> thread_counts; // empty: 1, 2, 4, ... up to the online CPUs
    std::vector<std::string> layouts;    // empty: thp-private, thp-shared, pte-private, pte-shared
    std::vector<std::string> access{"write"}; // write and/or read (THP read: huge zero page)
    unsigned reps = 5;                        // measured repetitions per cell
    unsigned warmup = 1;                      // repetitions run first and thrown away
    double rep_seconds = 1.0;                 // length of one repetition
    unsigned min_faults = 2;                  // a repetition lasts until every thread did this many
    std::string lock_stat = "auto";           // auto (when /proc/lock_stat exists), on, off
    std::string json_file;  // also write the JSON report here (with KTAP on stdout)
    bool json_line = false; // and print it after the KTAP as "# PTLAB-BENCH-JSON {...}"
};

struct Options {
    std::string command;                     // thp, efi, kvm, all, hold, bench (empty with --list)
    unsigned threads = 2;                    // worker threads per workload
    std::optional<double> duration;          // seconds
    std::optional<std::uint64_t> iterations; // operations per worker thread
    std::uint64_t seed = 0;
    bool seed_given = false;
    bool json = false;
    bool list = false;
    std::string knobs_from;         // a kernel command line: ptlab.seed=, ptlab.stress_seconds=
    unsigned mem_percent = 0;       // share of MemAvailable for memory workloads, 0 = automatic
    std::vector<unsigned> ipa_bits; // kvm: IPA sizes to test; empty = 32..48 as allowed
    bool make_it_fail = false;      // opt this process into fault injection once started
    unsigned fault_probability = 5; // faults: percent of allocations that fail
    std::string kselftest_suite = "all";     // kselftest: vm, kvm or all
    std::vector<std::string> kselftest_only; // kselftest: only these tests (empty: all)
    std::uint64_t thp_mib = 0;               // hold
    std::uint64_t small_mib = 0;             // hold
    std::uint64_t high_mib = 0;              // hold: above 2^48, where the kernel allows
    BenchOptions bench;                      // bench

    [[nodiscard]] double effective_duration() const {
        return duration.value_or(iterations ? 0.0 : default_duration(command));
    }
    // The command line that repeats this run ("ptlab-stress thp --seed 42 ...").
    [[nodiscard]] std::string reproduce_command() const;
};

struct CliOutcome {
    Options options;
    std::optional<int> exit_code; // set when the program should exit now (help, list, error)
};

// Parses argv. Help and --list go to out, errors to err (exit code 2).
CliOutcome parse_cli(int argc, const char *const *argv, std::ostream &out, std::ostream &err);
CliOutcome parse_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

// args with the bench knobs of the kernel command line --knobs-from names (ptlab.bench_*)
// added as the options they stand for, where args does not give them.
std::vector<std::string> with_bench_knobs(std::vector<std::string> args);

// The workloads and subcommands with one line each (--list).
std::string workload_list();

std::uint64_t random_seed();

} // namespace ptlab
