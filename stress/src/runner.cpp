// Runs the workloads of one command (concurrently for `all`), prints progress while they run,
// checks page-table teardown, and writes the KTAP or JSON report.

#include "procfs.hpp"
#include "workload.hpp"

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace ptlab {

namespace {

extern "C" void on_stop_signal(int) { stop_requested().store(true); }
extern "C" void on_wakeup_signal(int) {}

void install_signal_handlers() {
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    // SIGUSR1 interrupts a KVM_RUN that takes too long (no SA_RESTART).
    sa.sa_handler = on_wakeup_signal;
    ::sigaction(SIGUSR1, &sa, nullptr);
}

std::uint64_t meminfo_value(const Meminfo &m, const char *key) {
    const auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
}

Meminfo meminfo_or_empty() {
    refresh_vm_stats();
    const auto text = read_file_patiently("/proc/meminfo");
    return text ? parse_meminfo(*text) : Meminfo{};
}

// Page-table pages this process's mappings can account for, 0 when /proc/self/maps is
// unreadable.
std::uint64_t own_table_pages() {
    const auto maps = read_file_patiently("/proc/self/maps");
    try {
        return maps ? page_table_pages_bound(parse_smaps(*maps), page_size()) : 0;
    } catch (const std::runtime_error &) {
        return 0;
    }
}

// PageTables and SecPageTables are back to their values before the run. PageTables may keep
// what the process's own mappings grew by since (glibc keeps exited threads' stacks mapped,
// malloc keeps its heap), plus 32 pages for the rest of the system; SecPageTables nothing.
TestNode teardown_check(const Meminfo &before, std::uint64_t own_pages_before) {
    TestNode node("teardown");
    const std::uint64_t own_now = own_table_pages();
    const std::uint64_t own_growth = own_now > own_pages_before ? own_now - own_pages_before : 0;
    const std::uint64_t tol_kb = (32 + own_growth) * page_size() / 1024;
    Meminfo after = meminfo_or_empty();
    auto settled = [&] {
        return meminfo_value(after, "PageTables") <= meminfo_value(before, "PageTables") + tol_kb &&
               meminfo_value(after, "SecPageTables") <= meminfo_value(before, "SecPageTables");
    };
    for (int i = 0; i < 25 && !settled(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        after = meminfo_or_empty();
    }
    if (before.count("PageTables") == 0) {
        node.skip("pagetables", "no PageTables in /proc/meminfo");
    } else {
        const auto b = meminfo_value(before, "PageTables");
        const auto a = meminfo_value(after, "PageTables");
        node.check("pagetables", a <= b + tol_kb,
                   "PageTables before=" + std::to_string(b) + " kB, after=" + std::to_string(a) +
                       " kB (tolerance " + std::to_string(tol_kb) + " kB: 32 pages + " +
                       std::to_string(own_growth) +
                       " that this process's mappings grew by, at most)");
    }
    if (before.count("SecPageTables") == 0) {
        node.skip("secpagetables", "no SecPageTables in /proc/meminfo");
    } else {
        const auto b = meminfo_value(before, "SecPageTables");
        const auto a = meminfo_value(after, "SecPageTables");
        node.check("secpagetables", a <= b,
                   "SecPageTables before=" + std::to_string(b) + " kB, after=" + std::to_string(a) +
                       " kB (tolerance 0 kB)");
    }
    node.settle();
    return node;
}

std::vector<std::unique_ptr<Workload>> workloads_of(const std::string &command) {
    std::vector<std::unique_ptr<Workload>> workloads;
    if (command == "thp" || command == "all") {
        workloads.push_back(make_thp_workload());
    }
    if (command == "efi" || command == "all") {
        workloads.push_back(make_efi_workload());
    }
    if (command == "kvm" || command == "all") {
        workloads.push_back(make_kvm_workload());
    }
    return workloads;
}

/// What ran and how to run it again: the KTAP header's diagnostics.
std::vector<std::string> run_header(const Options &opts) {
    std::ostringstream what;
    what << "ptlab-stress " << PTLAB_STRESS_VERSION << ": " << opts.command << " seed=" << opts.seed
         << (opts.seed_given ? "" : " (random)") << " threads=" << opts.threads;
    if (opts.iterations) {
        what << " iterations=" << *opts.iterations;
    } else {
        what << " duration=" << opts.effective_duration() << "s";
    }
    what << " page=" << page_size() / 1024 << "kB";
    return {what.str(), "reproduce: " + opts.reproduce_command()};
}

WorkloadContext context_of(const Options &opts, bool concurrent) {
    WorkloadContext ctx;
    ctx.seed = opts.seed;
    ctx.threads = opts.threads;
    ctx.iterations = opts.iterations;
    ctx.duration = opts.effective_duration();
    ctx.concurrent = concurrent;
    ctx.mem_percent = opts.mem_percent;
    ctx.ipa_bits = opts.ipa_bits;
    ctx.start = Clock::now();
    return ctx;
}

TestNode failed_node(const std::string &name, const std::string &why) {
    TestNode node(name);
    node.result = Result::Fail;
    node.diag(why);
    return node;
}

/// Each workload on a thread of its own; progress every 10 s, so a slow guest shows signs of
/// life; one result per workload.
std::vector<TestNode> run_concurrently(std::vector<std::unique_ptr<Workload>> &workloads,
                                       const WorkloadContext &ctx, bool json, std::ostream &out) {
    std::vector<TestNode> results(workloads.size());
    std::vector<std::thread> threads;
    JoinGuard join_all(threads);
    std::atomic<std::size_t> finished{0};
    for (std::size_t i = 0; i < workloads.size(); ++i) {
        const bool started = spawn_thread(
            threads,
            [&, i] {
                try {
                    results[i] = workloads[i]->run(ctx);
                } catch (const std::exception &e) {
                    results[i] =
                        failed_node(workloads[i]->name(), std::string("aborted: ") + e.what());
                }
                ++finished;
            },
            nullptr);
        if (!started) {
            results[i] = failed_node(workloads[i]->name(),
                                     "could not start its thread (clone() kept failing)");
            ++finished;
        }
    }
    double next_report = 10;
    while (finished.load() < workloads.size()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const double t = seconds_since(ctx.start);
        if (t >= next_report) {
            next_report += 10;
            std::string line = "progress t=" + std::to_string(static_cast<int>(t)) + "s";
            for (const auto &w : workloads) {
                line += " | " + w->name() + " " + w->progress();
            }
            if (json) {
                std::cerr << line << '\n';
            } else {
                out << "# " << line << '\n' << std::flush;
            }
        }
    }
    join_all.join();
    return results;
}

/// The teardown check alone does not make a run that skipped everything a pass.
int run_exit_code(const std::vector<TestNode> &results) {
    bool all_skipped = true;
    for (std::size_t i = 0; i + 1 < results.size(); ++i) {
        all_skipped = all_skipped && results[i].result == Result::Skip;
    }
    const int rc = exit_code_for(results);
    return rc == kExitPass && all_skipped ? kExitSkip : rc;
}

void write_json_report(std::ostream &out, const Options &opts, const std::vector<TestNode> &results,
                       int rc) {
    nlohmann::json j;
    j["tool"] = "ptlab-stress";
    j["version"] = PTLAB_STRESS_VERSION;
    j["command"] = opts.command;
    j["seed"] = opts.seed;
    j["seed_given"] = opts.seed_given;
    j["threads"] = opts.threads;
    if (opts.iterations) {
        j["iterations"] = *opts.iterations;
    } else {
        j["duration_s"] = opts.effective_duration();
    }
    j["page_size"] = page_size();
    j["reproduce"] = opts.reproduce_command();
    j["exit_code"] = rc;
    j["result"] = rc == kExitPass ? "pass" : rc == kExitSkip ? "skip" : "fail";
    auto &w = j["workloads"] = nlohmann::json::array();
    for (std::size_t i = 0; i + 1 < results.size(); ++i) {
        w.push_back(to_json(results[i]));
    }
    j["teardown"] = to_json(results.back());
    out << j.dump(2) << '\n' << std::flush;
}

} // namespace

/// Phases: pick the workloads, announce them, note the page-table baseline, run them, check
/// the teardown, report.
int run_workloads(const Options &opts) {
    install_signal_handlers();
    if (opts.command == "bench") {
        return run_bench(opts);
    }
    std::vector<std::unique_ptr<Workload>> workloads = workloads_of(opts.command);
    std::ostream &out = std::cout;
    if (!opts.json) {
        out << "KTAP version 1\n";
        for (const auto &h : run_header(opts)) {
            out << "# " << h << '\n';
        }
        out << "1.." << workloads.size() + 1 << '\n' << std::flush;
    }
    const Meminfo before = meminfo_or_empty();
    const std::uint64_t own_pages_before = own_table_pages();
    const WorkloadContext ctx = context_of(opts, workloads.size() > 1);
    std::vector<TestNode> results = run_concurrently(workloads, ctx, opts.json, out);
    workloads.clear();
    results.push_back(teardown_check(before, own_pages_before));
    const int rc = run_exit_code(results);
    if (opts.json) {
        write_json_report(out, opts, results, rc);
    } else {
        int n = 0;
        for (const auto &r : results) {
            write_ktap_test(out, r, ++n, 0);
        }
        out << std::flush;
    }
    return rc;
}

} // namespace ptlab
