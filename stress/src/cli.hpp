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
constexpr double kDefaultDuration = 10.0;

struct Options {
    std::string command;                     // thp, efi, kvm, all, hold (empty with --list)
    unsigned threads = 2;                    // worker threads per workload
    std::optional<double> duration;          // seconds
    std::optional<std::uint64_t> iterations; // operations per worker thread
    std::uint64_t seed = 0;
    bool seed_given = false;
    bool json = false;
    bool list = false;
    std::string skip_file;          // where to write the reason of a SKIP
    unsigned mem_percent = 0;       // share of MemAvailable for memory workloads, 0 = automatic
    std::vector<unsigned> ipa_bits; // kvm: IPA sizes to test; empty = 32..48 as allowed
    bool make_it_fail = false;      // opt this process into fault injection once started
    std::uint64_t thp_mib = 0;      // hold
    std::uint64_t small_mib = 0;    // hold

    [[nodiscard]] double effective_duration() const {
        return duration.value_or(iterations ? 0.0 : kDefaultDuration);
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

// The workloads and subcommands with one line each (--list).
std::string workload_list();

std::uint64_t random_seed();

} // namespace ptlab
