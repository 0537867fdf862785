// make bench: series-base against series-head of one config, booted alternately (base, head,
// base, ...) so that this machine's drift falls on both alike: ROUNDS boots per step of the
// `bench` flavour (throughput), LOCKSTAT_ROUNDS of the `lockstat` flavour (contention from
// /proc/lock_stat). Every knob is checked here, before anything builds; bench.hpp turns the
// runs into the report.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace ptlab {

struct BenchRequest {
    Request boot; ///< config, machine, memory; smp defaults to the host's CPUs here
    std::string base;
    std::string head;
    int rounds = 0;
    int lockstat_rounds = 0;
    int reps = 0;
    int warmup = 0;
    std::string seconds;              ///< per repetition, as given ("1", "0.5")
    std::vector<std::string> threads; ///< empty: 1 up to the guest's CPUs
    std::vector<std::string> layouts; ///< empty: every layout
    std::vector<std::string> access;
};

/// Throws KnobError naming the knob and what is valid. BENCH_SECONDS defaults from the
/// geometry: 3 s where one THP fault clears 512 MiB or more (64K pages), else 1 s.
BenchRequest bench_request_from(const Getenv &env, const Layout &layout);

/// The guest's limit: boot, then every cell's repetitions with room for slow ones.
int bench_timeout_seconds(const BenchRequest &request);

/// The plan's ptlab.bench_* kernel parameters.
std::string bench_cmdline(const BenchRequest &request);

/// Builds the four kernels (or finds them built), boots them alternately, writes
/// results/bench-<config>.{txt,json,png} and the runs in results/bench-<config>/.
/// 0 when every run passed and reported.
int run_bench(const Layout &layout, const BenchRequest &request, std::ostream &out,
              const Progress &progress);

} // namespace ptlab
