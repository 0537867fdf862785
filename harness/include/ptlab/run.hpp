// Verdict for one boot of the test lab: markers + KTAP + splats -> Pass/Fail with a reason.
#pragma once

#include "ptlab/ktap.hpp"
#include "ptlab/promises.hpp"
#include "ptlab/splat.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ptlab {

enum class Outcome { Pass, Fail };

/// How the guest process (QEMU) ended: recorded by run_guest() (guest.hpp) in guest.json,
/// read by the judge.
struct GuestExit {
    bool timed_out = false;        ///< killed by the runner at the timeout
    bool killed_after_end = false; ///< killed by the runner after the end marker
    bool end_marker_seen = false;
    std::optional<int> exit_code; ///< set when it exited
    std::optional<int> signal;    ///< set when a signal ended it
    std::size_t console_bytes = 0;
    double wall_seconds = 0;
    std::optional<double> first_ktap_seconds;
    std::vector<std::string> stderr_lines; ///< QEMU's own messages, kept apart from the console

    [[nodiscard]] bool killed_by_runner() const { return timed_out || killed_after_end; }
};

/// The console lines rootfs/init prints around the plans: what a run is judged between, what
/// ends a local boot, and what a LAVA job waits for.
inline constexpr const char *guest_start_marker = "PTLAB-START";
inline constexpr const char *guest_end_marker = "PTLAB-END";

struct RunOptions {
    bool timed_out = false;              ///< the runner killed QEMU on timeout
    std::optional<GuestExit> qemu;       ///< unknown for a bare console log
    std::set<std::string> allowed_kinds; ///< splat kinds that are informational only
    std::string start_marker = guest_start_marker;
    std::string end_marker = guest_end_marker;
    std::size_t tail_lines = 50;
    std::map<std::string, std::string> promised; ///< what the config at the step promises
    std::vector<Fact> host_facts;                ///< known on the host (the built .config)
    /// Upstream selftests known to fail at this config and step: test name -> why.
    KnownFailures known_failures;
    /// Kernel reports upstream selftests are known to provoke at this config and step.
    KnownSplats known_splats;
};

/// Reasons, in priority order.
/// The plan that runs EXEC's command (rootfs/plans/exec.plan): last, after the others; the
/// report shows its output.
inline constexpr const char *exec_plan = "exec";

namespace reason {
inline constexpr const char *panic = "panic";
inline constexpr const char *timeout = "timeout";
inline constexpr const char *qemu_failed_to_start = "QEMU failed to start";
inline constexpr const char *qemu_died = "QEMU died";
inline constexpr const char *no_end_marker = "no end marker";
inline constexpr const char *splat = "splat";
inline constexpr const char *broken_promise = "broken promise";
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
    std::vector<Splat> splats; ///< splats that fail the run
    /// splats of allowed kinds (informational) and known splats (expected, with the reason)
    std::vector<Splat> allowed_splats;
    std::vector<std::string> tail;      ///< last console lines for panic/timeout/no end marker
    std::vector<PromiseCheck> promises; ///< host and guest facts against the promises
};

Verdict judge_run(const std::vector<std::string> &lines, const RunOptions &options = {});

/// True for panic / timeout / QEMU failing or dying / no end marker.
bool is_unclean_end(const std::string &reason);

} // namespace ptlab
