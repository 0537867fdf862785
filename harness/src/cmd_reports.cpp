#include "ptlab/command.hpp"

#include "ptlab/bench.hpp"
#include "ptlab/compare.hpp"
#include "ptlab/layout.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/request.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

// Reports over many runs: the benchmark, and what changed between two runs.

namespace ptlab {

namespace {

struct BenchReportArgs {
    std::string index;
    std::string base = "series-base";
    std::string head = "series-head";
    std::string json;
    std::string plot_data;
    std::string gnuplot;
    std::string png;
};

int bench_report_cmd(const BenchReportArgs &args, std::ostream &out) {
    const BenchReport report =
        build_bench_report(load_bench_runs(nlohmann::json::parse(read_text_file(args.index)),
                                           std::filesystem::path(args.index).parent_path()),
                           args.base, args.head);
    print_bench_report(out, report);
    write_output(args.json, [&](std::ostream &o) { o << bench_report_to_json(report); });
    write_output(args.plot_data, [&](std::ostream &o) { o << bench_plot_data(report); });
    if (!args.gnuplot.empty()) {
        if (args.plot_data.empty() || args.png.empty()) {
            throw std::runtime_error("--gnuplot needs --plot-data and --png");
        }
        // Nothing to draw: no script (make bench then skips the plot).
        if (!report.throughput.empty()) {
            write_output(args.gnuplot, [&](std::ostream &o) {
                o << bench_gnuplot_script(report, args.plot_data, args.png);
            });
        }
    }
    return report.problems.empty() && !report.throughput.empty() ? 0 : 1;
}

class BenchReportCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "bench-report", "make bench: head/base table, JSON and plot data from the bench runs' "
                            "console logs; exit 0 iff every run passed and reported");
        sub_->add_option("RUNS", bench_args.index,
                         "runs.json of make bench: config, step, flavour, role, round, run "
                         "folder, kernel build folder (relative paths: from its folder)")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--base", bench_args.base, "the baseline step (default series-base)");
        sub_->add_option("--head", bench_args.head, "the step compared (default series-head)");
        sub_->add_option("--json", bench_args.json, "write the report as JSON to this file");
        sub_->add_option("--plot-data", bench_args.plot_data,
                         "write gnuplot data (faults/s against threads) to this file");
        sub_->add_option("--gnuplot", bench_args.gnuplot,
                         "write a gnuplot script drawing --plot-data into --png (not when "
                         "there is no throughput row to draw)");
        sub_->add_option("--png", bench_args.png, "the PNG the gnuplot script draws");
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return bench_report_cmd(bench_args, out);
    }

private:
    BenchReportArgs bench_args;
};

/// A results folder, or the summary.json or matrix.json in it, and its meta.json (or null).
struct ResultsFolder {
    FlatResults results;
    nlohmann::json meta;
};

ResultsFolder load_results_folder(const std::filesystem::path &where) {
    namespace fs = std::filesystem;
    fs::path file = where;
    if (fs::is_directory(where)) {
        file = fs::exists(where / "matrix.json") ? where / "matrix.json" : where / "summary.json";
    }
    if (!fs::exists(file)) {
        throw std::runtime_error(where.string() +
                                 ": no summary.json (make test) or matrix.json (make matrix)");
    }
    ResultsFolder r;
    try {
        r.results = flatten_results(nlohmann::json::parse(read_text_file(file)));
    } catch (const std::exception &e) {
        throw std::runtime_error(file.string() + ": " + e.what());
    }
    const fs::path meta = file.parent_path() / "meta.json";
    r.meta = fs::exists(meta) ? nlohmann::json::parse(read_text_file(meta)) : nlohmann::json{};
    return r;
}

class CompareCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "compare", "what changed from results A to B (make test or make matrix folders; "
                       "default: the last kept run and the one before it of its kind); exit 1 "
                       "on a new failure (make compare)");
        sub_->add_option("A", a_, "the earlier results (default: env A, or the last run but one)");
        sub_->add_option("B", b_, "the later results (default: env B, or the last run)");
        sub_->add_option("--slower", options_.duration_ratio,
                         "report durations that moved by this factor (default 1.5) ...");
        sub_->add_option("--min-seconds", options_.duration_floor,
                         "... and by at least this many seconds (default 10)");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        const Getenv env = process_env();
        std::string a = a_.empty() ? knob_value(env, "A") : a_;
        std::string b = b_.empty() ? knob_value(env, "B") : b_;
        if (a.empty() || b.empty()) {
            const auto kept = kept_results(layout);
            if (kept.size() < 2) {
                throw std::runtime_error("make compare needs A=<results> B=<results>, or two "
                                         "runs kept in " +
                                         layout.results_history().string() + " (there are " +
                                         std::to_string(kept.size()) + ")");
            }
            const auto [earlier, last] = last_two_alike(kept);
            a = a.empty() ? earlier.string() : a;
            b = b.empty() ? last.string() : b;
        }
        err << "compare: A " << a << "\n         B " << b << '\n';
        const ResultsFolder before = load_results_folder(a);
        const ResultsFolder after = load_results_folder(b);
        const auto changes = compare_results(before.results, after.results, options_);
        print_comparison(out, changes, meta_differences(before.meta, after.meta));
        return has_new_failure(changes) ? 1 : 0;
    }

private:
    std::string a_;
    std::string b_;
    CompareOptions options_;
};

} // namespace

void add_report_commands(Commands &into) {
    into.push_back(std::make_unique<BenchReportCommand>());
    into.push_back(std::make_unique<CompareCommand>());
}

} // namespace ptlab
