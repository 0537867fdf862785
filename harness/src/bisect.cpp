#include "ptlab/bisect.hpp"

#include "ptlab/boot.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/result.hpp"
#include "ptlab/series.hpp"
#include "ptlab/tools.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <tuple>

namespace ptlab {

namespace {

/// "good abc; bad def; ..." from `git bisect log`.
std::string steps_taken(const Tree &tree) {
    std::string steps;
    for (const auto &line : split_lines(tree.git({"bisect", "log"}))) {
        for (const char *verb : {"good", "bad", "skip"}) {
            const std::string prefix = std::string("git bisect ") + verb;
            if (line.starts_with(prefix)) {
                steps += (steps.empty() ? "" : "; ") + line.substr(11);
            }
        }
    }
    return steps;
}

/// Ends the bisection however the scope ends; KeepHead then restores the user's HEAD.
class BisectSession {
public:
    explicit BisectSession(const Tree &tree) : tree_(tree) {}
    ~BisectSession() { (void)tree_.git_status({"bisect", "reset"}); }
    BisectSession(const BisectSession &) = delete;
    BisectSession &operator=(const BisectSession &) = delete;

private:
    const Tree &tree_;
};

/// Why the run in run_dir failed, as two runs of one defect agree on it: the verdict's reason
/// ("panic", "splat", "test failures") and the first splat's kind, not the details (a pfn,
/// a task, a time) that differ from run to run.
std::string run_reason(const fs::path &run_dir) {
    const fs::path result = run_dir / "result.json";
    if (!fs::exists(result)) {
        return "no result";
    }
    const auto j = nlohmann::json::parse(read_text_file(result));
    const auto splats = j.value("splats", nlohmann::json::array());
    const std::string kind = splats.empty() ? "" : splats[0].value("kind", "");
    return result_field(j, "reason") + (kind.empty() ? "" : ": " + kind);
}

std::string runs_text(const std::vector<std::optional<std::string>> &runs) {
    std::string text;
    for (const auto &run : runs) {
        text += (text.empty() ? "" : ", then ") + (run ? "failed (" + *run + ")" : "passed");
    }
    return text;
}

void note(const Layout &layout, const std::string &kind, const std::string &text) {
    fs::create_directories(layout.bisect_notes().parent_path());
    std::ofstream(layout.bisect_notes(), std::ios::app) << kind << ": " << text << '\n';
}

/// Whether kernel's Image is byte for byte the one parent builds with the same config: the
/// commit changed nothing the kernel runs (documentation, a comment), so it cannot be the
/// first bad commit. The parent's Image is used when built; else, with build, built first.
bool same_image(const Layout &layout, const Request &request, const BuiltKernel &kernel,
                const std::string &parent, bool build, const Progress &progress) {
    const Tree tree(layout.src());
    const KernelTarget target{request.config, request.flavour, parent};
    const KernelDir dir = layout.kernel(request.config, request.flavour, tree.step_name(parent));
    if (!kernel_up_to_date(layout, dir, config_key(layout, target, parent))) {
        if (!build) {
            return false;
        }
        try {
            BuildOptions options;
            options.module_optional = true;
            progress.say("bisect-step: building the parent " + parent.substr(0, 12) +
                         " to compare Images");
            (void)build_kernel(layout, target, options, progress);
        } catch (const PhaseFailed &) {
            return false; // a parent that does not build has no Image to compare
        }
    }
    return read_text_file(dir.image()) == read_text_file(kernel.dir.image());
}

const char *step_meaning(int rc) {
    switch (rc) {
    case bisect_exit::good:
        return "it passes";
    case bisect_exit::bad:
        return "it fails";
    case bisect_exit::skip:
        return "it does not build, or fails only sometimes";
    default:
        return "the lab cannot run it";
    }
}

/// GOOD must pass and BAD must fail, each run as a step is: else git bisect would answer a
/// question nobody asked (BAD's badness taken on trust, a GOOD that was never good).
void check_endpoints(const Layout &layout, const Request &request, const StepOptions &options,
                     const Tree &tree, const std::string &good, const std::string &bad,
                     const Progress &progress) {
    StepOptions endpoint = options;
    endpoint.compare_parent = false; // an endpoint is asked about itself, not its parent
    for (const auto &[sha, want, name] :
         {std::tuple{good, bisect_exit::good, "GOOD"}, std::tuple{bad, bisect_exit::bad, "BAD"}}) {
        tree.checkout(sha);
        progress.say("bisect: checking " + std::string(name) + " " + tree.describe(sha));
        std::ostringstream report;
        const int rc = bisect_step(layout, request, report, progress, endpoint);
        if (rc != want) {
            throw std::runtime_error(std::string(name) + " " + tree.describe(sha) + " must " +
                                     (want == bisect_exit::good ? "pass" : "fail") +
                                     " to bisect, but " + step_meaning(rc) +
                                     "; nothing was bisected\n" + report.str());
        }
        progress.say("bisect: " + std::string(name) + " " + step_meaning(rc) + ", as it must");
    }
}

std::vector<std::string> notes_of(const Layout &layout) {
    return fs::exists(layout.bisect_notes()) ? read_lines(layout.bisect_notes())
                                             : std::vector<std::string>{};
}

void print_notes(std::ostream &out, const std::vector<std::string> &notes) {
    for (const auto &n : notes) {
        out << "skipped: " << n << '\n';
    }
}

void write_bisect_json(const Layout &layout, const nlohmann::ordered_json &j) {
    const fs::path dir = layout.bisect_results();
    fs::create_directories(dir);
    std::ofstream(dir / "bisect.json") << j.dump(2) << '\n';
}

nlohmann::ordered_json commit_json(const Tree &tree, const std::string &sha) {
    return {{"sha", sha},
            {"subject", std::string(trim(tree.git({"show", "-s", "--format=%s", sha})))},
            {"author", std::string(trim(tree.git({"show", "-s", "--format=%an <%ae>", sha})))},
            {"files",
             split_lines(std::string(trim(tree.git({"show", "--format=", "--name-only", sha}))))}};
}

/// Who and what the first bad commit is, what was skipped on the way, as text and JSON.
void report_culprit(const Layout &layout, const Tree &tree, const std::string &sha,
                    const fs::path &run_dir, const std::string &steps, std::ostream &out) {
    auto culprit = commit_json(tree, sha);
    out << "author: " << culprit["author"].get<std::string>() << '\n'
        << "files: " << join_words(culprit["files"].get<std::vector<std::string>>(), ", ") << '\n';
    const auto notes = notes_of(layout);
    print_notes(out, notes);
    out << "steps: " << steps << '\n';
    nlohmann::ordered_json j{{"first_bad", culprit}, {"steps", steps}, {"skipped", notes}};
    if (fs::exists(run_dir / "result.json")) {
        const auto r = nlohmann::json::parse(read_text_file(run_dir / "result.json"));
        for (const char *field : {"verdict", "failing-tests", "first-splat"}) {
            j[field] = result_field(r, field);
        }
        j["console_log"] = (run_dir / "console.log").string();
    }
    j["log"] = layout.bisect_log().string();
    write_bisect_json(layout, j);
}

/// Only skipped commits left: no single culprit, and the report says so plainly.
void report_skip_only(const Layout &layout, const Tree &tree,
                      const std::vector<std::string> &candidates, const std::string &steps,
                      std::ostream &out) {
    out << "no single first bad commit: the first bad commit is one of these " << candidates.size()
        << ", which could not be told apart:\n";
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto &sha : candidates) {
        out << "  " << tree.describe(sha) << '\n';
        list.push_back(commit_json(tree, sha));
    }
    const auto notes = notes_of(layout);
    print_notes(out, notes);
    out << "steps: " << steps << '\n';
    write_bisect_json(layout, {{"first_bad", nullptr},
                               {"candidates", list},
                               {"steps", steps},
                               {"skipped", notes},
                               {"log", layout.bisect_log().string()}});
}

} // namespace

