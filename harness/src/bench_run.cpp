#include "ptlab/bench_run.hpp"

#include "ptlab/bench.hpp"
#include "ptlab/boot.hpp"
#include "ptlab/command.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/run_guest.hpp"
#include "ptlab/tools.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

namespace ptlab {

namespace {

const std::vector<std::string> all_layouts = {"thp-private", "thp-shared", "pte-private",
                                              "pte-shared"};
const std::vector<std::string> all_access = {"write", "read"};

/// A comma-separated list, every word one of valid.
std::vector<std::string> parse_choices(const std::string &name, const std::string &text,
                                       const std::vector<std::string> &valid) {
    if (text.empty() || text.front() == ',' || text.back() == ',' ||
        text.find(",,") != std::string::npos) {
        throw KnobError(name + " must be a comma-separated list of: " + join_words(valid, " ") +
                        "; not '" + text + "'");
    }
    std::vector<std::string> words = split_words(text);
    for (const auto &w : words) {
        if (std::find(valid.begin(), valid.end(), w) == valid.end()) {
            throw KnobError(name + ": unknown '" + w + "'; valid: " + join_words(valid, " "));
        }
    }
    return words;
}

std::string parse_seconds(const std::string &text) {
    char *end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.';
    });
    if (!digits || end != text.c_str() + text.size() || !(value > 0)) {
        throw KnobError("BENCH_SECONDS must be a positive number of seconds (1, 0.5), not '" +
                        text + "'");
    }
    return text;
}

std::vector<std::string> parse_threads(const std::string &text, int smp) {
    std::vector<std::string> threads;
    std::string word;
    for (const char c : text + ",") {
        if (c != ',') {
            word += c;
            continue;
        }
        if (word.empty() || !std::all_of(word.begin(), word.end(), [](char d) {
                return std::isdigit(static_cast<unsigned char>(d)) != 0;
            })) {
            throw KnobError("BENCH_THREADS must be thread counts separated by commas (1,2), not '" +
                            text + "'");
        }
        const int n = std::atoi(word.c_str());
        if (n < 1 || n > smp) {
            throw KnobError("BENCH_THREADS: " + word + " is not between 1 and the guest's " +
                            std::to_string(smp) + " CPUs (SMP=" + std::to_string(smp) + ")");
        }
        threads.push_back(word);
        word.clear();
    }
    return threads;
}

std::string host_load() {
    std::ifstream in("/proc/loadavg");
    std::string first;
    in >> first;
    return first;
}

/// A run folder is reused by the next boot of the same kernel and plan: keep a copy.
void keep_run(const fs::path &from, const fs::path &to) {
    fs::remove_all(to);
    fs::create_directories(to);
    const RunFiles files = run_files(from.string());
    for (const auto *file : {&files.console_log, &files.qemu_stderr, &files.guest_json,
                             &files.result_json, &files.result_xml, &files.result_ktap}) {
        const fs::path path(*file);
        if (fs::exists(path)) {
            fs::copy_file(path, to / path.filename(), fs::copy_options::overwrite_existing);
        }
    }
}

struct Boot {
    std::string role;
    std::string flavour;
    int round;
    std::string step;
};

/// Rounds of base, head, base, head...: throughput first, then contention.
std::vector<Boot> boot_order(const BenchRequest &r) {
    std::vector<Boot> boots;
    for (int round = 1; round <= r.rounds; ++round) {
        for (const auto &step : {r.base, r.head}) {
            boots.push_back({"throughput", "bench", round, step});
        }
    }
    for (int round = 1; round <= r.lockstat_rounds; ++round) {
        for (const auto &step : {r.base, r.head}) {
            boots.push_back({"contention", "lockstat", round, step});
        }
    }
    return boots;
}

