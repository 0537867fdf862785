// ptlab-stress kselftest --suite vm|kvm|all: the kernel's own selftests, built from the step
// under test (ptlab puts them under /kselftest with their table, configs/kselftests.json).
// Each test runs in its own process group with its table's arguments, under a timeout
// scaled for TCG, its output streamed nested under its result: 0 passes, 4 skips (the last
// line says why), anything else, a signal or the timeout fails. Tests whose run is bounded
// only by time ("stop_after") pass when they are still running then. The guest reports;
// which failures are known and why is the host's to say (XFAIL).

#include "kselftest_runner.hpp"
#include "procfs.hpp"
#include "workload.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace ptlab {

namespace {

const std::string kRoot = "/kselftest";

std::string join_argv(const std::vector<std::string> &argv) {
    std::string line;
    for (const auto &a : argv) {
        line += (line.empty() ? "" : " ") + a;
    }
    return line;
}

} // namespace

std::vector<Selftest> tests_of(const nlohmann::json &table, const std::string &suite) {
    std::vector<Selftest> tests;
    for (const auto &row : table.at("tests")) {
        Selftest t;
        t.name = row.at("name").get<std::string>();
        t.suite = row.at("suite").get<std::string>();
        if (suite != "all" && t.suite != suite) {
            continue;
        }
        t.argv = row.value("argv", std::vector<std::string>{t.name});
        t.timeout = row.value("timeout", 120);
        t.stop_after = row.value("stop_after", 0);
        t.left_out = row.value("left_out", "");
        t.exit_counts_failures = row.value("exit_counts_failures", false);
        t.hugetlb_mib = row.value("hugetlb_mib", 0);
        t.hugetlb_pages = row.value("hugetlb_pages", 0);
        t.uid = row.value("uid", 0);
        tests.push_back(std::move(t));
    }
    return tests;
}

std::uint64_t hugetlb_pages_needed(const Selftest &t, std::uint64_t page_kb) {
    if (page_kb == 0 || (t.hugetlb_mib <= 0 && t.hugetlb_pages <= 0)) {
        return 0;
    }
    const auto mib = static_cast<std::uint64_t>(std::max(t.hugetlb_mib, 0));
    const auto pages = static_cast<std::uint64_t>(std::max(t.hugetlb_pages, 0));
    return std::max({(mib * 1024 + page_kb - 1) / page_kb, pages, std::uint64_t{1}});
}

namespace {

/// Where a test writes and the runner reads: {read end, write end}, both close-on-exec.
struct Channel {
    int read_fd = -1;
    int write_fd = -1;
};

/// A pseudo-terminal in raw mode (no echo, no CR added), or a pipe where there is no devpts.
Channel open_channel() {
    Channel c;
    if (::openpty(&c.read_fd, &c.write_fd, nullptr, nullptr, nullptr) == 0) {
        termios raw{};
        if (::tcgetattr(c.write_fd, &raw) == 0) {
            ::cfmakeraw(&raw);
            ::tcsetattr(c.write_fd, TCSANOW, &raw);
        }
        ::fcntl(c.read_fd, F_SETFD, FD_CLOEXEC);
        ::fcntl(c.write_fd, F_SETFD, FD_CLOEXEC);
        return c;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
        c = {fds[0], fds[1]};
    }
    return c;
}

} // namespace

