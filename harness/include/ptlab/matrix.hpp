// The step x config matrix (make matrix): one cell per kernel built and booted, read back
// from each run's result.json, printed as a table and written as JSON and JUnit XML.
#pragma once

#include <iosfwd>
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
};

/// One cell per line of a TSV index: step, config, state, result.json path (empty unless the
/// run happened), seconds. state is "ran" or what stopped the cell ("build failed").
std::vector<MatrixCell> load_matrix(const std::vector<std::string> &index_lines);

/// Rows are steps and columns configs, both in first-seen order; the last line is
/// "<N> cells passed, <M> failed".
void print_matrix(std::ostream &out, const std::vector<MatrixCell> &cells);
std::string matrix_to_json(const std::vector<MatrixCell> &cells);
void write_matrix_junit(std::ostream &out, const std::vector<MatrixCell> &cells);

} // namespace ptlab
