#include "ptlab/tools.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"

#include <stdexcept>

namespace ptlab {

std::string package_of_tool(const std::filesystem::path &table, const std::string &program) {
    for (const auto &line : read_lines(table)) {
        const std::string_view entry = trim(line);
        if (entry.empty() || entry.front() == '#') {
            continue;
        }
        const std::size_t space = entry.find_first_of(" \t");
        if (space != std::string_view::npos && entry.substr(0, space) == program) {
            return std::string(trim(entry.substr(space)));
        }
    }
    return "";
}

void need_tools(const std::filesystem::path &table, const std::vector<std::string> &programs) {
    for (const auto &program : programs) {
        if (find_in_path(program).empty()) {
            const std::string package = package_of_tool(table, program);
            throw std::runtime_error("'" + program + "' not found: install Debian package " +
                                     (package.empty() ? "(unknown)" : package) +
                                     " (or run 'make deps')");
        }
    }
}

} // namespace ptlab
