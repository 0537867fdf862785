// Generic access to tests/fixtures/ (PTLAB_FIXTURES_DIR is set by CMake). Real captured logs
// can be dropped in as tests/fixtures/real-*.log with a real-*.expect sidecar (see
// test_fixtures_expect.cpp) without touching any test code.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::testing {

std::filesystem::path fixtures_dir();
std::filesystem::path fixture_path(std::string_view name);
std::string fixture_text(std::string_view name);
std::vector<std::string> fixture_lines(std::string_view name);
/// Sorted file names in the fixtures dir that end with `suffix` (e.g. ".log").
std::vector<std::string> fixture_names(std::string_view suffix);
/// Inline log text -> lines.
std::vector<std::string> lines_of(std::string_view text);

} // namespace ptlab::testing
