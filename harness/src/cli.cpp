#include "ptlab/cli.hpp"

#include "ptlab/base_record.hpp"
#include "ptlab/bench.hpp"
#include "ptlab/expect.hpp"
#include "ptlab/gtest_import.hpp"
#include "ptlab/guest.hpp"
#include "ptlab/kconfig.hpp"
#include "ptlab/ktap.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/patches.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"
#include "ptlab/run_guest.hpp"
#include "ptlab/splat.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

namespace ptlab {

namespace {

void write_output(const std::string &path, const std::function<void(std::ostream &)> &writer) {
    if (path.empty()) {
        return;
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) {
        throw std::runtime_error("cannot write " + path);
    }
    writer(file);
    file.flush();
    if (!file) {
        throw std::runtime_error("error writing " + path);
    }
}

struct OutputOptions {
    std::string json;
    std::string junit;
};

void add_output_options(CLI::App *cmd, OutputOptions &options) {
    cmd->add_option("--json", options.json, "write the verdict as JSON to this file");
    cmd->add_option("--junit", options.junit, "write JUnit XML to this file");
}

void write_outputs(const OutputOptions &options, const Summary &summary) {
    write_output(options.json, [&](std::ostream &o) { o << summary_to_json(summary); });
    write_output(options.junit, [&](std::ostream &o) { write_junit(o, summary); });
}

struct CheckLogArgs {
    std::string log;
    std::string guest;
    bool timed_out = false;
    std::vector<std::string> allow;
    OutputOptions outputs;
    std::string ktap_out;
    std::string label;
};

int check_log(const CheckLogArgs &args, std::ostream &out) {
    RunOptions options;
    options.timed_out = args.timed_out;
    if (!args.guest.empty()) {
        const GuestExit exit = guest_exit_from_json(read_text_file(args.guest));
        options.timed_out = options.timed_out || exit.timed_out;
        options.qemu = qemu_end_of(exit);
    }
    options.allowed_kinds.insert(args.allow.begin(), args.allow.end());
    const Verdict verdict = judge_run(read_lines(args.log), options);
    const std::string label =
        args.label.empty() ? std::filesystem::path(args.log).stem().string() : args.label;
    const Summary summary = summary_from_verdict(verdict, label);
    print_report(out, summary);
    write_outputs(args.outputs, summary);
    write_output(args.ktap_out, [&](std::ostream &o) { write_ktap_block(o, summary, label); });
    return verdict.outcome == Outcome::Pass ? 0 : 1;
}

/// Names of the failed or errored tests anywhere in a result.json's tree, each once.
void failing_names(const nlohmann::json &tests, std::set<std::string> &into) {
    for (const auto &test : tests) {
        const std::string status = test.value("status", "");
        if (status == "fail" || status == "error") {
            into.insert(test.value("name", ""));
        }
        failing_names(test.value("subtests", nlohmann::json::array()), into);
    }
}

/// One fact of a run's result.json, for the shell glue that reports it.
int result_get(const std::string &path, const std::string &field, std::ostream &out) {
    const auto j = nlohmann::json::parse(read_text_file(path));
    const std::string reason = j.value("reason", "");
    const std::string detail = j.value("detail", "");
    if (field == "reason") {
        out << reason << '\n';
    } else if (field == "verdict") {
        out << (reason.empty() ? "pass" : reason) << (detail.empty() ? "" : " (" + detail + ")")
            << '\n';
    } else {
        std::set<std::string> names;
        failing_names(j.value("tests", nlohmann::json::array()), names);
        std::string joined;
        for (const auto &name : names) {
            joined += (joined.empty() ? "" : ", ") + name;
        }
        out << joined << '\n';
    }
    return 0;
}

struct BaseCheckArgs {
    std::string record;
    BaseRecord built;
    std::string readme;
    bool write = false;
};

/// Exit 0: the tree is the recorded one; 3: Debian moved the base (say so, go on); 1: the
/// same version gave other ids, or README quotes ids that are not the record's.
int base_check(const BaseCheckArgs &args, std::ostream &out) {
    if (args.write) {
        write_output(args.record, [&](std::ostream &o) { o << base_record_to_json(args.built); });
        out << "source: recorded " << args.built.package << " " << args.built.version << " in "
            << args.record << '\n';
        return 0;
    }
    const BaseRecord recorded = load_base_record(args.record);
    const BaseComparison c = compare_base(recorded, args.built);
    for (const auto &line : c.lines) {
        out << line << '\n';
    }
    int rc = c.drift == BaseDrift::NewVersion ? 3 : c.drift == BaseDrift::None ? 0 : 1;
    if (!args.readme.empty()) {
        for (const auto &id : unquoted_ids(recorded, read_text_file(args.readme))) {
            out << args.readme << " does not quote the recorded " << id << '\n';
            rc = 1;
        }
    }
    return rc;
}

TestResult group_of(std::string name, std::vector<TestResult> leaves) {
    TestResult group;
    group.name = std::move(name);
    group.subtests = std::move(leaves);
    const bool failed =
        contains_status(group, Status::Fail) || contains_status(group, Status::Error);
    group.status = failed ? Status::Fail : Status::Pass;
    if (group.subtests.empty()) {
        group.status = Status::Skip;
        group.skip_reason = "no tests in report";
    }
    return group;
}

int summarize(const std::vector<std::string> &files, const OutputOptions &outputs,
              std::ostream &out) {
    Summary summary;
    for (const auto &file : files) {
        const std::string text = read_text_file(file);
        const std::string stem = std::filesystem::path(file).stem().string();
        if (looks_like_gtest_json(text)) {
            summary.tests.push_back(group_of(stem, import_gtest_json(text)));
            continue;
        }
        const std::string_view head = trim_left(text);
        if (!head.empty() && head[0] == '{') {
            throw std::runtime_error(file + ": JSON but not a GoogleTest report");
        }
        KtapLog ktap = parse_ktap(split_lines(text));
        if (!ktap.found) {
            TestResult missing;
            missing.name = stem;
            missing.status = Status::Error;
            missing.diagnostics.push_back(file + ": no KTAP output found");
            summary.tests.push_back(std::move(missing));
            continue;
        }
        for (auto &test : ktap.root.subtests) {
            summary.tests.push_back(std::move(test));
        }
        if (ktap.root.status == Status::Error) {
            TestResult error;
            error.name = stem + ": ktap";
            error.status = Status::Error;
            error.diagnostics = std::move(ktap.root.diagnostics);
            summary.tests.push_back(std::move(error));
        }
    }
    const Counts counts = count_summary(summary);
    summary.pass = counts.failed == 0;
    if (!summary.pass) {
        summary.reason = reason::test_failures;
    }
    print_report(out, summary);
    write_outputs(outputs, summary);
    return summary.pass ? 0 : 1;
}

int config_check(const std::string &config_path, const std::vector<std::string> &fragments,
                 std::ostream &out) {
    const DotConfig config = parse_dotconfig(read_lines(config_path));
    std::size_t problems = 0;
    // Fragments merge in order, a later one overriding an earlier one (merge_config.sh); each
    // option is checked against what the last fragment that names it asks.
    ConfigFragment merged;
    std::map<std::string, std::string> asked_by;
    for (const auto &path : fragments) {
        const ConfigFragment fragment = parse_config_fragment(read_lines(path));
        for (const auto &error : fragment.errors) {
            out << path << ": " << error << '\n';
            ++problems;
        }
        for (const auto &entry : fragment.entries) {
            merged.entries.push_back(entry);
            asked_by[entry.symbol] = path;
        }
    }
    for (const auto &mismatch : check_config(merged, config)) {
        out << asked_by[mismatch.symbol] << ": " << mismatch.message() << '\n';
        ++problems;
    }
    const std::size_t checked = distinct_symbols(merged);
    if (problems == 0) {
        out << "config-check: " << checked << " options checked, all set as asked\n";
        return 0;
    }
    out << "config-check: " << checked << " options checked, " << problems << " not set as asked\n";
    return 1;
}

struct ExpectArgs {
    std::string data;
    std::string config;
    std::string subjects;
    bool json = false;
};

int expect_cmd(const ExpectArgs &args, std::ostream &out, std::ostream &err) {
    const auto data = nlohmann::json::parse(read_text_file(args.data));
    std::vector<std::string> subjects;
    for (const auto &line : read_lines(args.subjects)) {
        if (!trim(line).empty()) {
            subjects.emplace_back(trim(line));
        }
    }
    const Expectations e = expect(data, args.config, subjects);
    for (const auto &s : e.unknown_subjects) {
        err << "ptlab expect: no expectations for a commit named '" << s
            << "'; it is taken to change nothing\n";
    }
    if (args.json) {
        out << nlohmann::json{{"values", e.values}, {"patches", e.patches}}.dump(2) << '\n';
    } else {
        out << to_cmdline_value(e) << '\n';
    }
    return 0;
}

struct PatchCheckArgs {
    std::string upstream;
    std::string series;
    std::string base;
};

int patch_check(const PatchCheckArgs &args, std::ostream &out) {
    const auto upstream = load_patches(args.upstream);
    const auto series = load_patches(args.series);
    const auto base = load_patches(args.base);
    const auto problems = check_provenance(upstream, series, base);
    for (const auto &p : problems) {
        out << p << '\n';
    }
    out << "patch-check: " << upstream.size() << " upstream, " << series.size() << " ported, "
        << base.size() << " baseline patches, " << problems.size() << " problems\n";
    return problems.empty() ? 0 : 1;
}

int matrix_cmd(const std::string &index, const OutputOptions &outputs, std::ostream &out) {
    const auto cells = load_matrix(read_lines(index));
    print_matrix(out, cells);
    write_output(outputs.json, [&](std::ostream &o) { o << matrix_to_json(cells); });
    write_output(outputs.junit, [&](std::ostream &o) { write_matrix_junit(o, cells); });
    return std::all_of(cells.begin(), cells.end(),
                       [](const MatrixCell &c) { return c.outcome == "pass"; })
               ? 0
               : 1;
}

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
    const BenchReport report = build_bench_report(
        load_bench_runs(read_lines(args.index), std::filesystem::path(args.index).parent_path()),
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

} // namespace

int run_cli(int argc, const char *const *argv, std::ostream &out, std::ostream &err) {
    CLI::App app{"ptlab: turn kernel test lab console logs into verdicts", "ptlab"};
    app.require_subcommand(1);

    CheckLogArgs check_args;
    auto *check = app.add_subcommand("check-log", "parse one boot's console log; exit 0 on "
                                                  "pass, 1 on fail");
    check->add_option("LOG", check_args.log, "console log captured from the serial port")
        ->required()
        ->check(CLI::ExistingFile);
    check->add_flag("--timed-out", check_args.timed_out, "the runner killed QEMU on timeout");
    check->add_option("--guest", check_args.guest, "guest.json of the run: how QEMU ended")
        ->check(CLI::ExistingFile);
    check
        ->add_option("--allow", check_args.allow,
                     "splat kind that is informational only (repeatable, or comma-separated)")
        ->check(CLI::IsMember(splat_kinds()))
        ->delimiter(',')
        ->allow_extra_args(false);
    add_output_options(check, check_args.outputs);
    check->add_option("--ktap-out", check_args.ktap_out,
                      "write the results as one KTAP subtest block to this file");
    check->add_option("--label", check_args.label,
                      "name of the --ktap-out block and report title (default: LOG's stem)");

    std::vector<std::string> summary_files;
    OutputOptions summary_outputs;
    auto *summary = app.add_subcommand(
        "summarize", "merge KTAP files and GoogleTest JSON reports into one summary; exit 0 "
                     "iff nothing failed");
    summary->add_option("FILE", summary_files, "KTAP file or gtest JSON report")
        ->required()
        ->check(CLI::ExistingFile);
    add_output_options(summary, summary_outputs);

    std::string config_path;
    std::vector<std::string> fragments;
    auto *config_check_cmd = app.add_subcommand(
        "config-check", "check that a .config has every option as a Kconfig fragment asks");
    config_check_cmd->add_option("--config", config_path, "the .config to check")
        ->required()
        ->check(CLI::ExistingFile);
    config_check_cmd->add_option("FRAGMENT", fragments, "Kconfig fragment")
        ->required()
        ->check(CLI::ExistingFile);

    std::string get_config_path;
    std::string symbol;
    auto *config_get_cmd =
        app.add_subcommand("config-get", "print one symbol's value in a .config (n if not set)");
    config_get_cmd->add_option("--config", get_config_path, "the .config to read")
        ->required()
        ->check(CLI::ExistingFile);
    config_get_cmd->add_option("SYMBOL", symbol, "symbol, with or without CONFIG_")->required();

    ExpectArgs expect_args;
    auto *expect_cmd_app = app.add_subcommand(
        "expect", "print what a config at a step promises (k:v,k:v for the kernel command line)");
    expect_cmd_app->add_option("--data", expect_args.data, "configs/expectations.json")
        ->required()
        ->check(CLI::ExistingFile);
    expect_cmd_app->add_option("--config", expect_args.config, "config name")->required();
    expect_cmd_app
        ->add_option("--subjects", expect_args.subjects,
                     "file with the subjects of the step's commits on top of series-base")
        ->required()
        ->check(CLI::ExistingFile);
    expect_cmd_app->add_flag("--json", expect_args.json, "print JSON instead");

    PatchCheckArgs patch_args;
    auto *patch_cmd = app.add_subcommand(
        "patch-check", "check the ported series and the baseline against the v4 patches");
    patch_cmd->add_option("--upstream", patch_args.upstream, "patches/upstream-v4")
        ->required()
        ->check(CLI::ExistingDirectory);
    patch_cmd->add_option("--series", patch_args.series, "patches/6.1/series")
        ->required()
        ->check(CLI::ExistingDirectory);
    patch_cmd->add_option("--base", patch_args.base, "patches/6.1/base")
        ->required()
        ->check(CLI::ExistingDirectory);

    std::string matrix_index;
    OutputOptions matrix_outputs;
    auto *matrix_app = app.add_subcommand(
        "matrix", "print the step x config table of make matrix; exit 0 iff every cell passed");
    matrix_app
        ->add_option("INDEX", matrix_index,
                     "TSV: step, config, state (ran or what stopped it), result.json, seconds")
        ->required()
        ->check(CLI::ExistingFile);
    add_output_options(matrix_app, matrix_outputs);

    BenchReportArgs bench_args;
    auto *bench_app = app.add_subcommand(
        "bench-report", "make bench: head/base table, JSON and plot data from the bench runs' "
                        "console logs; exit 0 iff every run passed and reported");
    bench_app
        ->add_option("INDEX", bench_args.index,
                     "TSV: config, step, flavour, role (throughput|contention), round, run "
                     "folder, kernel build folder (relative paths: from INDEX's folder)")
        ->required()
        ->check(CLI::ExistingFile);
    bench_app->add_option("--base", bench_args.base, "the baseline step (default series-base)");
    bench_app->add_option("--head", bench_args.head, "the step compared (default series-head)");
    bench_app->add_option("--json", bench_args.json, "write the report as JSON to this file");
    bench_app->add_option("--plot-data", bench_args.plot_data,
                          "write gnuplot data (faults/s against threads) to this file");
    bench_app->add_option("--gnuplot", bench_args.gnuplot,
                          "write a gnuplot script drawing --plot-data into --png (not when "
                          "there is no throughput row to draw)");
    bench_app->add_option("--png", bench_args.png, "the PNG the gnuplot script draws");

    BaseCheckArgs base_args;
    auto *base_app = app.add_subcommand(
        "base-check", "compare the tree make source built with the recorded Debian base; exit 0 "
                      "same, 3 another Debian version, 1 same version but other ids");
    base_app->add_option("--record", base_args.record, "patches/6.1/verified.json")->required();
    base_app->add_option("--package", base_args.built.package, "the Debian package")->required();
    base_app->add_option("--version", base_args.built.version, "its version in this tree")
        ->required();
    for (const char *tag : {"pristine", "series-base", "series-head"}) {
        base_app
            ->add_option(std::string("--") + tag, base_args.built.commits[tag],
                         std::string("the tree's ") + tag + " commit")
            ->required();
    }
    base_app
        ->add_option("--readme", base_args.readme,
                     "also check that this file quotes the "
                     "recorded ids")
        ->check(CLI::ExistingFile);
    base_app->add_flag("--write", base_args.write, "record this tree as the verified base");

    std::string result_path;
    std::string result_field;
    auto *result_app = app.add_subcommand("result-get", "print one fact of a run's result.json");
    result_app->add_option("RESULT", result_path, "result.json")
        ->required()
        ->check(CLI::ExistingFile);
    result_app->add_option("FIELD", result_field, "reason, verdict or failing-tests")
        ->required()
        ->check(CLI::IsMember({"reason", "verdict", "failing-tests"}));

    RunGuestArgs guest_args;
    auto *guest_app = app.add_subcommand(
        "run-guest", "boot one guest under QEMU, console into --run-dir, judge it; exit 0 on "
                     "pass, 1 on fail");
    guest_app->add_option("--machine", guest_args.machine, "configs/machine/<arch>.json")
        ->required()
        ->check(CLI::ExistingFile);
    guest_app->add_option("--geometry", guest_args.geometry, "configs/geometry/<name>.config")
        ->required()
        ->check(CLI::ExistingFile);
    guest_app->add_option("--kernel", guest_args.kernel, "the kernel Image")->required();
    guest_app->add_option("--initrd", guest_args.initrd, "the initramfs")->required();
    guest_app->add_option("--append", guest_args.append, "kernel command-line words");
    guest_app->add_option("--run-dir", guest_args.run_dir, "the run folder (cleared first)");
    guest_app->add_option("--timeout", guest_args.timeout_seconds, "seconds (default 900)")
        ->check(CLI::Range(1, 86400));
    guest_app->add_option("--smp", guest_args.smp, "guest CPUs (default: the machine's)")
        ->check(CLI::Range(1, 64));
    guest_app->add_option("--mem", guest_args.memory_mib, "guest MiB (default: the machine's)")
        ->check(CLI::Range(256, 65536));
    guest_app->add_option("--allow", guest_args.allow, "splat kind that is informational only")
        ->check(CLI::IsMember(splat_kinds()))
        ->delimiter(',');
    guest_app->add_option("--label", guest_args.label, "the report's title and KTAP name");
    guest_app->add_flag("--shell", guest_args.shell, "interactive: the terminal is the console");
    guest_app->add_flag("--live", guest_args.live, "copy the console to stdout as it comes");
    guest_app->add_option("--qemu-binary", guest_args.qemu_binary,
                          "run this instead of the machine's QEMU (tests)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e, out, err) == 0 ? 0 : 2;
    }

    try {
        if (check->parsed()) {
            return check_log(check_args, out);
        }
        if (base_app->parsed()) {
            return base_check(base_args, out);
        }
        if (result_app->parsed()) {
            return result_get(result_path, result_field, out);
        }
        if (guest_app->parsed()) {
            return run_guest_cmd(guest_args, out, err);
        }
        if (summary->parsed()) {
            return summarize(summary_files, summary_outputs, out);
        }
        if (config_check_cmd->parsed()) {
            return config_check(config_path, fragments, out);
        }
        if (expect_cmd_app->parsed()) {
            return expect_cmd(expect_args, out, err);
        }
        if (matrix_app->parsed()) {
            return matrix_cmd(matrix_index, matrix_outputs, out);
        }
        if (bench_app->parsed()) {
            return bench_report_cmd(bench_args, out);
        }
        if (patch_cmd->parsed()) {
            return patch_check(patch_args, out);
        }
        if (config_get_cmd->parsed()) {
            out << config_get(parse_dotconfig(read_lines(get_config_path)), symbol) << '\n';
            return 0;
        }
    } catch (const std::exception &e) {
        err << "ptlab: error: " << e.what() << '\n';
        return 2;
    }
    err << app.help();
    return 2;
}

} // namespace ptlab
