// Reading a run's result.json back: the facts the reports built on it quote.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ptlab {

/// reason, verdict ("pass" or "reason (detail)"), failing-tests (names, each once, comma
/// separated) or first-splat ("kind: first line (console line N)"; "" without a splat).
std::string result_field(const nlohmann::json &result, const std::string &field);

} // namespace ptlab
