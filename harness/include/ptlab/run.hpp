// Verdict for one boot of the test lab: markers + KTAP + splats -> Pass/Fail with a reason.
#pragma once

#include "ptlab/ktap.hpp"
#include "ptlab/splat.hpp"

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ptlab {

enum class Outcome { Pass, Fail };

struct RunOptions {
    bool timed_out = false;              ///< the runner killed QEMU on timeout
    std::set<std::string> allowed_kinds; ///< splat kinds that are informational only
    std::string start_marker = "PTLAB-START";
    std::string end_marker = "PTLAB-END";
    std::size_t tail_lines = 50;
};

/// Reasons, in priority order.
namespace reason {
inline constexpr const char *panic = "panic";
inline constexpr const char *timeout = "timeout";
inline constexpr const char *no_end_marker = "no end marker";
inline constexpr const char *splat = "splat";
inline constexpr const char *test_failures = "test failures";
inline constexpr const char *ktap_error = "ktap error";
} // namespace reason

struct Verdict {
    Outcome outcome = Outcome::Fail;
    std::string reason; ///< "" on Pass, else one of ptlab::reason
    std::string detail; ///< human-readable detail (splat kind and first line, ...)
    bool start_marker_seen = false;
    std::map<std::string, std::string> start_fields; ///< plan=, config=, step= of PTLAB-START
    bool end_marker_seen = false;
    int guest_rc = -1; ///< rc= of PTLAB-END, -1 if unknown
    bool timed_out = false;
    KtapLog ktap;
    std::vector<Splat> splats;         ///< splats that fail the run
    std::vector<Splat> allowed_splats; ///< splats of allowed kinds (informational)
    std::vector<std::string> tail;     ///< last console lines for panic/timeout/no end marker
};

Verdict judge_run(const std::vector<std::string> &lines, const RunOptions &options = {});

/// True for panic / timeout / no end marker.
bool is_unclean_end(const std::string &reason);

} // namespace ptlab
