// The external programs the lab runs, each with the Debian package that provides it
// (configs/tool-packages, which scripts/lib.sh reads too): a missing one is an error that
// names the package to install.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ptlab {

/// "gcc-aarch64-linux-gnu" for "aarch64-linux-gnu-gcc" in the table; "" for a program it
/// lacks.
std::string package_of_tool(const std::filesystem::path &table, const std::string &program);

/// Throws std::runtime_error for the first program not in PATH: "'X' not found: install
/// Debian package P (or run 'make deps')".
void need_tools(const std::filesystem::path &table, const std::vector<std::string> &programs);

} // namespace ptlab
