#include "ptlab/run_guest.hpp"

#include "ptlab/command.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/guest.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/machine.hpp"
#include "ptlab/process.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"
#include "ptlab/splat.hpp"
#include "ptlab/splat_groups.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <sys/file.h>
#include <unistd.h>

namespace ptlab {

namespace fs = std::filesystem;

RunDirLock::RunDirLock(const std::string &run_dir) {
    const fs::path dir = fs::path(run_dir).lexically_normal();
    fs::create_directories(dir.parent_path());
    path_ = dir.string() + ".lock";
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
    }
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        std::string holder(64, '\0');
        const ssize_t n = pread(fd_, holder.data(), holder.size() - 1, 0);
        holder.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        close(fd_);
        throw std::runtime_error("another run is using " + run_dir + " (pid " +
                                 std::string(trim(holder)) +
                                 "); wait for it to finish, or run another STEP or PLANS");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        close(fd_);
        throw std::runtime_error("cannot write " + path_);
    }
}

RunDirLock::~RunDirLock() { close(fd_); }

GuestRequest guest_request_of(const RunGuestArgs &args) {
    for (const auto *file : {&args.kernel, &args.initrd}) {
        if (!fs::is_regular_file(*file)) {
            throw std::runtime_error(*file + " not found");
        }
    }
    GuestRequest request;
    request.kernel = args.kernel;
    request.initrd = args.initrd;
    request.append = args.append;
    request.smp = args.smp;
    request.memory_mib = args.memory_mib;
    request.page_size = geometry_of_fragment(args.geometry).page_size_name();
    request.interactive = args.shell;
    if (args.shell && !args.run_dir.empty()) {
        request.console_log = run_files(args.run_dir).console_log;
    }
    request.share = args.share;
    request.share_read_only = args.share_read_only;
    return request;
}

namespace {

Machine machine_of(const RunGuestArgs &args) {
    Machine machine = load_machine(args.machine);
    if (!args.qemu_binary.empty()) {
        machine.binary = args.qemu_binary;
    }
    if (const std::string problem = missing_file_problem(machine); !problem.empty()) {
        throw std::runtime_error(problem);
    }
    return machine;
}

std::string wall_text(double s) { // "152.2s", as the guest-ran line always read
    std::ostringstream o;
    o << std::fixed << std::setprecision(1) << s << "s";
    return o.str();
}

} // namespace

int judge_console(const RunGuestArgs &args, const std::optional<GuestExit> &exit, bool timed_out,
                  std::ostream &out) {
    const RunFiles files = run_files(args.run_dir);
    RunOptions options;
    options.timed_out = timed_out;
    options.qemu = exit;
    options.allowed_kinds.insert(args.allow.begin(), args.allow.end());
    apply_promise_files(args.promises, options);
    const Verdict verdict = judge_run(read_lines(files.console_log), options);
    const std::string label = args.label.empty() ? "run" : args.label;
    return report_run(verdict, label, {files.result_json, files.result_xml}, files.result_ktap,
                      out);
}

int report_shell_console(const std::string &console_log, std::ostream &out) {
    const std::vector<std::string> raw =
        fs::exists(console_log) ? read_lines(console_log) : std::vector<std::string>{};
    const auto groups = group_splats(find_splats(untangle_console(raw).lines));
    if (groups.empty()) {
        out << "shell: no splat in the console (" << console_log << ")\n";
        return 0;
    }
    out << "shell: " << groups.size() << " kind(s) of splat in the console (" << console_log
        << "):\n";
    print_splat_groups(out, groups);
    return 1;
}

RunFiles run_files(const std::string &run_dir) {
    const fs::path d(run_dir);
    return {(d / "console.log").string(), (d / "qemu.stderr").string(),
            (d / "guest.json").string(),  (d / "result.json").string(),
            (d / "result.xml").string(),  (d / "result.ktap").string()};
}

int run_guest_cmd(const RunGuestArgs &args, std::ostream &out, std::ostream &err) {
    const Machine machine = machine_of(args);
    const std::vector<std::string> argv = qemu_argv(machine, guest_request_of(args));
    if (args.shell) {
        err << "shell: 'poweroff -f' in the guest leaves (or Ctrl-A X, QEMU's monitor)\n";
        if (!args.run_dir.empty()) {
            fs::remove_all(args.run_dir);
            fs::create_directories(args.run_dir);
        }
        ProcessOptions on_terminal;
        on_terminal.terminal = true;
        const int status = run_process(argv, on_terminal);
        if (status != 0) {
            // QEMU's own message is already on the terminal.
            out << "shell: " << argv[0] << " exited " << status << '\n';
            return 1;
        }
        return args.run_dir.empty()
                   ? 0
                   : report_shell_console(run_files(args.run_dir).console_log, out);
    }
    if (args.run_dir.empty()) {
        throw std::runtime_error("--run-dir is required unless --shell");
    }
    RunDirLock lock(args.run_dir);
    fs::remove_all(args.run_dir);
    fs::create_directories(args.run_dir);
    const RunFiles files = run_files(args.run_dir);
    GuestLimits limits;
    limits.timeout = std::chrono::seconds(args.timeout_seconds);
    const GuestExit exit =
        run_guest(argv, files.console_log, files.qemu_stderr, limits, args.live ? &out : nullptr);
    write_output(files.guest_json, [&](std::ostream &o) { o << guest_exit_to_json(exit); });
    err << "guest ran " << wall_text(exit.wall_seconds) << " (first KTAP line after "
        << (exit.first_ktap_seconds ? wall_text(*exit.first_ktap_seconds) : "-") << ")\n";
    const int rc = judge_console(args, exit, exit.timed_out, out);
    out.flush();
    err << "console log: " << files.console_log << '\n';
    return rc;
}

} // namespace ptlab
