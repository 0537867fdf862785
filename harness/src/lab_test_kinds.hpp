// The kinds of check tests/checks.json can name: each one function that runs what the row
// asks and says whether what it expects happened. Private to lab_test.cpp.
#pragma once

#include "ptlab/lab_test.hpp"

#include <functional>
#include <string>
#include <vector>

namespace ptlab {

/// Runs a check's fields; fills status, skip reason, diagnostics and subtests.
using CheckRunner = std::function<void(const CheckSpec &, const CheckPlaces &, TestResult &)>;

struct CheckKind {
    const char *name;
    const char *meaning;
    std::vector<std::string> required; ///< fields beyond the common ones
    std::vector<std::string> optional;
    CheckRunner run;
};

/// Every kind, in the order `ptlab test --kinds` lists them.
const std::vector<CheckKind> &check_kinds();

} // namespace ptlab
