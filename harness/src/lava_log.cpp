#include "ptlab/lava.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/run.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

// A LAVA job log is a YAML list written one record per line ("- {dt: ..., lvl: ..., msg:
// ...}"), so a line is read on its own: a log cut short loses its last record, not the rest.

namespace ptlab {

namespace {

std::string scalar(const YAML::Node &n, const char *key) {
    const YAML::Node v = n[key];
    return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

/// "results" records: the monitor's test cases and LAVA's own actions, the last of which,
/// "job", says how the job ended and, when it failed, whose fault it was.
void read_result(const YAML::Node &msg, LavaLog &log) {
    const std::string definition = scalar(msg, "definition");
    const std::string test_case = scalar(msg, "case");
    if (definition == "lava" && test_case == "job") {
        log.job_passed = scalar(msg, "result") == "pass";
        log.error_type = scalar(msg, "error_type");
        log.error_msg = scalar(msg, "error_msg");
    } else if (definition != "lava" && !test_case.empty()) {
        log.monitor_results[test_case] = scalar(msg, "result");
    }
}

} // namespace

LavaLog parse_lava_log(const std::string &raw) {
    LavaLog log;
    std::istringstream in(raw);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("- ", 0) != 0) {
            continue;
        }
        YAML::Node record;
        try {
            record = YAML::Load(line.substr(2));
        } catch (const YAML::Exception &) {
            continue; // a record cut short at the end of a log still being written
        }
        if (!record.IsMap()) {
            continue;
        }
        const std::string level = scalar(record, "lvl");
        const YAML::Node msg = record["msg"];
        // "target": the serial console while an action reads it; "feedback": what the
        // console said while LAVA was doing something else (the power-off at the end).
        if ((level == "target" || level == "feedback") && msg && msg.IsScalar()) {
            log.console.push_back(msg.as<std::string>());
        } else if (level == "results" && msg && msg.IsMap()) {
            read_result(msg, log);
        } else if (msg && msg.IsScalar() &&
                   msg.as<std::string>().find("lava test monitoring has timed out") !=
                       std::string::npos) {
            log.monitor_timed_out = true;
        }
    }
    return log;
}

LavaJobStatus parse_lava_job_status(const std::string &yaml) {
    const YAML::Node job = YAML::Load(yaml);
    LavaJobStatus s;
    s.id = scalar(job, "id");
    s.state = scalar(job, "state");
    s.health = scalar(job, "health");
    s.device = scalar(job, "device");
    if (s.state.empty()) {
        throw std::runtime_error("not a LAVA job: no state in '" + yaml.substr(0, 200) + "'");
    }
    return s;
}

LavaOutcome lava_outcome(const LavaJobStatus &status, const LavaLog &log,
                         const std::string &verdict_reason) {
    if (status.health == "Complete" && log.job_passed) {
        return {};
    }
    const std::string why = log.error_msg.empty() ? "" : ": " + log.error_msg;
    if (status.health == "Canceled") {
        return {"LAVA job Canceled" + why, true};
    }
    static const std::vector<std::string> kernel_reasons = {
        reason::panic,         reason::splat,          reason::timeout,
        reason::test_failures, reason::broken_promise, reason::ktap_error};
    const bool kernel = std::find(kernel_reasons.begin(), kernel_reasons.end(), verdict_reason) !=
                        kernel_reasons.end();
    if (log.error_type == "Infrastructure" && !kernel) {
        return {"LAVA infrastructure error" + why, true};
    }
    const std::string health = status.health.empty() ? status.state : status.health;
    return {"LAVA job " + health +
                (log.error_type.empty() ? "" : " (" + log.error_type + " error") +
                (kernel && log.error_type == "Infrastructure"
                     ? ", after the guest's " + verdict_reason + ")"
                 : log.error_type.empty() ? ""
                                          : ")") +
                why,
            false};
}

} // namespace ptlab
