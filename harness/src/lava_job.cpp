#include "ptlab/lava.hpp"

#include "ktap_writer.hpp"
#include "ptlab/run.hpp"

#include <yaml-cpp/yaml.h>

// The job a cell becomes. Every value a local boot uses comes from the same Machine and
// GuestRequest; what is here is only how LAVA's stock qemu device type must be told it.

namespace ptlab {

namespace {

/// LAVA's qemu device type builds the command line from the job's context. Without these it
/// would pick another CPU (cortex-a57) and machine, and user networking.
YAML::Node job_context(const LavaJobRequest &r) {
    YAML::Node context;
    context["arch"] = "arm64";
    context["machine"] = r.machine.machine;
    context["cpu"] = r.machine.cpu;
    context["memory"] = guest_memory_mib(r.machine, r.guest);
    // The template always adds "-net nic,...,macaddr=... -net <netdevice>": "none" leaves the
    // NIC without a backend (QEMU: "hub 0 is not connected to host network"), so the guest
    // has no network, as with -nodefaults locally.
    context["netdevice"] = "none";
    context["extra_options"].push_back("-smp " + std::to_string(guest_smp(r.machine, r.guest)));
    // A panic reboots nothing: QEMU exits and the job ends at once, as a local run does.
    context["extra_options"].push_back("-no-reboot");
    return context;
}

YAML::Node image(const std::string &url, const std::string &arg) {
    YAML::Node n;
    n["url"] = url;
    n["image_arg"] = arg;
    return n;
}

YAML::Node minutes(int m) {
    YAML::Node n;
    n["minutes"] = m;
    return n;
}

YAML::Node seconds(int s) {
    YAML::Node n;
    n["seconds"] = s;
    return n;
}

/// One entry of the job's "actions" list: {kind: body}.
YAML::Node action(const char *kind, const YAML::Node &body) {
    YAML::Node a;
    a[kind] = body;
    return a;
}

YAML::Node deploy_action(const LavaJobRequest &r) {
    YAML::Node deploy;
    deploy["to"] = "tmpfs";
    deploy["timeout"] = minutes(5);
    // The same three files and command line as qemu_argv(): -bios, -kernel -append, -initrd.
    deploy["images"]["firmware"] = image(r.firmware_url, "-bios {firmware}");
    deploy["images"]["kernel"] =
        image(r.kernel_url,
              "-kernel {kernel} -append \"" + guest_command_line(r.machine, r.guest) + "\"");
    deploy["images"]["initrd"] = image(r.initrd_url, "-initrd {initrd}");
    return action("deploy", deploy);
}

/// The boot is over when /init starts the plans: a kernel that never gets there is LAVA's
/// boot failure, and its console is still judged. The boot's timeout is also how long the
/// test monitor waits for its next line: TIMEOUT, as a local run waits.
YAML::Node boot_action(const LavaJobRequest &r) {
    YAML::Node boot;
    boot["method"] = "qemu";
    boot["media"] = "tmpfs";
    boot["timeout"] = seconds(r.timeout_seconds);
    boot["prompts"].push_back(guest_start_marker);
    return action("boot", boot);
}

/// No shell in the guest to run LAVA's test overlay: a monitor watches the plans' KTAP. Its
/// results are LAVA's view only; the lab judges the whole console itself. The pattern takes
/// top-level results whose line ends after the name: nested subtests (indented) and
/// "# SKIP" lines are left out, so a SKIP never shows as a LAVA pass. A line reaches LAVA
/// ending in "\r\r\n" (the guest's tty, then QEMU's), hence "\r*$".
YAML::Node test_action(const LavaJobRequest &r) {
    YAML::Node monitor;
    monitor["name"] = "ptlab";
    monitor["start"] = ktap::version_line;
    monitor["end"] = std::string(guest_end_marker) + " rc=";
    monitor["pattern"] = "(?m)^(?P<result>ok|not ok) \\d+ (?P<test_case_id>[\\w.+-]+)\\r*$";
    monitor["fixupdict"]["ok"] = "pass";
    monitor["fixupdict"]["not ok"] = "fail";
    YAML::Node test;
    test["timeout"] = seconds(r.timeout_seconds);
    test["monitors"].push_back(monitor);
    return action("test", test);
}

} // namespace

std::string lava_job_yaml(const LavaJobRequest &r) {
    YAML::Node job;
    job["job_name"] = r.name;
    job["device_type"] = r.device_type;
    job["visibility"] = "public";
    job["priority"] = "medium";
    job["timeouts"]["job"] = seconds(r.timeout_seconds + 15 * 60);
    job["timeouts"]["action"] = seconds(r.timeout_seconds);
    job["timeouts"]["connection"] = minutes(2);
    job["context"] = job_context(r);
    job["actions"].push_back(deploy_action(r));
    job["actions"].push_back(boot_action(r));
    job["actions"].push_back(test_action(r));
    YAML::Emitter out;
    out << job;
    return std::string(out.c_str()) + "\n";
}

} // namespace ptlab
