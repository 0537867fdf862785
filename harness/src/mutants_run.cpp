#include "ptlab/boot.hpp"
#include "ptlab/command.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/mutants.hpp"
#include "ptlab/tree.hpp"

#include <chrono>
#include <ostream>
#include <sstream>

// make mutants: each cell's patch as a throwaway commit, built and booted as make run
// would; mutants.cpp judges and prints.

namespace ptlab {

namespace {

using Clock = std::chrono::steady_clock;

/// The patch as a commit on rev, HEAD put back. The lab's fixed committer makes the sha
/// the same on every run, so a mutant built once is not built again.
std::string throwaway_commit(const Layout &layout, const std::string &rev, const fs::path &patch,
                             const Progress &progress) {
    const Tree tree(layout.src());
    const FileLock lock(layout.src_lock(), "mutant", progress);
    const KeepHead keep(tree);
    tree.checkout(rev);
    am_patch(tree, patch);
    return tree.head();
}

Request cell_request(const MutantsRequest &request, const MutantCell &cell,
                     const std::string &sha) {
    const Mutant &m = *cell.mutant;
    Request boot = request.boot;
    boot.config = cell.config;
    boot.step = sha;
    boot.plans = m.plans;
    if (!m.kernel_args.empty()) {
        boot.extra_args = m.kernel_args + (boot.extra_args.empty() ? "" : " " + boot.extra_args);
    }
    if (m.timeout_seconds > 0) {
        boot.timeout_seconds = m.timeout_seconds;
    }
    return boot;
}

/// A mutant that stops the build is caught by the build, when its entry says so.
void judge_build_failure(const PhaseFailed &e, MutantResult &r) {
    const nlohmann::json result = {{"outcome", "fail"},
                                   {"reason", "build failed"},
                                   {"tests", {{{"name", "build"}, {"status", "fail"}}}}};
    judge_mutant(result, e.what(), r);
    if (r.outcome != MutantOutcome::Caught) {
        r.outcome = MutantOutcome::Error;
        r.problems.push_back(split_lines(e.what()).back());
    }
}

void try_cell(const Layout &layout, const MutantsRequest &request, const MutantCell &cell,
              const Progress &progress, MutantResult &r) {
    r.sha = throwaway_commit(layout, cell.step, cell.mutant->patch, progress);
    const Request boot = cell_request(request, cell, r.sha);
    BuiltKernel kernel;
    try {
        kernel = build_kernel(layout, {boot.config, boot.flavour, boot.step}, {}, progress);
    } catch (const PhaseFailed &e) {
        judge_build_failure(e, r);
        return;
    }
    std::ostringstream report;
    (void)boot_kernel(layout, boot, kernel, report, progress);
    const fs::path dir = layout.run_dir(boot.config, boot.flavour, kernel.step_name, boot.plans);
    r.run_dir = dir.string();
    if (!fs::exists(dir / "result.json")) {
        r.problems.push_back("the run left no verdict in " + dir.string());
        return;
    }
    const std::string console =
        fs::exists(dir / "console.log") ? read_text_file(dir / "console.log") : "";
    judge_mutant(nlohmann::json::parse(read_text_file(dir / "result.json")), console, r);
}

MutantResult run_cell(const Layout &layout, const MutantsRequest &request, const MutantCell &cell,
                      const Progress &progress) {
    const auto start = Clock::now();
    MutantResult r;
    r.name = cell.mutant->name;
    r.config = cell.config;
    r.step = cell.step;
    r.expect = cell.mutant->expect;
    try {
        try_cell(layout, request, cell, progress, r);
    } catch (const std::exception &e) {
        r.outcome = MutantOutcome::Error;
        for (const auto &line : split_lines(e.what())) {
            r.problems.push_back(line);
        }
    }
    r.seconds = seconds_since(start);
    return r;
}

} // namespace

MutantsRequest mutants_request_from(const Getenv &env, const Layout &layout) {
    MutantsRequest m;
    m.boot = request_from(env, layout);
    m.catalogue = layout.mutant_catalogue();
    m.names = split_words(knob_value(env, "MUTANTS"));
    m.configs = split_words(knob_value(env, "CONFIGS"));
    for (const auto &config : m.configs) {
        check_config_name(config, layout);
    }
    return m;
}

int run_mutants(const Layout &layout, const MutantsRequest &request, std::ostream &out,
                const Progress &progress) {
    const auto start = Clock::now();
    const std::vector<Mutant> catalogue = load_catalogue(request.catalogue, layout);
    const std::vector<MutantCell> cells =
        mutant_cells(catalogue, request.names, request.configs, request.fast);
    if (cells.empty()) {
        throw CatalogueError("no mutant to run: none of " + request.catalogue.string() +
                             " is on CONFIGS");
    }
    build_guest_userspace(layout);
    std::vector<MutantResult> results;
    for (const auto &cell : cells) {
        progress.say("mutants: " + cell.mutant->name + " on " + cell.config + " @ " + cell.step +
                     ": " + cell.mutant->defect);
        results.push_back(run_cell(layout, request, cell, progress));
        const MutantResult &r = results.back();
        progress.say("mutants: " + r.name + " on " + r.config + " @ " + r.step + ": " +
                     outcome_name(r.outcome) + " (" + caught_by_text(r) + ") in " +
                     elapsed_text(r.seconds));
    }
    progress.say("mutants: " + std::to_string(results.size()) + " cells in " +
                 elapsed_text(seconds_since(start)));
    print_mutant_table(out, results);
    const fs::path folder = layout.mutants_results();
    fs::create_directories(folder);
    const std::string json = mutant_results_json(results);
    write_output((folder / "mutants.json").string(), [&](std::ostream &o) { o << json; });
    write_output(request.json, [&](std::ostream &o) { o << json; });
    progress.say("mutants: results in " + (folder / "mutants.json").string());
    for (const auto &r : results) {
        if (r.outcome != MutantOutcome::Caught) {
            return 1;
        }
    }
    return 0;
}

} // namespace ptlab
