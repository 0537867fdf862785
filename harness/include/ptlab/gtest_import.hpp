// GoogleTest JSON report (--gtest_output=json:FILE) -> TestResult leaves.
#pragma once

#include "ptlab/ktap.hpp"

#include <string_view>
#include <vector>

namespace ptlab {

/// True if the text is a JSON object with a "testsuites" array (a gtest report).
bool looks_like_gtest_json(std::string_view text);

/// One leaf per test, named "Suite.Test": failures -> Fail with the messages as diagnostics,
/// SKIPPED / not run (disabled) -> Skip, else Pass; "time" -> seconds.
/// Throws std::runtime_error if the text is not a gtest JSON report.
std::vector<TestResult> import_gtest_json(std::string_view text);

} // namespace ptlab
