// ptlab-stress audit: the page-table audit with the lab's module (module/, ptlab_audit.ko).
// The module reports the geometry and, per table page of init_mm, efi_mm, the KPTI
// trampoline and a user mm (this tool's `hold`: THP- and small-page-backed memory), its
// ctor state and PMD lock, judged per page against the rules this config at this step
// promises (/ptlab/rules, written by the host into the per-kernel initramfs). Around that,
// the module's own life: reload, rmmod while a report is open and while audits run, an
// audited process that exits, nonsense written to every file, unload. One function per
// test, each with its rule.

#include "plan_writer.hpp"
#include "procfs.hpp"
#include "workload.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ptlab {

namespace {

const std::string kDir = "/sys/kernel/debug/ptlab";
const char *const kModule = "ptlab_audit";
const std::string kObject = "/lib/modules/ptlab_audit.ko";
const std::string kRules = "/ptlab/rules";
constexpr int kTests = 17;

std::string file(const std::string &name) { return kDir + "/" + name; }
bool dir_exists() { return std::filesystem::is_directory(kDir); }

bool loaded() {
    std::istringstream modules{try_read_file("/proc/modules").value_or("")};
    for (std::string line; std::getline(modules, line);) {
        if (line.starts_with(std::string(kModule) + " ")) {
            return true;
        }
    }
    return false;
}

/// insmod: 0 or errno.
int insmod() {
    const Fd fd(::open(kObject.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return errno;
    }
    return ::syscall(SYS_finit_module, fd.get(), "", 0) == 0 ? 0 : errno;
}

/// rmmod: 0 or errno (EBUSY/EWOULDBLOCK while a report is open).
int rmmod() { return ::syscall(SYS_delete_module, kModule, O_NONBLOCK) == 0 ? 0 : errno; }

void ensure_loaded() {
    if (!loaded()) {
        (void)insmod();
    }
}

/// Writing text to a file of the module: 0 or errno.
int write_errno(const std::string &path, const std::string &text) {
    try {
        write_file(path, text);
        return 0;
    } catch (const SysError &e) {
        return e.err();
    }
}

std::size_t count_of(const std::string &text, const std::string &needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

std::string sorted_lines(const std::string &text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            lines.push_back(line);
        }
    }
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto &line : lines) {
        out += line + ' ';
    }
    return out;
}

/// 1: /init loaded the module with every other one.
void test_load(PlanWriter &plan) {
    if (loaded() && dir_exists()) {
        plan.ok("load");
        return;
    }
    plan.fail("load", "not loaded at boot; insmod: " + errno_name(insmod()));
}

/// 2: unload and load again, idle.
void test_reload(PlanWriter &plan) {
    const bool ok = rmmod() == 0 && !dir_exists() && insmod() == 0 && dir_exists();
    plan.check("reload", ok, "", std::string("rmmod/insmod: loaded=") + (loaded() ? "yes" : "no"));
    ensure_loaded();
}

/// 3: an open report pins the module (its audit ran at open): rmmod is refused, the report
/// still reads, and once it is closed the module goes.
void test_rmmod_while_open(PlanWriter &plan) {
    Fd open_report(::open(file("init_mm").c_str(), O_RDONLY | O_CLOEXEC));
    const int refused = rmmod();
    if (refused == 0) {
        plan.fail("rmmod_while_open", "rmmod succeeded with " + file("init_mm") + " open");
        ensure_loaded();
        return;
    }
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(open_report.get(), buf, sizeof buf)) > 0;) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    open_report.reset();
    if (text.find("ok 1 init_mm.walk") == std::string::npos) {
        plan.fail("rmmod_while_open", "the open report no longer reads");
    } else {
        plan.check("rmmod_while_open", rmmod() == 0 && insmod() == 0 && dir_exists(),
                   "refused with " + errno_name(refused), "rmmod or insmod failed after close");
    }
    ensure_loaded();
}

/// Reads a report a little at a time, so that it stays open a while.
void slow_read(const std::string &path) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char buf[64];
    while (fd.valid() && ::read(fd.get(), buf, sizeof buf) > 0) {
    }
}