Repeated judge_repeats(const std::vector<std::optional<std::string>> &runs) {
    for (const auto &run : runs) {
        if (!run || *run != runs.front()) {
            return Repeated::Flaky;
        }
    }
    return Repeated::Bad;
}

int bisect_step(const Layout &layout, const Request &request, std::ostream &out,
                const Progress &progress, const StepOptions &options) {
    BuiltKernel kernel;
    const Tree tree(layout.src());
    try {
        progress.say("== bisect step " + tree.describe("HEAD"));
        BuildOptions build;
        build.checkout = false;
        build.module_optional = true;
        kernel = build_kernel(layout, {request.config, request.flavour, "HEAD"}, build, progress);
    } catch (const PhaseFailed &e) {
        progress.say(std::string("bisect-step: does not build: skip (") + e.what() + ")");
        return bisect_exit::skip;
    } catch (const std::exception &e) {
        progress.say(std::string("bisect-step: the lab cannot run this step: ") + e.what());
        return bisect_exit::abort;
    }
    const std::string parent = tree.resolve(kernel.sha + "^").value_or("");
    const auto same_as_parent = [&](bool build_parent) {
        if (!options.compare_parent || parent.empty() ||
            !same_image(layout, request, kernel, parent, build_parent, progress)) {
            return false;
        }
        const std::string why = tree.describe(kernel.sha) + ": its Image is its parent's, byte " +
                                "for byte: skipped, never blamed";
        progress.say("bisect-step: " + why);
        note(layout, "same-image", why);
        return true;
    };
    try {
        if (same_as_parent(false)) {
            return bisect_exit::skip;
        }
        Request at = request;
        at.step = kernel.sha;
        const fs::path run_dir =
            layout.run_dir(request.config, request.flavour, kernel.step_name, request.plans);
        std::vector<std::optional<std::string>> runs;
        std::ostringstream quiet;
        for (int i = 0; i < std::max(options.repeat, 1); ++i) {
            const bool passed =
                boot_kernel(layout, at, kernel, i == 0 ? out : quiet, progress) == 0;
            runs.push_back(passed ? std::nullopt : std::optional(run_reason(run_dir)));
            if (passed && i == 0) {
                return bisect_exit::good;
            }
            if (i == 0 && same_as_parent(true)) {
                return bisect_exit::skip;
            }
            if (i + 1 < options.repeat) {
                progress.say("bisect-step: failed (" + *runs.front() + "); run again to be sure");
            }
        }
        if (judge_repeats(runs) == Repeated::Bad) {
            return bisect_exit::bad;
        }
        const std::string why = tree.describe(kernel.sha) + ": flaky: " + runs_text(runs);
        progress.say("bisect-step: " + why + ": skipped");
        note(layout, "flaky", why);
        return bisect_exit::skip;
    } catch (const std::exception &e) {
        progress.say(std::string("bisect-step: the lab cannot boot this step: ") + e.what());
        return bisect_exit::abort;
    }
}