BenchRun boot_one(const Layout &layout, const BenchRequest &r, const Boot &b,
                  const fs::path &outdir, const Progress &progress) {
    const Tree tree(layout.src());
    Request boot = r.boot;
    boot.flavour = b.flavour;
    boot.step = b.step;
    boot.plans = {"bench"};
    boot.extra_args = bench_cmdline(r) + (r.boot.extra_args.empty() ? "" : " " + r.boot.extra_args);
    boot.timeout_seconds = bench_timeout_seconds(r);
    BenchRun run;
    run.config = boot.config;
    run.step = tree.step_name(b.step);
    run.flavour = b.flavour;
    run.role = b.role;
    run.round = b.round;
    const std::string load = host_load();
    run.host_load = std::strtod(load.c_str(), nullptr);
    const std::string name = b.role + "-" + run.step + "-" + std::to_string(b.round);
    run.dir = (outdir / "runs" / name).string();
    const BuiltKernel kernel = prebuilt_kernel(layout, boot);
    run.kernel_out = kernel.dir.dir.string();
    const auto start = std::chrono::steady_clock::now();
    std::ofstream report(outdir / "runs" / (name + ".out"));
    const Progress quiet(report, false);
    int rc = 1;
    try {
        rc = boot_kernel(layout, boot, kernel, report, quiet);
    } catch (const std::exception &e) {
        report << "error: " << e.what() << '\n';
    }
    keep_run(layout.run_dir(boot.config, b.flavour, run.step, boot.plans), run.dir);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.say("bench " + boot.config + ": " + b.role + " " + run.step + " round " +
                 std::to_string(b.round) + ": " + (rc == 0 ? "pass" : "FAIL") + " (" +
                 elapsed_text(took) + ", host load " + load + " before)" +
                 (rc == 0 ? "" : ": " + (outdir / "runs" / (name + ".out")).string()));
    read_bench_run(run);
    return run;
}

void write_report(const Layout &layout, const BenchRequest &r, const BenchReport &report,
                  const fs::path &outdir, std::ostream &out) {
    const fs::path results = layout.results();
    const std::string stem = "bench-" + r.boot.config;
    std::ostringstream table;
    print_bench_report(table, report);
    out << table.str();
    write_output((results / (stem + ".txt")).string(), [&](std::ostream &o) { o << table.str(); });
    write_output((results / (stem + ".json")).string(),
                 [&](std::ostream &o) { o << bench_report_to_json(report); });
    const fs::path png = results / (stem + ".png");
    if (report.throughput.empty()) {
        fs::remove(png);
        out << "bench " << r.boot.config << ": no throughput measured, no plot\n";
        return;
    }
    const fs::path data = outdir / "plot.dat";
    const fs::path script = outdir / "plot.gp";
    write_output(data.string(), [&](std::ostream &o) { o << bench_plot_data(report); });
    write_output(script.string(), [&](std::ostream &o) {
        o << bench_gnuplot_script(report, data.string(), png.string());
    });
    ProcessOptions log;
    log.log = outdir / "gnuplot.log";
    if (run_process({"gnuplot", script.string()}, log) != 0) {
        throw std::runtime_error("gnuplot failed on " + script.string() + "; see " +
                                 log.log.string());
    }
}

} // namespace

BenchRequest bench_request_from(const Getenv &env, const Layout &layout) {
    BenchRequest r;
    r.boot = request_from(env, layout);
    const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
    // The guest gets a vCPU per host CPU: QEMU runs one TCG thread per vCPU (MTTCG).
    if (r.boot.smp == 0) {
        r.boot.smp = static_cast<int>(cpus);
    }
    r.base = knob_value(env, "BASE");
    r.head = knob_value(env, "HEAD");
    r.rounds = parse_count("ROUNDS", knob_value(env, "ROUNDS"), 1, 100);
    r.lockstat_rounds = parse_count("LOCKSTAT_ROUNDS", knob_value(env, "LOCKSTAT_ROUNDS"), 0, 100);
    r.reps = parse_count("BENCH_REPS", knob_value(env, "BENCH_REPS"), 1, 1000);
    r.warmup = parse_count("BENCH_WARMUP", knob_value(env, "BENCH_WARMUP"), 0, 100);
    const Geometry g = geometry_of_fragment(layout.geometry_fragment(r.boot.config));
    const std::string default_seconds = g.pmd_size() >= (512ULL << 20) ? "3" : "1";
    const std::string seconds = knob_value(env, "BENCH_SECONDS");
    r.seconds = parse_seconds(seconds.empty() ? default_seconds : seconds);
    if (const auto t = env("BENCH_THREADS"); t && !t->empty()) {
        r.threads = parse_threads(*t, r.boot.smp);
    }
    if (const auto l = env("BENCH_LAYOUTS"); l && !l->empty()) {
        r.layouts = parse_choices("BENCH_LAYOUTS", *l, all_layouts);
    }
    r.access = parse_choices("BENCH_ACCESS", knob_value(env, "BENCH_ACCESS"), all_access);
    return r;
}