/// 4: rmmod racing audits in a loop: refused while one is open, never a crash; once it went,
/// the module loads again.
void test_rmmod_during_walks(PlanWriter &plan) {
    (void)write_errno(file("user"), std::to_string(::getpid()) + "\n");
    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (const char *report : {"init_mm", "user"}) {
        readers.emplace_back([&stop, report] {
            while (!stop && dir_exists()) {
                (void)try_read_file(file("efi_mm"));
                (void)try_read_file(file("tramp"));
                slow_read(file(report));
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    int busy = 0;
    while (rmmod() != 0 && ++busy < 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
    for (auto &reader : readers) {
        reader.join();
    }
    if (loaded()) {
        (void)rmmod();
    }
    plan.check("rmmod_during_walks", !loaded() && insmod() == 0 && dir_exists(),
               "refused " + std::to_string(busy) + " times while audits ran, then unloaded",
               "after " + std::to_string(busy) + " refusals: loaded=" + (loaded() ? "yes" : "no"));
    ensure_loaded();
}

/// 5: this step's promises, given to the module, read back the same.
void test_rules(PlanWriter &plan) {
    const std::string rules = try_read_file(kRules).value_or("");
    if (rules.empty()) {
        plan.fail("rules", "no " + kRules + " in this initramfs: the host writes it (ptlab run)");
        return;
    }
    if (const int err = write_errno(file("rules"), rules); err != 0) {
        plan.fail("rules", "the module refused " + kRules + ": " + errno_name(err));
        return;
    }
    const std::string want = sorted_lines(rules);
    const std::string got = sorted_lines(try_read_file(file("rules")).value_or(""));
    plan.check("rules", want == got, got, "expected " + want + ", found " + got);
}

/// A module report as a subtest.
void nest_report(PlanWriter &plan, const std::string &name, std::string *text = nullptr) {
    int err = 0;
    const auto report = try_read_file(file(name), &err);
    if (!report) {
        plan.fail(name, "reading " + file(name) + " failed: " + errno_name(err));
        return;
    }
    plan.nested(name, *report);
    if (text != nullptr) {
        *text = *report;
    }
}

/// A child process: `ptlab-stress hold`, its stdin kept open so that it waits.
struct Holder {
    pid_t pid = -1;
    Fd stdin_w;
    Fd stdout_r;
};

Holder start_hold(std::uint64_t thp_mib) {
    int in[2];
    int out[2];
    Holder h;
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
        return h;
    }
    h.pid = ::fork();
    if (h.pid == 0) {
        ::dup2(in[0], STDIN_FILENO);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(out[1], STDERR_FILENO);
        const std::string thp = std::to_string(thp_mib);
        ::execl("/proc/self/exe", "ptlab-stress", "hold", "--thp-mib", thp.c_str(), "--small-mib",
                "4", "--high-mib", "4", static_cast<char *>(nullptr));
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    h.stdin_w.reset(in[1]);
    h.stdout_r.reset(out[0]);
    return h;
}

/// The hold child's "ready pid=... anon_huge_kb=N" line, or what it said instead.
std::string ready_line(const Holder &h, bool *ready) {
    std::string said;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{h.stdout_r.get(), POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) {
            continue;
        }
        char buf[256];
        const ssize_t n = ::read(h.stdout_r.get(), buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        said.append(buf, static_cast<std::size_t>(n));
        if (const auto at = said.find("ready "); at != std::string::npos) {
            if (const auto end = said.find('\n', at); end != std::string::npos) {
                *ready = true;
                return said.substr(at, end - at);
            }
        }
    }
    *ready = false;
    return said;
}

/// KEY=N in a line; N decimal, or hex after 0x; with base 16, hex without 0x (as in maps).
std::uint64_t word_value(const std::string &line, const std::string &key, int base = 0) {
    const auto at = line.find(" " + key + "=");
    return at == std::string::npos
               ? 0
               : std::strtoull(line.c_str() + at + key.size() + 2, nullptr, base);
}

/// KEY of each "# TABLE mm=... level=L ..." row of levels in a report.
std::vector<std::uint64_t> table_values(const std::string &report,
                                        const std::vector<std::string> &levels,
                                        const std::string &key) {
    std::vector<std::uint64_t> values;
    std::istringstream lines(report);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("# TABLE mm=")) {
            continue;
        }
        for (const auto &level : levels) {
            if (line.find(" level=" + level + " ") != std::string::npos) {
                values.push_back(word_value(line, key));
            }
        }
    }
    return values;
}

std::uint64_t table_max(const std::string &report, const std::vector<std::string> &levels,
                        const std::string &key) {
    const auto values = table_values(report, levels, key);
    return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

std::uint64_t table_sum(const std::string &report, const std::vector<std::string> &levels,
                        const std::string &key) {
    const auto values = table_values(report, levels, key);
    return std::accumulate(values.begin(), values.end(), std::uint64_t{0});
}

pid_t start_sleeper() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    return pid;
}

void stop_child(pid_t pid) {
    if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
}

/// 13: with a 52-bit VA the holder also has small pages above 2^48: the walk reached the
/// tables that map them (other PGD entries than any 48-bit address uses).
void check_user_high(PlanWriter &plan, const std::string &ready_line, const std::string &report) {
    const std::uint64_t high = word_value(ready_line, "high", 16);
    if (high == 0) {
        plan.skip("user_va_above_48bit", "the kernel maps no user address above 2^48 (VA below 52 "
                                         "bits, or no FEAT_LVA)");
        return;
    }
    const std::uint64_t reached = table_max(report, {"pte"}, "va_max");
    plan.check("user_va_above_48bit", reached >= high,
               "PTE tables walked up to " + hex(reached) + ", region above 2^48 at " + hex(high),
               "region above 2^48 at " + hex(high) + ", PTE tables walked only up to " +
                   hex(reached));
}

/// 10-13: a user mm: one process holding a THP-backed and a small-page-backed region; its
/// small pages sit in PTE tables, its THPs are PMD leaves (or, with the PMD folded, PGD
/// leaves), and the module judged those tables' ctors and locks by the rules.
void test_user_mm(PlanWriter &plan) {
    const std::uint64_t hpage = read_u64_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    std::uint64_t thp_mib = hpage >> 20;
    if (thp_mib < 64) {
        thp_mib *= 4;
    }
    Holder holder;
    bool ready = false;
    std::string line;
    if (hpage != 0) {
        holder = start_hold(thp_mib);
        line = ready_line(holder, &ready);
    }
    const pid_t pid = ready ? static_cast<pid_t>(word_value(line, "pid")) : start_sleeper();
    plan.note("user: " + (ready ? line : "ptlab-stress hold did not get ready: " + line));
    std::string report;
    if (write_errno(file("user"), std::to_string(pid) + "\n") == 0) {
        nest_report(plan, "user", &report);
    } else {
        plan.fail("user", "no process to audit (pid " + std::to_string(pid) + ")");
    }
    const std::uint64_t small_kb = ready ? 4096 : 0;
    const std::uint64_t ptes = table_sum(report, {"pte"}, "leaves");
    const std::uint64_t ptables = table_sum(report, {"pte"}, "pages");
    const std::string small = "pid " + std::to_string(pid) + ": " + std::to_string(ptables) +
                              " PTE tables, " + std::to_string(ptes) + " pages mapped";
    plan.check("user_small_pages", ptables > 0 && ptes * (page_size() / 1024) >= small_kb, small,
               small + ", want " + std::to_string(small_kb) + " kB");
    if (ready) {
        const std::uint64_t huge_kb = word_value(line, "anon_huge_kb");
        const std::uint64_t want = huge_kb * 1024 / hpage;
        const std::uint64_t thps = table_sum(report, {"pgd", "p4d", "pud", "pmd"}, "leaves");
        const std::string what = "pid " + std::to_string(pid) + ": " + std::to_string(thps) +
                                 " PMD leaves, anon_huge_kb=" + std::to_string(huge_kb);
        plan.check("user_thp", want >= 1 && thps >= want, what, what + ", want >= 1 THP");
    } else if (hpage == 0) {
        plan.skip("user_thp", "no THP in this kernel (hpage_pmd_size)");
    } else {
        plan.fail("user_thp", "ptlab-stress hold never printed its ready line");
    }
    if (ready) {
        check_user_high(plan, line, report);
    } else if (hpage == 0) {
        plan.skip("user_va_above_48bit", "no THP in this kernel: no holder process");
    } else {
        plan.fail("user_va_above_48bit", "ptlab-stress hold never printed its ready line");
    }
    stop_child(pid);
    if (holder.pid > 0 && holder.pid != pid) {
        stop_child(holder.pid);
    }
}

/// 14: the audited process exits while its mm is being audited: each audit is whole or
/// ESRCH; once it is gone, ESRCH.
void test_user_exit(PlanWriter &plan) {
    const pid_t victim = start_sleeper();
    (void)write_errno(file("user"), std::to_string(victim) + "\n");
    int whole = 0;
    int gone = 0;
    int other = 0;
    // Audits go on until the victim's exit was seen (ESRCH), so some run across it.
    std::thread reader([&] {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (int i = 0; (i < 40 || gone == 0) && std::chrono::steady_clock::now() < until; ++i) {
            int err = 0;
            const auto report = try_read_file(file("user"), &err);
            if (report && (report->find("ok 7 user.pmd_lock") != std::string::npos)) {
                ++whole;
            } else if (!report && err == ESRCH) {
                ++gone;
            } else {
                ++other;
            }
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop_child(victim);
    reader.join();
    int err = 0;
    const bool still = try_read_file(file("user"), &err).has_value();
    const std::string counts = std::to_string(whole) + " whole, " + std::to_string(gone) +
                               " ESRCH, " + std::to_string(other) + " else";
    if (still) {
        plan.fail("user_exit",
                  "pid " + std::to_string(victim) + " is gone, its audit still succeeded");
    } else {
        plan.check("user_exit", err == ESRCH && other == 0,
                   "pid " + std::to_string(victim) + " killed during audits: " + counts +
                       ", then ESRCH",
                   "pid " + std::to_string(victim) + ": " + counts + ", then " + errno_name(err));
    }
}

/// 15: apply_to_page_range(&efi_mm) from kthreads, between EFI runtime calls.
void test_efi_exercise(PlanWriter &plan) {
    if (const int err = write_errno(file("efi_exercise"), "threads=4 iterations=20\n"); err != 0) {
        plan.fail("efi_exercise", "writing threads=4 iterations=20 failed: " + errno_name(err));
        return;
    }
    nest_report(plan, "efi_exercise");
}

/// 16: nonsense is EINVAL, logged, and changes nothing.
void test_einval(PlanWriter &plan) {
    static const std::pair<const char *, const char *> nonsense[] = {
        {"geometry", "1"},
        {"init_mm", "x"},
        {"efi_mm", "x"},
        {"tramp", "x"},
        {"rules", "nonsense"},
        {"rules", "user.pmd:purple"},
        {"rules", "mars.pte:none"},
        {"rules", "page_size:lots"},
        {"user", "nonsense"},
        {"user", "-5"},
        {"user", "0x"},
        {"efi_exercise", "nonsense"},
        {"efi_exercise", "threads=0"},
        {"efi_exercise", "iterations=many"},
    };
    const std::string before = try_read_file(file("rules")).value_or("");
    const std::size_t logged = count_of(read_kernel_log(), std::string(kModule) + ": ");
    std::string bad;
    for (const auto &[name, text] : nonsense) {
        if (const int err = write_errno(file(name), std::string(text) + "\n"); err != EINVAL) {
            bad += std::string(bad.empty() ? "" : "; ") + name + " <- '" + text +
                   "': " + (err == 0 ? "accepted" : errno_name(err));
        }
    }
    const std::size_t now = count_of(read_kernel_log(), std::string(kModule) + ": ");
    const std::size_t n = std::size(nonsense);
    if (!bad.empty()) {
        plan.fail("einval", bad);
    } else if (try_read_file(file("rules")).value_or("") != before) {
        plan.fail("einval", "a refused write changed the rules");
    } else {
        plan.check("einval", now - logged >= n,
                   std::to_string(n) + " writes refused with EINVAL, each logged",
                   std::to_string(n) + " refusals, " + std::to_string(now - logged) + " logged");
    }
}

/// 17: unload.
void test_unload(PlanWriter &plan) {
    const int err = rmmod();
    plan.check("unload", err == 0 && !loaded() && !dir_exists(), "", "rmmod: " + errno_name(err));
}

} // namespace

int run_audit() {
    if (!std::filesystem::exists(kObject)) {
        write_skipped_plan(std::cout, "no " + kObject + ": module/ was not built for this kernel");
        return kExitSkip;
    }
    PlanWriter plan(std::cout, kTests);
    test_load(plan);
    test_reload(plan);
    test_rmmod_while_open(plan);
    test_rmmod_during_walks(plan);
    test_rules(plan);
    for (const char *report : {"geometry", "init_mm", "efi_mm", "tramp"}) {
        nest_report(plan, report);
    }
    test_user_mm(plan);
    test_user_exit(plan);
    test_efi_exercise(plan);
    test_einval(plan);
    test_unload(plan);
    return plan.exit_code();
}

} // namespace ptlab
