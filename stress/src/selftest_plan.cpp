// ptlab-stress selftest-warn, selftest-hang, selftest-panic: the harness's own failure modes.
// Each tells the truth in KTAP up to the moment the kernel or the guest goes wrong, so the
// host must find the failure elsewhere: a WARN_ON splat while every result says ok, a guest
// that stops printing (the timeout), a panic.

#include "plan_writer.hpp"
#include "procfs.hpp"
#include "workload.hpp"

#include <iostream>

#include <unistd.h>

namespace ptlab {

namespace {

const char *const kLkdtm = "/sys/kernel/debug/provoke-crash/DIRECT";

/// A WARN_ON in the kernel (LKDTM) while the plan's only result says ok.
int selftest_warn() {
    if (::access(kLkdtm, W_OK) != 0) {
        write_skipped_plan(std::cout, "no LKDTM (CONFIG_LKDTM)");
        return kExitSkip;
    }
    PlanWriter plan(std::cout, 1);
    write_file(kLkdtm, "WARNING\n");
    plan.ok("warned");
    return plan.exit_code();
}

/// A guest that stops printing and never ends.
[[noreturn]] void selftest_hang() {
    PlanWriter plan(std::cout, 1);
    plan.note("hanging now");
    for (;;) {
        ::pause();
    }
}

/// A kernel panic (sysrq crash) after an ok.
int selftest_panic() {
    PlanWriter plan(std::cout, 1);
    plan.ok("about_to_panic");
    write_file("/proc/sysrq-trigger", "c");
    return kExitFail; // not reached: the kernel is gone
}

} // namespace

int run_selftest(const std::string &command) {
    if (command == "selftest-warn") {
        return selftest_warn();
    }
    if (command == "selftest-hang") {
        selftest_hang();
    }
    return selftest_panic();
}

} // namespace ptlab
