// ptlab-stress faults: fault injection (fail_page_alloc and failslab) aimed at this tool's
// own workers only (task-filter and make-it-fail), while the thp and kvm workloads run. A
// page-table ctor that fails (with ALLOC_SPLIT_PTLOCKS, ptlock_alloc() is a slab
// allocation) must unwind cleanly: no splat (the run allows only "page allocation failure"
// reports), no leak (PageTables and SecPageTables back to their baseline; kmemleak at the
// end of the run), no corrupted byte. Kernel command line: ptlab.fault_probability=N
// (percent), ptlab.stress_seconds=N, ptlab.seed=N.

#include "plan_writer.hpp"
#include "procfs.hpp"
#include "workload.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

namespace ptlab {

namespace {

const std::string kDebug = "/sys/kernel/debug";
const std::array<const char *, 2> kFaultTypes = {"fail_page_alloc", "failslab"};
// Failures one run may inject at most: enough that the budget never runs out.
constexpr std::uint64_t kBudget = 1000000;
constexpr int kTests = 5;

void set(const std::string &type, const std::string &knob, const std::string &value) {
    write_file(kDebug + "/" + type + "/" + knob, value + "\n");
}

void arm(unsigned probability) {
    for (const char *type : kFaultTypes) {
        set(type, "task-filter", "Y");
        set(type, "probability", std::to_string(probability));
        set(type, "interval", "1");
        set(type, "times", std::to_string(kBudget));
        set(type, "verbose", "0");
        set(type, "ignore-gfp-wait", "N");
    }
    set("fail_page_alloc", "min-order", "0");
}

void disarm() {
    for (const char *type : kFaultTypes) {
        set(type, "probability", "0");
    }
}

std::uint64_t injected(const std::string &type) {
    return kBudget - read_u64_file(kDebug + "/" + type + "/times");
}

/// Page tables the kernel accounts to no live process: PageTables less every process's
/// VmPTE, in kB.
std::int64_t orphan_page_tables_once() {
    refresh_vm_stats();
    std::int64_t owned = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::istringstream status(try_read_file(it->path() / "status").value_or(""));
        for (std::string line; std::getline(status, line);) {
            if (line.starts_with("VmPTE:")) {
                owned += std::stoll(line.substr(6));
            }
        }
    }
    return static_cast<std::int64_t>(read_meminfo()["PageTables"]) - owned;
}

/// The median of three readings: processes that start or exit while /proc is read make
/// single readings jump.
std::int64_t orphan_page_tables() {
    std::array<std::int64_t, 3> r = {orphan_page_tables_once(), orphan_page_tables_once(),
                                     orphan_page_tables_once()};
    std::sort(r.begin(), r.end());
    return r[1];
}

struct Accounting {
    std::int64_t page_tables = 0;
    std::int64_t orphans = 0;
    std::int64_t secondary = 0;
};

Accounting settled_accounting() {
    ::sync();
    try {
        write_file("/proc/sys/vm/drop_caches", "3");
    } catch (const SysError &) {
        // Not root: the page cache stays, and so do the tables it does not hold.
    }
    refresh_vm_stats();
    Meminfo m = read_meminfo();
    return {static_cast<std::int64_t>(m["PageTables"]), orphan_page_tables(),
            static_cast<std::int64_t>(m["SecPageTables"])};
}

/// `ptlab-stress <workload> --make-it-fail ...` as a subtest: its KTAP streamed, indented,
/// its exit status the result.
void run_faulty(PlanWriter &plan, const std::string &name, const std::string &workload,
                const Options &opts) {
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec);
    std::ostringstream command;
    command << (ec ? std::string("ptlab-stress") : self) << ' ' << workload
            << " --make-it-fail --duration " << opts.effective_duration() << " --seed " << opts.seed
            << " 2>&1";
    std::cout << "    # Subtest: " << name << '\n' << std::flush;
    FILE *child = ::popen(command.str().c_str(), "r");
    if (child == nullptr) {
        plan.fail(name, "cannot start " + command.str());
        return;
    }
    char line[4096];
    while (std::fgets(line, sizeof line, child) != nullptr) {
        std::cout << "    " << line << std::flush;
    }
    const int status = ::pclose(child);
    plan.nested_result(name, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/// Tables left behind raise both PageTables and the orphaned share. Each alone is noisy:
/// PageTables with the processes alive, the orphaned share with processes that start or exit
/// while it is read (and on 4K with PUD tables, in VmPTE but not in PageTables); the smaller
/// growth is the leak. Sixteen pages of slack.
void test_page_tables_back(PlanWriter &plan, const Accounting &before, const Accounting &after) {
    const std::int64_t tolerance = static_cast<std::int64_t>(page_size() / 1024) * 16;
    const std::int64_t grown =
        std::min(after.page_tables - before.page_tables, after.orphans - before.orphans);
    std::ostringstream what;
    what << "PageTables " << before.page_tables << " -> " << after.page_tables
         << " kB, not held by a live process " << before.orphans << " -> " << after.orphans
         << " kB: grew by " << grown << " kB (tolerance " << tolerance << " kB)";
    plan.check("page_tables_back", grown <= tolerance, what.str(), what.str());
    const std::string secondary = "SecPageTables before=" + std::to_string(before.secondary) +
                                  " kB after=" + std::to_string(after.secondary) + " kB";
    plan.check("secondary_page_tables_back", after.secondary <= before.secondary, secondary,
               secondary);
}

} // namespace

int run_faults(const Options &opts) {
    for (const char *type : kFaultTypes) {
        if (!std::filesystem::is_directory(kDebug + "/" + type)) {
            write_skipped_plan(std::cout, "no fail_page_alloc/failslab in debugfs "
                                          "(FAIL_PAGE_ALLOC, FAILSLAB, FAULT_INJECTION_DEBUG_FS)");
            return kExitSkip;
        }
    }
    PlanWriter plan(std::cout, kTests,
                    {"probability " + std::to_string(opts.fault_probability) + "%, " +
                     opts.reproduce_command()});
    const Accounting before = settled_accounting();
    arm(opts.fault_probability);
    run_faulty(plan, "thp_under_faults", "thp", opts);
    run_faulty(plan, "kvm_under_faults", "kvm", opts);
    const std::uint64_t pages = injected("fail_page_alloc");
    const std::uint64_t slabs = injected("failslab");
    disarm();
    plan.check("failures_injected", pages + slabs > 0,
               "fail_page_alloc " + std::to_string(pages) + ", failslab " + std::to_string(slabs),
               "no failure was injected: the workloads never reached the fault points");
    test_page_tables_back(plan, before, settled_accounting());
    return plan.exit_code();
}

} // namespace ptlab
