// The ptlab command line (CLI11); main() just forwards here so the CLI is unit-testable.
#pragma once

#include <iosfwd>

namespace ptlab {

/// Exit codes: 0 pass, 1 fail, 2 usage or I/O error.
int run_cli(int argc, const char *const *argv, std::ostream &out, std::ostream &err);

} // namespace ptlab
