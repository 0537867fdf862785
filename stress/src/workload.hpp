// What every workload gets from the runner, and what it gives back.
#pragma once

#include "cli.hpp"
#include "common.hpp"
#include "report.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace ptlab {

struct WorkloadContext {
    std::uint64_t seed = 0;
    unsigned threads = 2;
    double duration = 0;                     // seconds; 0 with iterations
    std::optional<std::uint64_t> iterations; // per worker thread
    Clock::time_point start{};
    bool concurrent = false;        // other workloads run at the same time (all)
    unsigned mem_percent = 0;       // share of MemAvailable this workload may use
    std::vector<unsigned> ipa_bits; // kvm: IPA sizes asked for (empty: the default list)

    // True once the duration is over or a stop was requested.
    [[nodiscard]] bool time_is_up() const {
        return stop_requested().load(std::memory_order_relaxed) ||
               (!iterations && seconds_since(start) >= duration);
    }
    // True when a worker that has done `done` operations should stop.
    [[nodiscard]] bool should_stop(std::uint64_t done) const {
        return time_is_up() || (iterations && done >= *iterations);
    }
};

class Workload {
public:
    Workload() = default;
    Workload(const Workload &) = delete;
    Workload &operator=(const Workload &) = delete;
    virtual ~Workload() = default;
    [[nodiscard]] virtual std::string name() const = 0;
    // Runs to completion and returns the workload's subtest (its checks as children).
    virtual TestNode run(const WorkloadContext &ctx) = 0;
    // One short line for the periodic progress diagnostics ("ops=123 vms=4").
    [[nodiscard]] virtual std::string progress() const { return {}; }
};

// The vendor GUID of the efi workload's variables (it never touches any other).
extern const char *const kEfiGuid;

std::unique_ptr<Workload> make_thp_workload();
std::unique_ptr<Workload> make_efi_workload();
std::unique_ptr<Workload> make_kvm_workload();

// ptlab-stress hold (its own output; returns the exit status).
int run_hold(const Options &opts);

// ptlab-stress boot (boot_plan.cpp: the boot self-test and the geometry facts).
int run_boot();

// ptlab-stress audit (audit_plan.cpp: the page-table audit with the lab's module).
int run_audit();

// ptlab-stress faults (faults_plan.cpp: thp and kvm under fault injection, then no leak).
int run_faults(const Options &opts);

// ptlab-stress kselftest (kselftest_plan.cpp: the upstream selftests under /kselftest).
int run_kselftests(const Options &opts);

// ptlab-stress selftest-warn|hang|panic (selftest_plan.cpp: the harness's own failure modes).
int run_selftest(const std::string &command);

// ptlab-stress bench (bench.cpp: its own KTAP and JSON; returns the exit status).
int run_bench(const Options &opts);

// Runs the workloads the options name and prints the report; returns the exit status.
int run_workloads(const Options &opts);

} // namespace ptlab
