// Splats as a developer reads them: a report the kernel printed 124 times is one line with its
// count, its first and last time and who hit it first, and the first of them in full with
// its call trace.
#pragma once

#include "ptlab/splat.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ptlab {

struct SplatGroup {
    Splat first;
    std::size_t count = 0;
    std::optional<double> first_time; ///< console timestamp, seconds since boot
    std::optional<double> last_time;
    std::string first_process; ///< who hit it first: "ksoftirqd/1", or empty
};

/// What makes two reports the same: the kind and the message with its numbers, addresses
/// and process names masked ("BUG: Bad page state in process # pfn:#").
std::string splat_signature(const Splat &splat);

/// The console timestamp of a raw line ("[   12.345678] ..."), if it has one.
std::optional<double> console_time(std::string_view raw);

/// The task a report names: "in process X" in its message, else "Comm: X" in its dump.
std::string splat_process(const Splat &splat);

/// Splats grouped by signature, in the order their first one appeared.
std::vector<SplatGroup> group_splats(const std::vector<Splat> &splats);

/// "[bad_page] line 6: BUG: Bad page state in process a pfn:1 x124, 5.2 s to 61.0 s, first
/// in a": the first report's console line and message, then how often, when and who.
std::string group_heading(const SplatGroup &group);

/// The lines of a report to show: its header, then its "Call trace:" up to max_lines
/// (the register dump and module list in between are left out when there is a trace).
std::vector<std::string> splat_shown_lines(const Splat &splat, std::size_t max_lines);

} // namespace ptlab
