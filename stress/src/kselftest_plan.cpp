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
#include <poll.h>
#include <sys/wait.h>
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
        tests.push_back(std::move(t));
    }
    return tests;
}

/// Runs the test with its output indented under the plan's "# Subtest:" line.
Ran run_test(const Selftest &t, const std::filesystem::path &root, std::ostream &out) {
    Ran ran;
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        ran.last_line = "pipe: " + errno_text(errno);
        return ran;
    }
    const std::string dir = (root / t.suite).string();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::dup2(pipe_fds[1], STDERR_FILENO);
        if (::chdir(dir.c_str()) != 0) {
            ::_exit(127);
        }
        std::vector<char *> args;
        for (const auto &a : t.argv) {
            args.push_back(const_cast<char *>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        std::printf("cannot run %s/%s: %s\n", dir.c_str(), args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
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
        pollfd p{pipe_fds[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1) <= 0) {
            continue;
        }
        char buf[4096];
        const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
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
    ::close(pipe_fds[0]);
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

/// The hugetlb tests need reserved pages (map_hugetlb maps 256 MiB): 320 MiB of them, or a
/// sixth of the memory when that is less (one 512 MiB page on 64K).
void reserve_hugetlb_pages(PlanWriter &plan) {
    Meminfo m = read_meminfo();
    const std::uint64_t size_kb = m["Hugepagesize"];
    if (size_kb == 0) {
        return;
    }
    const std::uint64_t pages = std::max<std::uint64_t>(
        1,
        std::min<std::uint64_t>(320 * 1024, std::max<std::uint64_t>(m["MemTotal"] / 6, size_kb)) /
            size_kb);
    try {
        write_file("/proc/sys/vm/nr_hugepages", std::to_string(pages));
    } catch (const SysError &e) {
        plan.note(std::string("cannot reserve hugetlb pages: ") + e.what());
    }
    plan.note("hugetlb: " + std::to_string(read_meminfo()["HugePages_Total"]) + " pages of " +
              std::to_string(size_kb) + " kB reserved");
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
    reserve_hugetlb_pages(plan);
    for (const auto &t : tests) {
        if (!t.left_out.empty()) {
            plan.skip(t.name, "left out: " + t.left_out);
            continue;
        }
        if (::access((kRoot + "/" + t.suite + "/" + t.argv.front()).c_str(), X_OK) != 0) {
            plan.fail(t.name, "not built: " + t.suite + "/" + t.argv.front() +
                                  " (see the kselftest build logs on the host)");
            continue;
        }
        std::cout << "    # Subtest: " << t.name << '\n' << std::flush;
        report(plan, t, run_test(t, kRoot, std::cout));
    }
    return plan.exit_code();
}

} // namespace ptlab
