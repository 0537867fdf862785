// LAVA as a second engine: a matrix cell or a bisection step as a LAVA job (the same machine,
// kernel, initramfs and command line as a local boot), and the job's log read back into the
// console the local judge reads. The client (lavacli) and the engine are in lava_run.hpp.
#pragma once

#include "ptlab/machine.hpp"

#include <map>
#include <string>
#include <vector>

namespace ptlab {

/// One job: what a local boot of the cell would run, with its files by URL.
struct LavaJobRequest {
    std::string name;         ///< "boot audit@4k-48-debug/series-head"
    std::string device_type;  ///< LAVA_DEVICE_TYPE
    Machine machine;          ///< cpu, machine and the kernel command line's start
    GuestRequest guest;       ///< memory, CPUs and the plans' command line
    std::string firmware_url; ///< file:// on a local instance, else from the artifacts
    std::string kernel_url;
    std::string initrd_url;
    int timeout_seconds = 900; ///< TIMEOUT: the test monitor's, as a local run's
};

/// The job definition as YAML, ready for `lavacli jobs submit`.
std::string lava_job_yaml(const LavaJobRequest &request);

/// What one job's log says (lavacli jobs logs --raw: one YAML record per line).
struct LavaLog {
    std::vector<std::string> console; ///< the guest's serial output, line by line
    std::string error_type;           ///< "Infrastructure", "Job", "Test", ... or empty
    std::string error_msg;
    bool job_passed = false;        ///< LAVA's own "job" result
    bool monitor_timed_out = false; ///< the test monitor gave up waiting for the end marker
    /// The test monitor's results: "boot" -> "pass" (top-level KTAP results, SKIPs left out).
    std::map<std::string, std::string> monitor_results;
};
LavaLog parse_lava_log(const std::string &raw);

/// A job as LAVA reports it (lavacli jobs show --yaml): state and health.
struct LavaJobStatus {
    std::string id;
    std::string state;  ///< Submitted, Scheduling, Scheduled, Running, Canceling, Finished
    std::string health; ///< Unknown, Complete, Incomplete, Canceled
    std::string device;
    [[nodiscard]] bool finished() const { return state == "Finished"; }
};
LavaJobStatus parse_lava_job_status(const std::string &yaml);

/// Where a finished job leaves a cell, beside the console's verdict.
struct LavaOutcome {
    std::string problem;         ///< empty when LAVA completed the job; else why it is no pass
    bool infrastructure = false; ///< LAVA's failure (a download, a device, a cancel), not the
                                 ///< kernel's: a bisection must not blame the step for it
};
/// verdict_reason is the console's (run.hpp's reason::..., empty for a pass). LAVA calls a
/// guest that stops answering an infrastructure error ("Connection closed"); when the console
/// shows why (a panic, a splat, a hang), the failure is the kernel's.
LavaOutcome lava_outcome(const LavaJobStatus &status, const LavaLog &log,
                         const std::string &verdict_reason);

} // namespace ptlab
