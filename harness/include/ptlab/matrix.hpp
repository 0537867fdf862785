// The step x config matrix (make matrix): one cell per kernel built and booted, read back
// from each run's result.json, printed as a table and written as JSON and JUnit XML.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct MatrixCell {
    std::string step;
    std::string config;
    std::string outcome; ///< "pass", "fail", or what stopped it ("build failed", "not run")
    std::string reason;  ///< the run's reason and detail, for a failing cell
    int passed = 0;
    int failed = 0;
    int skipped = 0;
    double seconds = -1; ///< wall time of build + boot, when known
    std::vector<std::pair<std::string, std::string>> plans; ///< plan name -> status
    std::map<std::string, std::string> tests; ///< "plan/test" -> status, a plan's own tests
    std::string lava_job;                     ///< ENGINE=lava: the job's id ...
    std::string lava_health; ///< ... and how LAVA says it ended (Complete, Incomplete, ...)
};

/// The tests whose result differs between the first and the last step of each config
/// (series-base and series-head): "4k-48: kselftest-vm/khugepaged: series-base PASS,
/// series-head FAIL". A test missing at one end is not a difference.
std::vector<std::string> matrix_differences(const std::vector<MatrixCell> &cells);

/// A cell whose run happened: its counts, plans and reason from the run's result.json.
MatrixCell cell_from_result(const std::string &step, const std::string &config,
                            const std::string &result_json, double seconds);
/// A cell that stopped before a verdict: outcome is what stopped it ("build failed").
MatrixCell stopped_cell(const std::string &step, const std::string &config, const std::string &what,
                        double seconds);

/// Rows are steps and columns configs, both in first-seen order; the last line is
/// "<N> cells passed, <M> failed".
void print_matrix(std::ostream &out, const std::vector<MatrixCell> &cells);
std::string matrix_to_json(const std::vector<MatrixCell> &cells);
void write_matrix_junit(std::ostream &out, const std::vector<MatrixCell> &cells);

struct MatrixRequest {
    std::vector<std::string> configs; ///< CONFIGS: every geometry by default
    Request boot;                     ///< MATRIX_PLANS as its plans; flavour, timeout, ...
    int stress_seconds = 0;           ///< MATRIX_STRESS_SECONDS, per workload per cell
    std::vector<std::string> steps;   ///< MATRIX_STEPS: only these rows; empty: all
};
MatrixRequest matrix_request_from(const Getenv &env, const Layout &layout);

/// The rows: series-base, then each commit up to series-head, labelled "2/4 <sha>"; with
/// only, the ones those revisions name.
std::vector<std::pair<std::string, std::string>>
matrix_steps(const Layout &layout, const std::vector<std::string> &only = {});

/// Where two runs of the same cells (matrix.json's "cells": the local engine's and LAVA's)
/// disagree: a cell's outcome, its counts or a plan's status; a cell one of them lacks.
/// Empty when they agree.
std::vector<std::string> matrix_disagreements(const nlohmann::json &a, const nlohmann::json &b);

/// Every step x every config: built (a failure is the cell's outcome), booted, judged. Prints
/// the table and writes results/matrix.{json,xml}; 0 when every cell passed.
int run_matrix(const Layout &layout, const MatrixRequest &request, std::ostream &out,
               const Progress &progress);

} // namespace ptlab
