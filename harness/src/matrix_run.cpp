#include "ptlab/boot.hpp"
#include "ptlab/command.hpp"
#include "ptlab/compare.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lava_run.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <chrono>
#include <ostream>
#include <sstream>

// make matrix: the step x config loop; matrix.cpp renders what it finds.

namespace ptlab {

namespace {

using Clock = std::chrono::steady_clock;

Request cell_request(const MatrixRequest &request, const std::pair<std::string, std::string> &step,
                     const std::string &config) {
    Request boot = request.boot;
    boot.config = config;
    boot.step = step.second;
    boot.extra_args = "ptlab.stress_seconds=" + std::to_string(request.stress_seconds) +
                      (boot.extra_args.empty() ? "" : " " + boot.extra_args);
    return boot;
}

MatrixCell run_cell(const Layout &layout, const MatrixRequest &request,
                    const std::pair<std::string, std::string> &step, const std::string &config,
                    const Progress &progress) {
    const auto start = Clock::now();
    const Request boot = cell_request(request, step, config);
    BuiltKernel kernel;
    try {
        kernel = build_kernel(layout, {config, boot.flavour, boot.step}, {}, progress);
    } catch (const PhaseFailed &e) {
        return stopped_cell(step.first, config, "build failed", seconds_since(start));
    }
    std::ostringstream report;
    try {
        (void)boot_kernel(layout, boot, kernel, report, progress);
    } catch (const std::exception &e) {
        progress.say(std::string("matrix: ") + e.what());
        return stopped_cell(step.first, config, "boot failed", seconds_since(start));
    }
    const fs::path result =
        layout.run_dir(config, boot.flavour, kernel.step_name, boot.plans) / "result.json";
    if (!fs::exists(result)) {
        return stopped_cell(step.first, config, "boot failed", seconds_since(start));
    }
    return cell_from_result(step.first, config, result.string(), seconds_since(start));
}

std::vector<MatrixCell> local_cells(const Layout &layout, const MatrixRequest &request,
                                    const Progress &progress) {
    std::vector<MatrixCell> cells;
    for (const auto &step : matrix_steps(layout, request.steps)) {
        for (const auto &config : request.configs) {
            const auto cell_start = Clock::now();
            cells.push_back(run_cell(layout, request, step, config, progress));
            progress.say("matrix: " + step.first + " x " + config + ": " + cells.back().outcome +
                         " in " + elapsed_text(seconds_since(cell_start)));
        }
    }
    return cells;
}

/// A cell whose job ended (or never started): the console's verdict, with LAVA's beside it.
/// An infrastructure error or a lost job is LAVA's failure, not the kernel's; a job LAVA
/// calls Incomplete is never a pass.
MatrixCell lava_matrix_cell(const LavaCell &job, const std::string &step,
                            const std::string &config) {
    MatrixCell cell;
    const fs::path result = fs::path(job.args.run_dir) / "result.json";
    if (job.job_id.empty()) {
        cell = stopped_cell(step, config, "not submitted", job.seconds);
    } else if (job.lost) {
        cell = stopped_cell(step, config, "job lost", job.seconds);
    } else if (job.infrastructure) {
        cell = stopped_cell(step, config, "infrastructure error", job.seconds);
    } else if (!fs::exists(result)) {
        cell = stopped_cell(step, config, "no result", job.seconds);
    } else {
        cell = cell_from_result(step, config, result.string(), job.seconds);
        if (!job.problem.empty() && cell.outcome == "pass") {
            cell.outcome = "fail";
        }
    }
    if (!job.problem.empty()) {
        cell.reason = cell.reason.empty() ? job.problem : cell.reason + "; " + job.problem;
    }
    cell.lava_job = job.job_id;
    cell.lava_health = job.lost ? "lost" : job.status.health;
    return cell;
}

/// ENGINE=lava: each cell is built and prepared here and submitted at once, so the instance's
/// devices boot while the next kernel builds; then every job is collected as it ends.
std::vector<MatrixCell> lava_cells(const Layout &layout, const MatrixRequest &request,
                                   const Progress &progress) {
    const LavaClient client(lava_instance(layout, request.boot.lava));
    progress.say("lava: " + client.instance().url + " (LAVA " + client.version() +
                 "), device type " + client.instance().device_type);
    struct Slot {
        std::string step;
        std::string config;
        std::optional<MatrixCell> stopped; ///< the build failed: no job
        std::size_t job = 0;
    };
    std::vector<Slot> slots;
    std::vector<LavaCell> jobs;
    for (const auto &step : matrix_steps(layout, request.steps)) {
        for (const auto &config : request.configs) {
            Slot slot{step.first, config, std::nullopt, 0};
            const Request boot = cell_request(request, step, config);
            const auto start = Clock::now();
            try {
                const BuiltKernel kernel =
                    build_kernel(layout, {config, boot.flavour, boot.step}, {}, progress);
                LavaCell job;
                job.label = step.first + " x " + config;
                job.args = prepare_boot(layout, boot, kernel, progress);
                submit_lava_cell(client, layout, job, progress);
                slot.job = jobs.size();
                jobs.push_back(std::move(job));
            } catch (const PhaseFailed &) {
                slot.stopped =
                    stopped_cell(step.first, config, "build failed", seconds_since(start));
            } catch (const std::exception &e) {
                progress.say(std::string("matrix: ") + e.what());
                slot.stopped =
                    stopped_cell(step.first, config, "boot failed", seconds_since(start));
            }
            slots.push_back(std::move(slot));
        }
    }
    std::ostringstream reports; // each job's own report; the table says it all
    collect_lava_cells(client, jobs, reports, progress);
    std::vector<MatrixCell> cells;
    for (const auto &slot : slots) {
        cells.push_back(slot.stopped ? *slot.stopped
                                     : lava_matrix_cell(jobs[slot.job], slot.step, slot.config));
    }
    return cells;
}

} // namespace

MatrixRequest matrix_request_from(const Getenv &env, const Layout &layout) {
    MatrixRequest m;
    m.boot = request_from(env, layout);
    m.boot.plans = split_words(knob_value(env, "MATRIX_PLANS"));
    check_plan_names(m.boot.plans, layout);
    m.configs = split_words(knob_value(env, "CONFIGS"));
    if (m.configs.empty()) {
        m.configs = layout.config_names();
    }
    for (const auto &config : m.configs) {
        check_config_name(config, layout);
    }
    m.steps = split_words(knob_value(env, "MATRIX_STEPS"));
    m.stress_seconds =
        parse_count("MATRIX_STRESS_SECONDS", knob_value(env, "MATRIX_STRESS_SECONDS"), 0, 3600);
    return m;
}

std::vector<std::pair<std::string, std::string>>
matrix_steps(const Layout &layout, const std::vector<std::string> &only) {
    const Tree tree(layout.src());
    if (!tree.exists()) {
        throw std::runtime_error("build/linux does not exist: run 'make source' first");
    }
    std::vector<std::pair<std::string, std::string>> steps = {
        {"series-base", tree.resolve_step("series-base")}};
    const auto commits = tree.commits_between("series-base", "series-head");
    for (std::size_t i = 0; i < commits.size(); ++i) {
        steps.emplace_back(std::to_string(i + 1) + "/" + std::to_string(commits.size()) + " " +
                               commits[i].substr(0, 9),
                           commits[i]);
    }
    if (only.empty()) {
        return steps;
    }
    std::vector<std::pair<std::string, std::string>> chosen;
    for (const auto &name : only) {
        std::string sha;
        try {
            sha = tree.resolve_step(name);
        } catch (const std::runtime_error &e) {
            throw KnobError(std::string("MATRIX_STEPS: ") + e.what());
        }
        const auto it = std::find_if(steps.begin(), steps.end(),
                                     [&](const auto &step) { return step.second == sha; });
        if (it == steps.end()) {
            throw KnobError("MATRIX_STEPS: " + name +
                            " is not a step of the series (series-base "
                            "to series-head)");
        }
        chosen.push_back(*it);
    }
    return chosen;
}

int run_matrix(const Layout &layout, const MatrixRequest &request, std::ostream &out,
               const Progress &progress) {
    const auto start = Clock::now();
    build_guest_userspace(layout);
    const std::vector<MatrixCell> cells = request.boot.engine == engine_lava
                                              ? lava_cells(layout, request, progress)
                                              : local_cells(layout, request, progress);
    progress.say("matrix: " + std::to_string(cells.size()) + " cells in " +
                 elapsed_text(seconds_since(start)));
    print_matrix(out, cells);
    const fs::path results = layout.matrix_results();
    fs::remove_all(results);
    fs::create_directories(results);
    write_output((results / "matrix.json").string(),
                 [&](std::ostream &o) { o << matrix_to_json(cells); });
    write_output((results / "matrix.xml").string(),
                 [&](std::ostream &o) { write_matrix_junit(o, cells); });
    const fs::path kept = keep_results(layout, results, "matrix", request.configs);
    progress.say("matrix: results in " + results.string() + ", kept as " + kept.string());
    for (const auto &cell : cells) {
        if (cell.outcome != "pass") {
            return 1;
        }
    }
    return 0;
}

} // namespace ptlab
