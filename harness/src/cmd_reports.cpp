#include "ptlab/command.hpp"

#include "ptlab/bench.hpp"
#include "ptlab/lines.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

// Reports over many runs: the benchmark.

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

} // namespace

void add_report_commands(Commands &into) { into.push_back(std::make_unique<BenchReportCommand>()); }

} // namespace ptlab
