// The external programs the lab runs, each with the Debian package that provides it: a
// missing one is an error that names the package to install.
#pragma once

#include <string>
#include <vector>

namespace ptlab {

/// "gcc-aarch64-linux-gnu" for "aarch64-linux-gnu-gcc"; "" for a program the table lacks.
std::string package_of_tool(const std::string &program);

/// Throws std::runtime_error for the first program not in PATH: "'X' not found: install
/// Debian package P (or run 'make deps')".
void need_tools(const std::vector<std::string> &programs);

} // namespace ptlab
