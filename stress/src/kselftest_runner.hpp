// The runner of the upstream selftests in the guest (ptlab-stress kselftest): the table's
// rows, one test run under its timeout with its output indented, and the result it gets.
// Separate from the plan so that the host's unit tests run it on host programs.
#pragma once

#include "plan_writer.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptlab {

struct Selftest {
    std::string name;
    std::string suite;
    std::vector<std::string> argv; ///< argv[0] relative to /kselftest/<suite>
    int timeout = 120;             ///< seconds
    int stop_after = 0;            ///< seconds: stopped then, a pass if it was still fine
    std::string left_out;          ///< why it is not run here
    /// Its exit status counts its failures (khugepaged): 4 is four failures, not a skip.
    bool exit_counts_failures = false;
    /// hugetlb pages reserved for it alone: enough for hugetlb_mib MiB, and at least
    /// hugetlb_pages; released after it, so that the THP tests have the memory.
    int hugetlb_mib = 0;
    int hugetlb_pages = 0;
    int uid = 0; ///< the user it runs as (its group is the same number)
};

/// How many pages of page_kb kB a test needs reserved (0 for none).
std::uint64_t hugetlb_pages_needed(const Selftest &t, std::uint64_t page_kb);

/// The rows of the table (configs/kselftests.json) for suite vm, kvm or all, in order.
std::vector<Selftest> tests_of(const nlohmann::json &table, const std::string &suite);

struct Ran {
    int status = -1; ///< exit status, or -1
    int signal = 0;  ///< the signal that ended it
    bool timed_out = false;
    bool stopped = false; ///< stopped at stop_after
    std::string last_line;
};

/// Runs t in root/<suite> in a process group of its own, its output to out indented four
/// spaces as it comes, killed at its timeout (or stopped at stop_after). The output comes
/// through a pseudo-terminal when one can be had: C stdio buffers a pipe fully, so a test
/// killed at its timeout would take its last lines with it.
Ran run_test(const Selftest &t, const std::filesystem::path &root, std::ostream &out);

/// The result of a run: 0 passes, 4 skips (the last line says why), a count of failures,
/// another status, a signal or the timeout fails; stopped at stop_after passes.
void report(PlanWriter &plan, const Selftest &t, const Ran &ran);

} // namespace ptlab