int bench_timeout_seconds(const BenchRequest &r) {
    const std::size_t threads =
        r.threads.empty() ? static_cast<std::size_t>(r.boot.smp) : r.threads.size();
    const std::size_t layouts = r.layouts.empty() ? all_layouts.size() : r.layouts.size();
    const std::size_t cells = threads * layouts * r.access.size();
    const long secs =
        std::max(1L, static_cast<long>(std::floor(std::strtod(r.seconds.c_str(), nullptr))));
    return static_cast<int>(600 + static_cast<long>(cells) * (r.reps + r.warmup) * (secs * 3 + 5));
}

std::string bench_cmdline(const BenchRequest &r) {
    std::string line = "ptlab.bench_reps=" + std::to_string(r.reps) +
                       " ptlab.bench_warmup=" + std::to_string(r.warmup) +
                       " ptlab.bench_seconds=" + r.seconds +
                       " ptlab.bench_access=" + join_words(r.access, ",");
    if (!r.threads.empty()) {
        line += " ptlab.bench_threads=" + join_words(r.threads, ",");
    }
    if (!r.layouts.empty()) {
        line += " ptlab.bench_layouts=" + join_words(r.layouts, ",");
    }
    return line;
}

int run_bench(const Layout &layout, const BenchRequest &r, std::ostream &out,
              const Progress &progress) {
    const Tree tree(layout.src());
    if (tree.resolve_step(r.base) == tree.resolve_step(r.head)) {
        throw KnobError("BASE=" + r.base + " and HEAD=" + r.head + " are the same commit");
    }
    need_tools(layout.tool_packages(), {"gnuplot"});
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::string> flavours = {"bench"};
    if (r.lockstat_rounds > 0) {
        flavours.emplace_back("lockstat");
    }
    for (const auto &flavour : flavours) {
        for (const auto &step : {r.base, r.head}) {
            (void)build_kernel(layout, {r.boot.config, flavour, step}, {}, progress);
        }
    }
    build_guest_userspace(layout);
    const fs::path outdir = layout.results() / ("bench-" + r.boot.config);
    fs::remove_all(outdir);
    fs::create_directories(outdir / "runs");
    progress.say("bench " + r.boot.config + ": " + r.base + " vs " + r.head + ", guest " +
                 std::to_string(r.boot.smp) + " CPUs; " + std::to_string(r.rounds) +
                 " throughput + " + std::to_string(r.lockstat_rounds) +
                 " lock_stat boots per step, " + std::to_string(r.reps) + " reps of " + r.seconds +
                 "s per cell");
    std::vector<BenchRun> runs;
    nlohmann::json index = {{"runs", nlohmann::json::array()}};
    for (const Boot &b : boot_order(r)) {
        runs.push_back(boot_one(layout, r, b, outdir, progress));
        index["runs"].push_back(bench_index_entry(runs.back()));
        write_output((outdir / "runs.json").string(),
                     [&](std::ostream &o) { o << index.dump(2) << '\n'; });
    }
    const BenchReport report =
        build_bench_report(runs, tree.step_name(r.base), tree.step_name(r.head));
    write_report(layout, r, report, outdir, out);
    progress.say(
        "bench " + r.boot.config + ": done in " +
        elapsed_text(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) +
        "; table build/results/bench-" + r.boot.config + ".txt, JSON .json, plot .png");
    return report.problems.empty() && !report.throughput.empty() ? 0 : 1;
}

} // namespace ptlab
