#include "ptlab/boot.hpp"
#include "ptlab/command.hpp"
#include "ptlab/compare.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/tree.hpp"

#include <chrono>
#include <ostream>
#include <sstream>

// make matrix: the step x config loop; matrix.cpp renders what it finds.

namespace ptlab {

namespace {

using Clock = std::chrono::steady_clock;

MatrixCell run_cell(const Layout &layout, const MatrixRequest &request,
                    const std::pair<std::string, std::string> &step, const std::string &config,
                    const Progress &progress) {
    const auto start = Clock::now();
    Request boot = request.boot;
    boot.config = config;
    boot.step = step.second;
    boot.extra_args = "ptlab.stress_seconds=" + std::to_string(request.stress_seconds) +
                      (boot.extra_args.empty() ? "" : " " + boot.extra_args);
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
    m.stress_seconds =
        parse_count("MATRIX_STRESS_SECONDS", knob_value(env, "MATRIX_STRESS_SECONDS"), 0, 3600);
    return m;
}

std::vector<std::pair<std::string, std::string>> matrix_steps(const Layout &layout) {
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
    return steps;
}

int run_matrix(const Layout &layout, const MatrixRequest &request, std::ostream &out,
               const Progress &progress) {
    const auto start = Clock::now();
    build_guest_userspace(layout);
    std::vector<MatrixCell> cells;
    for (const auto &step : matrix_steps(layout)) {
        for (const auto &config : request.configs) {
            const auto cell_start = Clock::now();
            cells.push_back(run_cell(layout, request, step, config, progress));
            progress.say("matrix: " + step.first + " x " + config + ": " + cells.back().outcome +
                         " in " + elapsed_text(seconds_since(cell_start)));
        }
    }
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