/// Runs the test with its output indented under the plan's "# Subtest:" line.
Ran run_test(const Selftest &t, const std::filesystem::path &root, std::ostream &out) {
    Ran ran;
    const Channel channel = open_channel();
    if (channel.read_fd < 0) {
        ran.last_line = "no pipe for its output: " + errno_text(errno);
        return ran;
    }
    const std::string dir = (root / t.suite).string();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(channel.write_fd, STDOUT_FILENO);
        ::dup2(channel.write_fd, STDERR_FILENO);
        if (::chdir(dir.c_str()) != 0) {
            ::_exit(127);
        }
        // Without root's supplementary groups too: setuid() alone keeps them.
        if (t.uid != 0 &&
            (::setgroups(0, nullptr) != 0 || ::setgid(static_cast<gid_t>(t.uid)) != 0 ||
             ::setuid(static_cast<uid_t>(t.uid)) != 0)) {
            ::dprintf(STDOUT_FILENO, "cannot run as user %d: %s\n", t.uid, std::strerror(errno));
            ::_exit(127);
        }
        std::vector<char *> args;
        for (const auto &a : t.argv) {
            args.push_back(const_cast<char *>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::dprintf(STDOUT_FILENO, "cannot run %s/%s: %s\n", dir.c_str(), args[0],
                  std::strerror(errno));
        ::_exit(127);
    }
    ::close(channel.write_fd);
    const auto start = std::chrono::steady_clock::now();
    const int limit = t.stop_after > 0 ? t.stop_after : t.timeout;
    std::string pending;
    for (;;) {
        const double left =
            limit - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (left <= 0) {
            (t.stop_after > 0 ? ran.stopped : ran.timed_out) = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        pollfd p{channel.read_fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1) <= 0) {
            continue;
        }
        char buf[4096];
        const ssize_t n = ::read(channel.read_fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            const std::string line = pending.substr(0, nl);
            out << "    " << line << '\n';
            if (!trim(line).empty()) {
                ran.last_line = trim(line);
            }
            pending.erase(0, nl + 1);
        }
        out << std::flush;
    }
    if (!pending.empty()) {
        out << "    " << pending << '\n' << std::flush;
        ran.last_line = trim(pending);
    }
    ::close(channel.read_fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::kill(-pid, SIGKILL); // what it left behind
    if (WIFEXITED(status)) {
        ran.status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        ran.signal = WTERMSIG(status);
    }
    return ran;
}

namespace {

/// hugetlbfs where the vm tests look for it (./huge, as run_vmtests.sh mounts it).
void mount_hugetlbfs(PlanWriter &plan, const std::filesystem::path &dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (::mount("none", dir.c_str(), "hugetlbfs", 0, nullptr) != 0 && errno != EBUSY) {
        plan.note("cannot mount hugetlbfs on " + dir.string() + ": " + errno_text(errno));
    }
}

/// Reserves the hugetlb pages t needs; "" when it has them, else why it cannot run.
std::string reserve_hugetlb_pages(const Selftest &t) {
    const std::uint64_t page_kb = read_meminfo()["Hugepagesize"];
    const std::uint64_t wanted = hugetlb_pages_needed(t, page_kb);
    if (wanted == 0) {
        return "";
    }
    try {
        write_file("/proc/sys/vm/nr_hugepages", std::to_string(wanted));
    } catch (const SysError &e) {
        return std::string("cannot reserve hugetlb pages: ") + e.what();
    }
    const std::uint64_t got = read_meminfo()["HugePages_Total"];
    if (got >= wanted) {
        return "";
    }
    return "needs " + std::to_string(wanted) + " hugetlb pages of " + std::to_string(page_kb) +
           " kB; " + std::to_string(got) + " could be reserved";
}

void release_hugetlb_pages() {
    try {
        write_file("/proc/sys/vm/nr_hugepages", "0");
    } catch (const SysError &) {
        // Nothing was reserved: there is no hugetlb support.
    }
}

/// Runs one row: left out, not built, without its hugetlb pages, or run.
void run_row(PlanWriter &plan, const Selftest &t) {
    if (!t.left_out.empty()) {
        plan.skip(t.name, "left out: " + t.left_out);
        return;
    }
    if (::access((kRoot + "/" + t.suite + "/" + t.argv.front()).c_str(), X_OK) != 0) {
        plan.fail(t.name, "not built: " + t.suite + "/" + t.argv.front() +
                              " (see the kselftest build logs on the host)");
        return;
    }
    if (const std::string missing = reserve_hugetlb_pages(t); !missing.empty()) {
        release_hugetlb_pages();
        plan.skip(t.name, missing);
        return;
    }
    std::cout << "    # Subtest: " << t.name << '\n' << std::flush;
    report(plan, t, run_test(t, kRoot, std::cout));
    if (t.hugetlb_mib > 0 || t.hugetlb_pages > 0) {
        release_hugetlb_pages();
    }
}

} // namespace

void report(PlanWriter &plan, const Selftest &t, const Ran &ran) {
    const std::string command = join_argv(t.argv);
    if (ran.stopped) {
        plan.ok(t.name, "stopped after " + std::to_string(t.stop_after) + " s, as its table says");
    } else if (ran.timed_out) {
        plan.fail(t.name, "timeout after " + std::to_string(t.timeout) + " s: " + command);
    } else if (ran.status == 0) {
        plan.ok(t.name);
    } else if (ran.status > 0 && t.exit_counts_failures) {
        plan.fail(t.name, std::to_string(ran.status) + " of its checks failed: " + command);
    } else if (ran.status == 4) {
        plan.skip(t.name, ran.last_line.empty() ? "exit status 4" : ran.last_line);
    } else if (ran.signal != 0) {
        plan.fail(t.name, "killed by signal " + std::to_string(ran.signal) + ": " + command);
    } else {
        plan.fail(t.name, "exit status " + std::to_string(ran.status) + ": " + command);
    }
}

int run_kselftests(const Options &opts) {
    const std::string &suite = opts.kselftest_suite;
    const auto text = try_read_file(kRoot + "/tests.json");
    if (!text) {
        write_skipped_plan(std::cout, "no " + kRoot +
                                          "/tests.json: this initramfs has no selftests (ptlab "
                                          "adds them for a kselftest plan)");
        return kExitSkip;
    }
    auto tests = tests_of(nlohmann::json::parse(*text), suite);
    if (!opts.kselftest_only.empty()) {
        std::erase_if(tests, [&](const Selftest &t) {
            return std::find(opts.kselftest_only.begin(), opts.kselftest_only.end(), t.name) ==
                   opts.kselftest_only.end();
        });
    }
    if (tests.empty()) {
        write_skipped_plan(std::cout,
                           "no test of suite " + suite + " is selected (ptlab.kselftests=)");
        return kExitSkip;
    }
    PlanWriter plan(std::cout, static_cast<int>(tests.size()),
                    {"upstream selftests of the step under test, suite " + suite});
    mount_hugetlbfs(plan, std::filesystem::path(kRoot) / "vm" / "huge");
    for (const auto &t : tests) {
        run_row(plan, t);
    }
    return plan.exit_code();
}

} // namespace ptlab
