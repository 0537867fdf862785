#include "fixture.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>

#ifndef PTLAB_FIXTURES_DIR
#error "PTLAB_FIXTURES_DIR must be defined by the build"
#endif

namespace ptlab::testing {

std::filesystem::path fixtures_dir() { return {PTLAB_FIXTURES_DIR}; }

std::filesystem::path fixture_path(std::string_view name) { return fixtures_dir() / name; }

std::string fixture_text(std::string_view name) { return read_text_file(fixture_path(name)); }

std::vector<std::string> fixture_lines(std::string_view name) {
    return read_lines(fixture_path(name));
}

std::vector<std::string> fixture_names(std::string_view suffix) {
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(fixtures_dir())) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name.ends_with(suffix)) {
            names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<std::string> lines_of(std::string_view text) { return split_lines(text); }

} // namespace ptlab::testing
