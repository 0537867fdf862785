#include "ptlab/boot.hpp"

#include "ptlab/kselftest.hpp"
#include "ptlab/lava_run.hpp"

#include "ptlab/expect.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/machine.hpp"
#include "ptlab/process.hpp"
#include "ptlab/run_guest.hpp"
#include "ptlab/tools.hpp"
#include "ptlab/tree.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <ostream>
#include <unistd.h>

namespace ptlab {

namespace {

/// gen_init_cpio's fixed mtime: the same inputs give the same archive.
constexpr const char *cpio_mtime = "1552348620";

void need_guest_userspace(const Layout &layout) {
    for (const auto &file : {layout.base_initramfs(), layout.gen_init_cpio()}) {
        if (!fs::exists(file)) {
            throw std::runtime_error(file.string() + " is not built: run 'make rootfs'");
        }
    }
}

RunGuestArgs guest_args(const Layout &layout, const Request &request, const BuiltKernel &kernel) {
    RunGuestArgs args;
    args.machine = request.machine.empty() ? layout.machine().string() : request.machine;
    args.geometry = layout.geometry_fragment(request.config).string();
    args.kernel = kernel.dir.image().string();
    args.initrd = kernel.dir.initramfs().string();
    args.append = plan_cmdline(request, kernel.step_name);
    args.smp = request.smp;
    args.memory_mib = request.memory_mib;
    args.share = request.share;
    args.share_read_only = request.share_read_only;
    return args;
}

std::string label_of(const Request &request, const std::string &step_name) {
    return join_words(request.plans, " ") + "@" + request.config + "-" + request.flavour + "/" +
           step_name;
}

/// What the plans need beyond the base initramfs: the step's selftests for a kselftest plan
/// (other runs keep their boot time).
std::string guest_extras(const Layout &layout, const Request &request, const BuiltKernel &kernel,
                         const Progress &progress) {
    std::string extras;
    if (!request.exec.empty()) {
        const fs::path script = kernel.dir.dir / "exec.sh";
        write_output(script.string(), [&](std::ostream &o) {
            o << "#!/bin/sh\n" << request.exec << '\n';
        });
        extras += "file /ptlab/exec.sh " + script.string() + " 0755 0 0\n";
    }
    if (wants_kselftests(request.plans)) {
        extras += kselftest_cpio_list(
            layout, build_kselftests(layout, kernel.sha, kernel.step_name, progress));
    }
    return extras;
}

/// What the guest gets: MEMORY, else the machine's for the page size.
int guest_memory_mib(const Layout &layout, const Request &request, const Geometry &geometry) {
    if (request.memory_mib > 0) {
        return request.memory_mib;
    }
    const Machine machine =
        load_machine(request.machine.empty() ? layout.machine() : fs::path(request.machine));
    const auto it = machine.memory_mib.find(geometry.page_size_name());
    return it == machine.memory_mib.end() ? 0 : it->second;
}

} // namespace

void build_guest_userspace(const Layout &layout) {
    for (const char *script : {"stress.sh", "rootfs.sh"}) {
        ProcessOptions quiet_stdout;
        quiet_stdout.stdout_file = "/dev/null";
        if (run_process({layout.script(script).string()}, quiet_stdout) != 0) {
            throw std::runtime_error("scripts/" + std::string(script) + " failed");
        }
    }
}

void write_promises(const Layout &layout, const Request &request, const KernelDir &dir) {
    const Tree tree(layout.src());
    const auto data = nlohmann::json::parse(read_text_file(layout.expectations()));
    const Expectations e =
        expect(data, geometry_of_fragment(layout.geometry_fragment(request.config)),
               tree.series_subjects(request.step));
    // The upstream selftests' known failures hold for facts of the geometry, a config or a
    // step: the same facts the promises come from.
    const Geometry geometry = geometry_of_fragment(layout.geometry_fragment(request.config));
    auto facts = geometry.facts();
    facts["memory_mib"] = std::to_string(guest_memory_mib(layout, request, geometry));
    facts["config"] = request.config;
    facts["step"] = tree.step_name(request.step);
    const auto table = nlohmann::json::parse(read_text_file(layout.kselftest_table()));
    const std::string json = nlohmann::json{{"values", e.values},
                                            {"patches", e.patches},
                                            {"known_failures", known_failures(table, facts)},
                                            {"known_splats", known_splats(table, facts)}}
                                 .dump(2) +
                             "\n";
    write_output(dir.expect_json().string(), [&](std::ostream &o) { o << json; });
    write_output(dir.module_rules().string(), [&](std::ostream &o) { o << to_module_rules(e); });
}

void write_initramfs(const Layout &layout, const KernelDir &dir, const std::string &extra) {
    need_tools(layout.tool_packages(), {"gzip"});
    const std::string pid = std::to_string(getpid());
    const fs::path list = dir.dir / ("initramfs-kernel.txt." + pid);
    {
        std::ofstream l(list, std::ios::trunc);
        l << "dir /ptlab 0755 0 0\nfile /ptlab/rules " << dir.module_rules().string()
          << " 0644 0 0\n";
        if (const fs::path ko = dir.module_ko(); !ko.empty()) {
            l << "dir /lib 0755 0 0\ndir /lib/modules 0755 0 0\nfile /lib/modules/"
              << ko.filename().string() << ' ' << ko.string() << " 0644 0 0\n";
        }
        l << extra;
    }
    const fs::path archive = dir.dir / ("initramfs-kernel.cpio." + pid);
    ProcessOptions to_archive;
    to_archive.stdout_file = archive;
    const int cpio =
        run_process({layout.gen_init_cpio().string(), "-t", cpio_mtime, list.string()}, to_archive);
    fs::remove(list);
    if (cpio != 0 || run_process({"gzip", "-n", "-f", archive.string()}) != 0) {
        fs::remove(archive);
        throw std::runtime_error("cannot make the per-kernel initramfs in " + dir.dir.string());
    }
    const fs::path gz = archive.string() + ".gz";
    write_output(dir.initramfs().string(), [&](std::ostream &o) {
        o << std::ifstream(layout.base_initramfs(), std::ios::binary).rdbuf()
          << std::ifstream(gz, std::ios::binary).rdbuf();
    });
    fs::remove(gz);
}

std::string plan_cmdline(const Request &request, const std::string &step_name) {
    std::string line = "ptlab.plans=" + join_words(request.plans, ",") +
                       " ptlab.config=" + request.config + " ptlab.step=" + step_name;
    if (!request.kselftests.empty()) {
        line += " ptlab.kselftests=" + join_words(request.kselftests, ",");
    }
    if (!request.share.empty()) {
        line +=
            std::string(" ptlab.share=") + share_tag + (request.share_read_only ? ":ro" : ":rw");
    }
    if (!request.extra_args.empty()) {
        line += " " + request.extra_args;
    }
    return line;
}

BuiltKernel prebuilt_kernel(const Layout &layout, const Request &request) {
    const Tree tree(layout.src());
    BuiltKernel kernel;
    kernel.sha = tree.resolve_step(request.step);
    kernel.step_name = tree.step_name(request.step);
    kernel.dir = layout.kernel(request.config, request.flavour, kernel.step_name);
    for (const auto &file : {kernel.dir.image(), kernel.dir.config()}) {
        if (!fs::exists(file)) {
            throw std::runtime_error("PREBUILT=1: " + file.string() + " is not built");
        }
    }
    return kernel;
}

RunGuestArgs prepare_boot(const Layout &layout, const Request &request, const BuiltKernel &kernel,
                          const Progress &progress) {
    need_guest_userspace(layout);
    write_promises(layout, request, kernel.dir);
    write_initramfs(layout, kernel.dir, guest_extras(layout, request, kernel, progress));
    RunGuestArgs args = guest_args(layout, request, kernel);
    args.run_dir =
        layout.run_dir(request.config, request.flavour, kernel.step_name, request.plans).string();
    args.timeout_seconds = request.timeout_seconds;
    args.allow = request.allow;
    args.live = request.verbose;
    args.label = label_of(request, kernel.step_name);
    args.promises = {kernel.dir.expect_json().string(), kernel.dir.config().string()};
    return args;
}

int boot_kernel(const Layout &layout, const Request &request, const BuiltKernel &kernel,
                std::ostream &out, const Progress &progress) {
    const RunGuestArgs args = prepare_boot(layout, request, kernel, progress);
    if (request.engine == engine_lava) {
        return lava_boot(layout, request, args, out, progress);
    }
    progress.say("boot " + request.config + "-" + request.flavour + " @ " + kernel.step_name +
                 ": plans " + plans_dirname(request.plans));
    return run_guest_cmd(args, out, progress.stream());
}

namespace {

/// PREBUILT=1 boots what is there; otherwise the kernel and the guest's user space are
/// brought up to date first.
BuiltKernel kernel_for(const Layout &layout, const Request &request, const Progress &progress) {
    if (request.prebuilt) {
        return prebuilt_kernel(layout, request);
    }
    const BuiltKernel kernel =
        build_kernel(layout, {request.config, request.flavour, request.step}, {}, progress);
    build_guest_userspace(layout);
    return kernel;
}

} // namespace

int build_and_boot(const Layout &layout, const Request &request, std::ostream &out,
                   const Progress &progress) {
    const BuiltKernel kernel = kernel_for(layout, request, progress);
    return boot_kernel(layout, request, kernel, out, progress);
}

int build_and_shell(const Layout &layout, const Request &request, std::ostream &out,
                    const Progress &progress) {
    if (request.engine == engine_lava) {
        throw std::runtime_error("make shell gives this terminal to a guest here: ENGINE=lava "
                                 "runs boots as jobs (make run ENGINE=lava EXEC=... instead)");
    }
    const BuiltKernel kernel = kernel_for(layout, request, progress);
    need_guest_userspace(layout);
    write_promises(layout, request, kernel.dir);
    write_initramfs(layout, kernel.dir, guest_extras(layout, request, kernel, progress));
    RunGuestArgs args = guest_args(layout, request, kernel);
    // panic=-1: a panicking guest reboots, which -no-reboot makes QEMU's exit.
    args.append += " ptlab.shell=1 panic=-1";
    args.shell = true;
    args.run_dir =
        layout.run_dir(request.config, request.flavour, kernel.step_name, {"shell"}).string();
    progress.say("shell: " + request.config + "-" + request.flavour + " @ " + kernel.step_name);
    return run_guest_cmd(args, out, progress.stream());
}

} // namespace ptlab