StepOptions step_options_from(const Getenv &env) {
    StepOptions o;
    o.repeat = parse_count("BISECT_REPEAT", knob_value(env, "BISECT_REPEAT"), 1, 10);
    return o;
}

std::vector<std::string> skipped_candidates(const std::vector<std::string> &log) {
    std::vector<std::string> out;
    bool listing = false;
    for (const auto &line : log) {
        if (line.find("The first bad commit could be any of:") != std::string::npos) {
            listing = true;
            continue;
        }
        const std::string word(trim(line));
        const bool sha =
            word.size() >= 7 && word.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (listing && sha) {
            out.push_back(word);
        } else if (listing) {
            listing = false;
        }
    }
    return out;
}

BisectRequest bisect_request_from(const Getenv &env) {
    BisectRequest b;
    b.good = env("GOOD").value_or("");
    b.bad = env("BAD").value_or("");
    b.series = env("SERIES").value_or("");
    b.step = step_options_from(env);
    return b;
}

void report_first_bad(std::ostream &out, const std::string &commit, const fs::path &run_dir) {
    out << "first bad commit: " << commit << '\n';
    const fs::path result = run_dir / "result.json";
    if (!fs::exists(result)) {
        out << "verdict: (no run of it was kept)\n";
        return;
    }
    const auto j = nlohmann::json::parse(read_text_file(result));
    out << "verdict: " << result_field(j, "verdict") << '\n'
        << "failing tests: " << result_field(j, "failing-tests") << '\n'
        << "first splat: " << result_field(j, "first-splat") << '\n'
        << "console log: " << (run_dir / "console.log").string() << '\n';
}

