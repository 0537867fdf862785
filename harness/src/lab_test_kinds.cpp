#include "lab_test_kinds.hpp"

#include "ptlab/gtest_import.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/process.hpp"
#include "ptlab/request.hpp"
#include "ptlab/result.hpp"
#include "ptlab/series.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

// Each kind runs what its row says, as a user would (a program, or ptlab with make's
// variables in its environment), and turns what happened into a result: the output's last
// lines as diagnostics, and a line naming each expectation that did not hold.

namespace ptlab {

namespace {

constexpr std::size_t kept_output_lines = 40;

std::map<std::string, std::string> env_of(const CheckSpec &check) {
    std::map<std::string, std::string> env;
    const auto given = check.fields.value("env", nlohmann::json::object());
    for (const auto &[key, value] : given.items()) {
        env[key] = value.get<std::string>();
    }
    return env;
}

std::vector<std::string> strings_of(const CheckSpec &check, const std::string &field) {
    std::vector<std::string> out;
    const auto &value = check.fields.at(field);
    if (value.is_string()) {
        out.push_back(value.get<std::string>());
        return out;
    }
    for (const auto &item : value) {
        out.push_back(item.get<std::string>());
    }
    return out;
}

std::string text_of(const CheckSpec &check, const std::string &field) {
    return check.fields.at(field).get<std::string>();
}

void keep_output(TestResult &result, const std::string &output) {
    const auto lines = split_lines(output);
    const auto from =
        lines.size() > kept_output_lines ? lines.end() - kept_output_lines : lines.begin();
    result.diagnostics.insert(result.diagnostics.end(), from, lines.end());
}

void fail(TestResult &result, const std::string &why) {
    result.status = Status::Fail;
    result.diagnostics.push_back(why);
}

void expect_lines(TestResult &result, const std::string &text,
                  const std::vector<std::string> &patterns, const std::string &where) {
    for (const auto &pattern : patterns) {
        if (!has_matching_line(text, pattern)) {
            fail(result, where + " has no line matching '" + pattern + "'");
        }
    }
}

/// ptlab SUBCOMMAND... with the row's make variables, on the same lab.
Captured run_ptlab(const CheckSpec &check, const CheckPlaces &places,
                   const std::vector<std::string> &args) {
    ProcessOptions options;
    options.env = env_of(check);
    options.env["PTLAB_TOP"] = places.layout.top.string();
    options.env["PTLAB_BUILD"] = places.layout.build.string();
    options.merge_stderr = true;
    std::vector<std::string> argv = {places.ptlab};
    argv.insert(argv.end(), args.begin(), args.end());
    return capture_process(argv, options);
}

/// The request the row's variables make, as the child ptlab reads it.
Request request_of(const CheckSpec &check, const CheckPlaces &places) {
    const auto env = env_of(check);
    const Getenv outer = process_env();
    return request_from(
        [&](const std::string &name) -> std::optional<std::string> {
            if (const auto it = env.find(name); it != env.end()) {
                return it->second;
            }
            return outer(name);
        },
        places.layout);
}

std::filesystem::path run_dir_of(const CheckSpec &check, const CheckPlaces &places) {
    const Request r = request_of(check, places);
    return places.layout.run_dir(r.config, r.flavour, Tree(places.layout.src()).step_name(r.step),
                                 r.plans);
}

std::string result_reason(const std::filesystem::path &run_dir) {
    const auto file = run_dir / "result.json";
    if (!std::filesystem::exists(file)) {
        return "";
    }
    return result_field(nlohmann::json::parse(read_text_file(file)), "reason");
}

/// command: a program; 0 passes, 4 skips with its last line as the reason (kselftest's
/// convention), a status in skip_status skips with that reason, anything else fails.
void run_command(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    ProcessOptions options;
    options.env = env_of(check);
    options.env.emplace("PTLAB", places.ptlab); // as make exports it to the scripts
    options.merge_stderr = true;
    const Captured got = capture_process(strings_of(check, "argv"), options);
    keep_output(result, got.out);
    const auto skips = check.fields.value("skip_status", nlohmann::json::object());
    const auto lines = split_lines(got.out);
    if (got.status == 4) {
        result.status = Status::Skip;
        result.skip_reason = lines.empty() ? "exit status 4" : lines.back();
    } else if (skips.contains(std::to_string(got.status))) {
        result.status = Status::Skip;
        result.skip_reason = skips.at(std::to_string(got.status)).get<std::string>();
    } else if (got.status != 0) {
        fail(result, "exit status " + std::to_string(got.status));
    } else if (check.fields.contains("output_matches")) {
        expect_lines(result, got.out, strings_of(check, "output_matches"), "the output");
    }
    if (check.fields.contains("gtest_report")) {
        const std::filesystem::path report = text_of(check, "gtest_report");
        if (std::filesystem::exists(report)) {
            result.subtests = import_gtest_json(read_text_file(report));
        } else if (result.status != Status::Skip) {
            fail(result, "no GoogleTest report " + report.string());
        }
    }
}

/// refused: `ptlab run` with bad make variables fails before it builds anything, with a
/// message naming what is valid.
void run_refused(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Captured got = run_ptlab(check, places, {"run"});
    keep_output(result, got.out);
    if (got.status == 0) {
        fail(result, "the run was accepted");
    }
    expect_lines(result, got.out, strings_of(check, "message"), "the refusal");
    if (has_matching_line(got.out, "^kernel ")) {
        fail(result, "it started building a kernel before refusing");
    }
}

/// config-promises: CONFIG at STEP's .config (no build) has what the step promises.
void run_config_promises(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Captured made = run_ptlab(check, places, {"kernel", "--config-only"});
    const auto lines = split_lines(made.out);
    const std::filesystem::path dir = lines.empty() ? "" : lines.back();
    if (made.status != 0 || !std::filesystem::exists(dir / ".config")) {
        keep_output(result, made.out);
        fail(result, "no .config");
        return;
    }
    const Captured judged =
        run_ptlab(check, places,
                  {"config-promises", "--expect", (dir / "expect.json").string(), "--kconfig",
                   (dir / ".config").string()});
    keep_output(result, judged.out);
    if (judged.status != 0) {
        fail(result, "the .config breaks the step's promises");
    }
}

/// kernel: CONFIG at STEP builds, with its module.
void run_kernel(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Captured got = run_ptlab(check, places, {"kernel"});
    keep_output(result, got.out);
    if (got.status != 0) {
        fail(result, "the kernel did not build");
    }
}

/// guest: `ptlab run`; its verdict is the check's, its KTAP block nested under it, and its
/// output has the lines output_matches asks for.
void run_guest(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Captured got = run_ptlab(check, places, {"run"});
    const auto ktap = run_dir_of(check, places) / "result.ktap";
    KtapLog log;
    if (std::filesystem::exists(ktap)) {
        log = parse_ktap(read_lines(ktap));
    }
    if (log.root.subtests.size() != 1) {
        keep_output(result, got.out);
        fail(result, "no verdict in " + ktap.string());
        return;
    }
    const std::string name = result.name;
    result = std::move(log.root.subtests.front());
    result.name = name;
    if (got.status != 0 && result.status == Status::Pass) {
        fail(result, "ptlab run exited " + std::to_string(got.status));
    }
    if (check.fields.contains("output_matches")) {
        expect_lines(result, got.out, strings_of(check, "output_matches"), "ptlab run's output");
    }
}

/// expect-failure: the lab's own failure modes; the run must fail for the given reason, and
/// the report must show what happened, not only the reason.
void run_expect_failure(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Captured got = run_ptlab(check, places, {"run"});
    keep_output(result, got.out);
    if (got.status == 0) {
        fail(result,
             "the run passed; it should have failed with '" + text_of(check, "reason") + "'");
        return;
    }
    const std::string reason = result_reason(run_dir_of(check, places));
    result.diagnostics.push_back("verdict: " + reason);
    if (!reason.starts_with(text_of(check, "reason"))) {
        fail(result, "expected a failure for '" + text_of(check, "reason") + "'");
    }
    expect_lines(result, got.out, strings_of(check, "report_matches"), "the report");
}

/// mutants: `ptlab mutants` (the make test cells with "fast"); each cell one subtest,
/// passing when the mutant was caught as its catalogue entry states.
void run_mutants(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const auto json_file =
        places.results /
        ("mutants-" + std::to_string(std::hash<std::string>{}(check.name)) + ".json");
    std::filesystem::create_directories(places.results);
    std::filesystem::remove(json_file);
    std::vector<std::string> args = {"mutants", "--json", json_file.string()};
    if (check.fields.value("fast", false)) {
        args.emplace_back("--fast");
    }
    if (check.fields.contains("catalogue")) {
        args.push_back("--catalogue=" + text_of(check, "catalogue"));
    }
    const Captured got = run_ptlab(check, places, args);
    keep_output(result, got.out);
    if (!std::filesystem::exists(json_file)) {
        fail(result, "ptlab mutants exited " + std::to_string(got.status) + " with no results");
        return;
    }
    const auto results = nlohmann::json::parse(read_text_file(json_file));
    for (const auto &cell : results.at("cells")) {
        TestResult sub;
        sub.name = cell.at("mutant").get<std::string>() + " on " +
                   cell.at("config").get<std::string>() + " @ " +
                   cell.at("step").get<std::string>();
        sub.status = cell.at("caught") == "yes" ? Status::Pass : Status::Fail;
        sub.diagnostics.push_back("caught: " + cell.at("caught").get<std::string>() + ", by " +
                                  cell.at("by").get<std::string>() + " (" +
                                  cell.at("reason").get<std::string>() + ")");
        for (const auto &problem : cell.at("problems")) {
            sub.diagnostics.push_back(problem.get<std::string>());
        }
        result.status = sub.status == Status::Fail ? Status::Fail : result.status;
        result.subtests.push_back(std::move(sub));
    }
    if (result.subtests.empty()) {
        fail(result, "no mutant ran");
    }
}

/// engines-agree: the same cells through `ptlab matrix` here and with ENGINE=lava; each
/// cell one subtest, passing when LAVA ran its job and both verdicts and counts agree.
void run_engines_agree(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    std::map<std::string, nlohmann::json> runs;
    for (const char *engine : {engine_local, engine_lava}) {
        CheckSpec with_engine = check;
        with_engine.fields["env"]["ENGINE"] = engine;
        const Captured got = run_ptlab(with_engine, places, {"matrix"});
        const auto json_file = places.layout.matrix_results() / "matrix.json";
        result.diagnostics.push_back(std::string("ENGINE=") + engine + ":");
        keep_output(result, got.out);
        if (!std::filesystem::exists(json_file)) {
            fail(result, std::string("ENGINE=") + engine + ": ptlab matrix exited " +
                             std::to_string(got.status) + " with no matrix.json");
            return;
        }
        runs[engine] = nlohmann::json::parse(read_text_file(json_file));
        std::filesystem::copy_file(json_file,
                                   places.results / (std::string("matrix-") + engine + ".json"),
                                   std::filesystem::copy_options::overwrite_existing);
    }
    const auto &lava = runs[engine_lava].at("cells");
    const auto disagreements = matrix_disagreements(runs[engine_local], runs[engine_lava]);
    for (const auto &cell : lava) {
        TestResult sub;
        sub.name = cell.value("step", "?") + " x " + cell.value("config", "?");
        const std::string job = cell.contains("lava") ? cell["lava"].value("job", "") : "";
        sub.status = job.empty() ? Status::Fail : Status::Pass;
        sub.diagnostics.push_back("LAVA job " + (job.empty() ? "none" : job) + ": " +
                                  cell.value("outcome", "?") + " " +
                                  std::to_string(cell.value("passed", 0)) + "/" +
                                  std::to_string(cell.value("failed", 0)) + "/" +
                                  std::to_string(cell.value("skipped", 0)));
        for (const auto &line : disagreements) {
            if (line.starts_with(sub.name + ": ")) {
                sub.status = Status::Fail;
                sub.diagnostics.push_back("local vs LAVA: " + line);
            }
        }
        result.status = sub.status == Status::Fail ? Status::Fail : result.status;
        result.subtests.push_back(std::move(sub));
    }
    if (lava.size() != runs[engine_local].at("cells").size()) {
        fail(result, "LAVA ran " + std::to_string(lava.size()) + " cells, the local engine " +
                         std::to_string(runs[engine_local].at("cells").size()));
    }
    if (result.subtests.empty()) {
        fail(result, "no cell ran");
    }
}

/// The folder's *.patch, in order, as one mbox (what `cat *.patch` or `git format-patch
/// --stdout` gives).
std::filesystem::path mbox_of_folder(const std::string &folder, const std::filesystem::path &to) {
    const auto patches = patch_files(folder);
    std::filesystem::create_directories(to.parent_path());
    std::ofstream out(to, std::ios::trunc);
    for (const auto &patch : patches) {
        out << read_text_file(patch);
    }
    return to;
}

/// bisect: `ptlab bisect` over the series with one more patch names that patch.
void run_bisect(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const auto dir =
        places.results / ("series-" + std::to_string(std::hash<std::string>{}(check.name)));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    for (const auto &patch : patch_files(text_of(check, "series"))) {
        std::filesystem::copy_file(patch, dir / patch.filename());
    }
    std::filesystem::copy_file(text_of(check, "extra_patch"), dir / "9999-extra.patch");
    CheckSpec with_series = check;
    with_series.fields["env"]["SERIES"] =
        check.fields.value("as_mbox", false)
            ? mbox_of_folder(dir.string(), dir.string() + ".mbox").string()
            : dir.string();
    const Captured got = run_ptlab(with_series, places, {"bisect"});
    keep_output(result, got.out);
    if (got.status != 0) {
        fail(result, "bisect exited " + std::to_string(got.status));
    }
    expect_lines(result, got.out, strings_of(check, "output_matches"), "the bisect report");
}

/// series: SERIES as bisect takes it, applied on onto in build/linux (HEAD put back): the
/// last commit must be same_as's, or the series refused with a message matching refused.
void run_series(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Tree tree(places.layout.src());
    const std::filesystem::path series =
        check.fields.contains("mbox_of")
            ? mbox_of_folder(text_of(check, "mbox_of"),
                             places.results /
                                 (std::to_string(std::hash<std::string>{}(check.name)) + ".mbox"))
            : std::filesystem::path(text_of(check, "series"));
    std::ostringstream said;
    std::string last;
    std::string error;
    {
        const FileLock lock(places.layout.src_lock(), "series", Progress(said, false));
        const KeepHead keep(tree);
        try {
            last = apply_series(places.layout, tree, series, text_of(check, "onto"),
                                Progress(said, false));
        } catch (const std::runtime_error &e) {
            error = e.what();
        }
    }
    keep_output(result, said.str() + error);
    if (check.fields.contains("output_matches")) {
        expect_lines(result, said.str(), strings_of(check, "output_matches"), "what it said");
    }
    if (check.fields.contains("refused")) {
        if (error.empty()) {
            fail(result, "the series applied; it should have been refused");
        } else if (!has_matching_line(error, text_of(check, "refused"))) {
            fail(result, "refused, but with no line matching '" + text_of(check, "refused") + "'");
        }
        return;
    }
    if (!error.empty()) {
        fail(result, "the series did not apply");
    } else if (check.fields.contains("same_as") &&
               last != tree.resolve_step(text_of(check, "same_as"))) {
        fail(result,
             "the series ends at " + last.substr(0, 12) + ", not at " + text_of(check, "same_as"));
    }
}

/// commits: the range has count commits (all by author, when given).
void run_commits(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Tree tree(places.layout.src());
    const std::string range = text_of(check, "range");
    keep_output(result, tree.git({"log", "--format=%h %an: %s", range}));
    const auto count = std::stoi(tree.git({"rev-list", "--count", range}));
    if (count != check.fields.at("count").get<int>()) {
        fail(result, range + " has " + std::to_string(count) + " commits, expected " +
                         std::to_string(check.fields.at("count").get<int>()));
    }
    if (check.fields.contains("author")) {
        const auto authors = split_lines(tree.git({"log", "--format=%an <%ae>", range}));
        const std::set<std::string> distinct(authors.begin(), authors.end());
        if (distinct != std::set<std::string>{text_of(check, "author")}) {
            fail(result, "authors of " + range + ": " +
                             join_words({distinct.begin(), distinct.end()}, ", "));
        }
    }
}

/// same-tree: two revisions have the same files.
void run_same_tree(const CheckSpec &check, const CheckPlaces &places, TestResult &result) {
    const Tree tree(places.layout.src());
    const std::string a = text_of(check, "a");
    const std::string b = text_of(check, "b");
    keep_output(result, tree.git({"diff", "--stat", a, b}));
    if (tree.git_status({"diff", "--quiet", a, b}) != 0) {
        fail(result, a + " and " + b + " differ");
    }
}

} // namespace

const std::vector<CheckKind> &check_kinds() {
    static const std::vector<CheckKind> kinds = {
        {"command",
         "a program: 0 pass, 4 skip (last line the reason), else fail",
         {"argv"},
         {"skip_status", "output_matches", "gtest_report"},
         run_command},
        {"refused",
         "ptlab run refuses the variables before building",
         {"message"},
         {},
         run_refused},
        {"config-promises", "the step's .config keeps its promises", {}, {}, run_config_promises},
        {"kernel", "the step's kernel and module build", {}, {}, run_kernel},
        {"guest", "ptlab run passes; its KTAP nested", {}, {"output_matches"}, run_guest},
        {"expect-failure",
         "ptlab run fails for the reason, the report shows why",
         {"reason", "report_matches"},
         {},
         run_expect_failure},
        {"engines-agree",
         "ptlab matrix here and with ENGINE=lava: the same verdicts and counts",
         {"env"},
         {},
         run_engines_agree},
        {"mutants",
         "ptlab mutants: every cell caught as the catalogue states",
         {},
         {"fast", "catalogue"},
         run_mutants},
        {"bisect",
         "ptlab bisect names the extra patch (the series a folder, or one mbox)",
         {"series", "extra_patch", "output_matches"},
         {"as_mbox"},
         run_bisect},
        {"series",
         "SERIES (a folder, an mbox, a thread) on a step: same commits, or refused",
         {"onto"},
         {"series", "mbox_of", "same_as", "refused", "output_matches"},
         run_series},
        {"commits",
         "a range's commit count and author",
         {"range", "count"},
         {"author"},
         run_commits},
        {"same-tree", "two revisions have the same files", {"a", "b"}, {}, run_same_tree},
    };
    return kinds;
}

} // namespace ptlab
