#include "ptlab/command.hpp"

#include "ptlab/gtest_import.hpp"
#include "ptlab/guest.hpp"
#include "ptlab/ktap.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/report.hpp"
#include "ptlab/result.hpp"
#include "ptlab/run.hpp"
#include "ptlab/run_guest.hpp"
#include "ptlab/splat.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

// Verdicts: judging a console log, merging results, reading them back, running a guest.

namespace ptlab {

namespace {

struct CheckLogArgs {
    std::string log;
    std::string guest;
    bool timed_out = false;
    std::vector<std::string> allow;
    OutputOptions outputs;
    std::string ktap_out;
    std::string label;
    PromiseFiles promises;
};

int check_log(const CheckLogArgs &args, std::ostream &out) {
    RunOptions options;
    options.timed_out = args.timed_out;
    if (!args.guest.empty()) {
        const GuestExit exit = guest_exit_from_json(read_text_file(args.guest));
        options.timed_out = options.timed_out || exit.timed_out;
        options.qemu = exit;
    }
    options.allowed_kinds.insert(args.allow.begin(), args.allow.end());
    apply_promise_files(args.promises, options);
    const Verdict verdict = judge_run(read_lines(args.log), options);
    const std::string label =
        args.label.empty() ? std::filesystem::path(args.log).stem().string() : args.label;
    return report_run(verdict, label, args.outputs, args.ktap_out, out);
}

int result_get(const std::string &path, const std::string &field, std::ostream &out) {
    out << result_field(nlohmann::json::parse(read_text_file(path)), field) << '\n';
    return 0;
}

class CheckLogCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("check-log", "parse one boot's console log; exit 0 on "
                                               "pass, 1 on fail");
        sub_->add_option("LOG", check_args.log, "console log captured from the serial port")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_flag("--timed-out", check_args.timed_out, "the runner killed QEMU on timeout");
        sub_->add_option("--guest", check_args.guest, "guest.json of the run: how QEMU ended")
            ->check(CLI::ExistingFile);
        sub_->add_option("--allow", check_args.allow,
                         "splat kind that is informational only (repeatable, or comma-separated)")
            ->check(CLI::IsMember(splat_kinds()))
            ->delimiter(',')
            ->allow_extra_args(false);
        add_output_options(sub_, check_args.outputs);
        add_promise_options(sub_, check_args.promises);
        sub_->add_option("--ktap-out", check_args.ktap_out,
                         "write the results as one KTAP subtest block to this file");
        sub_->add_option("--label", check_args.label,
                         "name of the --ktap-out block and report title (default: LOG's stem)");
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return check_log(check_args, out);
    }

private:
    CheckLogArgs check_args;
};

class SummarizeCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "summarize", "merge KTAP files and GoogleTest JSON reports into one summary; exit 0 "
                         "iff nothing failed");
        sub_->add_option("FILE", summary_files, "KTAP file or gtest JSON report")
            ->required()
            ->check(CLI::ExistingFile);
        add_output_options(sub_, summary_outputs);
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return summarize(summary_files, summary_outputs, out);
    }

private:
    std::vector<std::string> summary_files;
    OutputOptions summary_outputs;
};

class ResultGetCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("result-get", "print one fact of a run's result.json");
        sub_->add_option("RESULT", result_path, "result.json")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("FIELD", result_field, "reason, verdict, failing-tests or first-splat")
            ->required()
            ->check(CLI::IsMember({"reason", "verdict", "failing-tests", "first-splat"}));
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return result_get(result_path, result_field, out);
    }

private:
    std::string result_path;
    std::string result_field;
};

class RunGuestCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "run-guest", "boot one guest under QEMU, console into --run-dir, judge it; exit 0 on "
                         "pass, 1 on fail");
        sub_->add_option("--machine", guest_args.machine, "configs/machine/<arch>.json")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--geometry", guest_args.geometry, "configs/geometry/<name>.config")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--kernel", guest_args.kernel, "the kernel Image")->required();
        sub_->add_option("--initrd", guest_args.initrd, "the initramfs")->required();
        sub_->add_option("--append", guest_args.append, "kernel command-line words");
        sub_->add_option("--run-dir", guest_args.run_dir, "the run folder (cleared first)");
        sub_->add_option("--timeout", guest_args.timeout_seconds, "seconds (default 900)")
            ->check(CLI::Range(1, 86400));
        sub_->add_option("--smp", guest_args.smp, "guest CPUs (default: the machine's)")
            ->check(CLI::Range(1, 64));
        sub_->add_option("--mem", guest_args.memory_mib, "guest MiB (default: the machine's)")
            ->check(CLI::Range(256, 65536));
        sub_->add_option("--allow", guest_args.allow, "splat kind that is informational only")
            ->check(CLI::IsMember(splat_kinds()))
            ->delimiter(',');
        sub_->add_option("--label", guest_args.label, "the report's title and KTAP name");
        add_promise_options(sub_, guest_args.promises);
        sub_->add_flag("--shell", guest_args.shell, "interactive: the terminal is the console");
        sub_->add_option("--share", guest_args.share, "a host folder for the guest (9p)")
            ->check(CLI::ExistingDirectory);
        sub_->add_flag("--share-ro", guest_args.share_read_only, "the shared folder read-only");
        sub_->add_flag("--live", guest_args.live, "copy the console to stdout as it comes");
        sub_->add_option("--qemu-binary", guest_args.qemu_binary,
                         "run this instead of the machine's QEMU (tests)");
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return run_guest_cmd(guest_args, out, err);
    }

private:
    RunGuestArgs guest_args;
};

} // namespace

namespace {

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

} // namespace

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

void add_verdict_commands(Commands &into) {
    into.push_back(std::make_unique<CheckLogCommand>());
    into.push_back(std::make_unique<SummarizeCommand>());
    into.push_back(std::make_unique<ResultGetCommand>());
    into.push_back(std::make_unique<RunGuestCommand>());
}

} // namespace ptlab
