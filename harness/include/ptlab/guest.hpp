// One guest process (QEMU, or a fake one in the tests): its console streamed to a log file as
// it arrives, the end marker and the first KTAP line noticed on the way, a timeout enforced,
// and how the process ended recorded. Judging the log is run.hpp's job.
#pragma once

#include "ptlab/run.hpp"

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace ptlab {

struct GuestLimits {
    std::chrono::milliseconds timeout{std::chrono::seconds(900)};
    /// After the end marker the guest powers itself off; this long, then it is killed.
    std::chrono::milliseconds after_end{std::chrono::seconds(15)};
    /// Between SIGTERM and SIGKILL.
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
    std::string end_marker = guest_end_marker;
};

/// Runs argv with stdin from /dev/null, stdout (the console) appended to console_log and, when
/// live is set, copied to it; stderr to stderr_log. A program that cannot be executed ends
/// with exit code 127 and the reason on stderr_lines.
GuestExit run_guest(const std::vector<std::string> &argv, const std::string &console_log,
                    const std::string &stderr_log, const GuestLimits &limits,
                    std::ostream *live = nullptr);

/// guest.json of a run folder, and back.
std::string guest_exit_to_json(const GuestExit &exit);
GuestExit guest_exit_from_json(const std::string &text);

} // namespace ptlab