int bisect(const Layout &layout, const Request &request, const BisectRequest &b, std::ostream &out,
           const Progress &progress) {
    const Tree tree(layout.src());
    if (!tree.exists()) {
        throw std::runtime_error("build/linux does not exist: run 'make source' first");
    }
    if (tree.bisecting()) {
        throw std::runtime_error("a bisection is already in progress in " + tree.dir().string() +
                                 " ('git -C " + tree.dir().string() + " bisect reset')");
    }
    if (!tree.clean()) {
        throw std::runtime_error("build/linux has local changes; commit or stash them first");
    }
    const KeepHead keep(tree);
    std::string good = b.good;
    std::string bad = b.bad;
    if (!b.series.empty()) {
        const std::string last = apply_series(layout, tree, b.series, "series-base", progress);
        good = good.empty() ? "series-base" : good;
        bad = bad.empty() ? last : bad;
    }
    if (good.empty() || bad.empty()) {
        throw std::runtime_error("GOOD=<rev> and BAD=<rev> are required (or SERIES=<dir or mbox>)");
    }
    const std::string good_sha = tree.resolve_step(good);
    const std::string bad_sha = tree.resolve_step(bad);
    if (!tree.is_ancestor(good_sha, bad_sha)) {
        throw std::runtime_error("GOOD (" + good + ") is not an ancestor of BAD (" + bad + ")");
    }
    need_tools(layout.tool_packages(), {"qemu-system-aarch64"});
    // Once for the whole bisection; each step then builds only its kernel.
    build_guest_userspace(layout);
    progress.say("bisect: " + request.config + ", plans '" + plans_dirname(request.plans) + "', " +
                 std::to_string(tree.commits_between(good_sha, bad_sha).size()) +
                 " commits between GOOD and BAD");
    const auto start = std::chrono::steady_clock::now();
    const fs::path log = layout.bisect_log();
    fs::create_directories(log.parent_path());
    std::ofstream(log, std::ios::trunc).close();
    std::ofstream(layout.bisect_notes(), std::ios::trunc).close();
    check_endpoints(layout, request, b.step, tree, good_sha, bad_sha, progress);
    tree.git({"bisect", "start", bad_sha, good_sha});
    std::optional<BisectSession> session(std::in_place, tree);
    ProcessOptions run;
    // The steps read the same request back from their environment, quietly and building.
    Request quiet = request;
    quiet.verbose = false;
    quiet.prebuilt = false;
    run.env = request_env(quiet);
    run.env["PTLAB_TOP"] = layout.top.string();
    run.env["PTLAB_BUILD"] = layout.build.string();
    run.env["BISECT_REPEAT"] = std::to_string(b.step.repeat);
    run.log = log;
    run.tee = request.verbose ? &progress.stream() : nullptr;
    const int rc = run_process(
        {"git", "-C", tree.dir().string(), "bisect", "run", b.self, "bisect-step"}, run);
    const auto first = tree.resolve("refs/bisect/bad");
    const std::string steps = steps_taken(tree);
    session.reset();
    const bool found = rc == 0 && first &&
                       read_text_file(log).find("is the first bad commit") != std::string::npos;
    progress.say(
        "bisect: done in " +
        elapsed_text(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) +
        "; steps: " + steps);
    if (!found && !skipped_candidates(read_lines(log)).empty()) {
        report_skip_only(layout, tree, skipped_candidates(read_lines(log)), steps, out);
        return 1;
    }
    if (!found) {
        const auto lines = read_lines(log);
        for (std::size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) {
            progress.say(lines[i]);
        }
        throw std::runtime_error("bisect did not find a first bad commit (exit " +
                                 std::to_string(rc) + "); log: " + log.string());
    }
    const fs::path run_dir =
        layout.run_dir(request.config, request.flavour, tree.step_name(*first), request.plans);
    // Every candidate has a run: BAD's from check_endpoints(), the others' from their step.
    report_first_bad(out, tree.describe(*first), run_dir);
    report_culprit(layout, tree, *first, run_dir, steps, out);
    return 0;
}

} // namespace ptlab
