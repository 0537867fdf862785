// ptlab-stress: the kernel test lab's stress tool (THP, EFI runtime services, KVM).
// See README.md and `ptlab-stress --help`.

#include "workload.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

namespace {

// The main thread's stack grows on demand. Under fault injection (failslab, fail_page_alloc)
// expand_stack() can fail, and the kernel answers with SIGSEGV: the fault is retried from
// the handler (on an alternate stack) a bounded number of times. Any other SIGSEGV or SIGBUS
// is fatal, reported as a KTAP bail-out.
std::uintptr_t g_stack_top = 0;
std::atomic<unsigned> g_stack_retries{0};
alignas(16) char g_altstack[64 * 1024];

extern "C" void on_fault_signal(int sig, siginfo_t *info, void *) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    if (sig == SIGSEGV && info->si_code == SEGV_MAPERR && addr < g_stack_top &&
        addr + (16U << 20) > g_stack_top && g_stack_retries.fetch_add(1) < 100000) {
        return; // retry the access: the stack may grow this time
    }
    char buf[160];
    const int n = std::snprintf(buf, sizeof buf,
                                "# ptlab-stress: fatal signal %d (%s) at address %p\nBail out!\n",
                                sig, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", info->si_addr);
    if (n > 0) {
        (void)!::write(STDOUT_FILENO, buf, static_cast<std::size_t>(n));
    }
    ::signal(sig, SIG_DFL);
    ::_exit(ptlab::kExitFail);
}

void install_fault_handlers() {
    int here = 0;
    g_stack_top = reinterpret_cast<std::uintptr_t>(&here) + (1U << 20);
    stack_t ss{};
    ss.ss_sp = g_altstack;
    ss.ss_size = sizeof g_altstack;
    ::sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_fault_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigaction(SIGSEGV, &sa, nullptr);
    ::sigaction(SIGBUS, &sa, nullptr);
}

} // namespace

int main(int argc, char **argv) {
    install_fault_handlers();
    const ptlab::CliOutcome res = ptlab::parse_cli(argc, argv, std::cout, std::cerr);
    if (res.exit_code) {
        return *res.exit_code;
    }
    const ptlab::Options &opts = res.options;
    // Few page tables of our own that outlive the workloads (teardown check): one malloc arena,
    // small thread stacks.
    mallopt(M_ARENA_MAX, 1);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setstacksize(&attr, 1U << 20);
        pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
    if (opts.make_it_fail && !ptlab::set_make_it_fail()) {
        std::cout << "# ptlab-stress: cannot write /proc/thread-self/make-it-fail "
                     "(CONFIG_FAULT_INJECTION)\nBail out!\n";
        return ptlab::kExitFail;
    }
    try {
        if (opts.command == "hold") {
            return ptlab::run_hold(opts);
        }
        if (opts.command == "boot") {
            return ptlab::run_boot();
        }
        if (opts.command == "audit") {
            return ptlab::run_audit();
        }
        if (opts.command == "faults") {
            return ptlab::run_faults(opts);
        }
        if (opts.command == "kselftest") {
            return ptlab::run_kselftests(opts);
        }
        if (opts.command.starts_with("selftest-")) {
            return ptlab::run_selftest(opts.command);
        }
        return ptlab::run_workloads(opts);
    } catch (const std::exception &e) {
        std::cout << "Bail out! ptlab-stress: " << e.what() << std::endl;
        return ptlab::kExitFail;
    }
}
