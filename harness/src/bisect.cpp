#include "ptlab/bisect.hpp"

#include "ptlab/boot.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/result.hpp"
#include "ptlab/tools.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>

namespace ptlab {

namespace {

std::vector<fs::path> patches_in(const fs::path &dir) {
    if (!fs::is_directory(dir)) {
        throw std::runtime_error("SERIES=" + dir.string() + " is not a directory of patches");
    }
    std::vector<fs::path> patches;
    for (const auto &entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".patch") {
            patches.push_back(entry.path());
        }
    }
    if (patches.empty()) {
        throw std::runtime_error("no *.patch in " + dir.string());
    }
    std::sort(patches.begin(), patches.end());
    return patches;
}

/// The user's series on series-base; HEAD is left at its last patch.
std::string apply_series(const Tree &tree, const fs::path &dir, const Progress &progress) {
    tree.checkout("series-base");
    for (const auto &patch : patches_in(dir)) {
        am_patch(tree, patch);
    }
    const std::string last = tree.head();
    progress.say("bisect: SERIES applied on series-base: " +
                 std::to_string(tree.commits_between("series-base", last).size()) +
                 " commits, last " + last.substr(0, 12));
    return last;
}

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

} // namespace

int bisect_step(const Layout &layout, const Request &request, std::ostream &out,
                const Progress &progress) {
    BuiltKernel kernel;
    const Tree tree(layout.src());
    try {
        progress.say("== bisect step " + tree.describe("HEAD"));
        BuildOptions options;
        options.checkout = false;
        options.module_optional = true;
        kernel = build_kernel(layout, {request.config, request.flavour, "HEAD"}, options, progress);
    } catch (const PhaseFailed &e) {
        progress.say(std::string("bisect-step: does not build: skip (") + e.what() + ")");
        return bisect_exit::skip;
    } catch (const std::exception &e) {
        progress.say(std::string("bisect-step: the lab cannot run this step: ") + e.what());
        return bisect_exit::abort;
    }
    try {
        Request at = request;
        at.step = kernel.sha;
        return boot_kernel(layout, at, kernel, out, progress) == 0 ? bisect_exit::good
                                                                   : bisect_exit::bad;
    } catch (const std::exception &e) {
        progress.say(std::string("bisect-step: the lab cannot boot this step: ") + e.what());
        return bisect_exit::abort;
    }
}

BisectRequest bisect_request_from(const Getenv &env) {
    BisectRequest b;
    b.good = env("GOOD").value_or("");
    b.bad = env("BAD").value_or("");
    b.series = env("SERIES").value_or("");
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
        const std::string last = apply_series(tree, b.series, progress);
        good = good.empty() ? "series-base" : good;
        bad = bad.empty() ? last : bad;
    }
    if (good.empty() || bad.empty()) {
        throw std::runtime_error("GOOD=<rev> and BAD=<rev> are required (or SERIES=<dir>)");
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
    const fs::path log = layout.logs() / "bisect.log";
    fs::create_directories(log.parent_path());
    std::ofstream(log, std::ios::trunc).close();
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
    if (!found) {
        const auto lines = read_lines(log);
        for (std::size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) {
            progress.say(lines[i]);
        }
        throw std::runtime_error("bisect did not find a first bad commit (exit " +
                                 std::to_string(rc) + "); log: " + log.string());
    }
    Request at = request;
    at.step = *first;
    const fs::path run_dir =
        layout.run_dir(request.config, request.flavour, tree.step_name(*first), request.plans);
    // git bisect takes BAD's badness on trust: when BAD is the answer it was never run.
    if (!fs::exists(run_dir / "result.json")) {
        progress.say("bisect: running the first bad commit itself to show what fails");
        std::ostringstream report;
        if (build_and_boot(layout, at, report, progress) == 0) {
            progress.say("bisect: warning: " + first->substr(0, 12) +
                         " passes when run again: the failure may be intermittent");
        }
    }
    report_first_bad(out, tree.describe(*first), run_dir);
    return 0;
}

} // namespace ptlab
