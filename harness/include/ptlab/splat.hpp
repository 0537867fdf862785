// Kernel splat detector: WARN/BUG/Oops/panic/lockdep/KASAN/... reports in a console log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

struct Splat {
    std::string kind;                 ///< e.g. "warning", "lockdep", "oops", "panic", "bad_page"
    std::size_t line_number;          ///< 1-based line of the header
    std::string first_line;           ///< header message, console prefix stripped
    std::vector<std::string> excerpt; ///< raw lines of the block, header first
    std::string expected;             ///< why it is expected (a known splat), else ""
};

/// All splat kinds the detector can report (for --allow validation).
const std::vector<std::string> &splat_kinds();

/// Kind of splat a single console line starts, or "" if none. `previous` are the lines
/// before it (used to tell a VM_BUG_ON "kernel BUG at" from a plain BUG()).
std::string classify_splat_header(std::string_view line,
                                  const std::vector<std::string> &previous = {},
                                  std::size_t index = 0);

/// Scan a console log; one Splat per report block.
std::vector<Splat> find_splats(const std::vector<std::string> &lines);

} // namespace ptlab
