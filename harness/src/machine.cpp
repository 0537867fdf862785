#include "ptlab/machine.hpp"

#include "ptlab/lines.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace ptlab {

namespace {

template <typename T>
T required(const nlohmann::json &j, const char *key, const std::filesystem::path &path) {
    if (!j.contains(key)) {
        throw std::runtime_error(path.string() + ": no \"" + key + "\"");
    }
    try {
        return j.at(key).get<T>();
    } catch (const nlohmann::json::exception &) {
        throw std::runtime_error(path.string() + ": \"" + key + "\" has the wrong type");
    }
}

bool on_path(const std::string &binary) {
    if (binary.find('/') != std::string::npos) {
        return std::filesystem::exists(binary);
    }
    const char *path = std::getenv("PATH");
    std::string_view rest = path == nullptr ? "" : path;
    while (!rest.empty()) {
        const std::size_t colon = rest.find(':');
        const std::filesystem::path dir(std::string(rest.substr(0, colon)));
        if (!dir.empty() && std::filesystem::exists(dir / binary)) {
            return true;
        }
        rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    }
    return false;
}

} // namespace

Machine load_machine(const std::filesystem::path &path) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_text_file(path));
    } catch (const nlohmann::json::parse_error &e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
    Machine m;
    m.binary = required<std::string>(j, "binary", path);
    m.binary_package = required<std::string>(j, "binary_package", path);
    m.machine = required<std::string>(j, "machine", path);
    m.cpu = required<std::string>(j, "cpu", path);
    m.firmware = required<std::string>(j, "firmware", path);
    m.firmware_package = required<std::string>(j, "firmware_package", path);
    m.kernel_cmdline = required<std::string>(j, "kernel_cmdline", path);
    m.smp = required<int>(j, "smp", path);
    m.memory_mib = required<std::map<std::string, int>>(j, "memory_mib", path);
    return m;
}

int guest_memory_mib(const Machine &machine, const GuestRequest &request) {
    if (request.memory_mib > 0) {
        return request.memory_mib;
    }
    const auto it = machine.memory_mib.find(request.page_size);
    if (it == machine.memory_mib.end()) {
        throw std::runtime_error("the machine has no memory_mib for " + request.page_size +
                                 " pages");
    }
    return it->second;
}

std::string guest_command_line(const Machine &machine, const GuestRequest &request) {
    return request.append.empty() ? machine.kernel_cmdline
                                  : machine.kernel_cmdline + " " + request.append;
}

int guest_smp(const Machine &machine, const GuestRequest &request) {
    return request.smp > 0 ? request.smp : machine.smp;
}

std::vector<std::string> qemu_argv(const Machine &machine, const GuestRequest &request) {
    std::vector<std::string> argv = {machine.binary,
                                     "-nodefaults",
                                     "-machine",
                                     machine.machine,
                                     "-cpu",
                                     machine.cpu,
                                     "-smp",
                                     std::to_string(guest_smp(machine, request)),
                                     "-m",
                                     std::to_string(guest_memory_mib(machine, request)),
                                     "-bios",
                                     machine.firmware,
                                     "-kernel",
                                     request.kernel,
                                     "-initrd",
                                     request.initrd,
                                     "-append",
                                     guest_command_line(machine, request),
                                     "-no-reboot",
                                     "-display",
                                     "none",
                                     "-serial",
                                     request.interactive ? "mon:stdio" : "stdio"};
    if (request.interactive && !request.console_log.empty()) {
        // The same terminal and monitor, and a copy of the console for the verdict.
        // The chardev must be defined before -serial names it.
        argv.resize(argv.size() - 2);
        argv.insert(argv.end(),
                    {"-chardev", "stdio,id=ptlab-console,mux=on,logfile=" + request.console_log,
                     "-serial", "chardev:ptlab-console", "-mon",
                     "chardev=ptlab-console,mode=readline"});
    }
    if (!request.share.empty()) {
        // QEMU's option syntax: a comma in a value is written twice.
        std::string path;
        for (const char c : request.share) {
            path += c == ',' ? std::string(",,") : std::string(1, c);
        }
        argv.insert(argv.end(),
                    {"-fsdev",
                     std::string("local,id=") + share_tag + ",security_model=none,path=" + path +
                         (request.share_read_only ? ",readonly=on" : ""),
                     "-device",
                     std::string("virtio-9p-pci,fsdev=") + share_tag + ",mount_tag=" + share_tag});
    }
    return argv;
}

std::string missing_file_problem(const Machine &machine) {
    if (!on_path(machine.binary)) {
        return "'" + machine.binary + "' not found: install Debian package " +
               machine.binary_package + " (or run 'make deps')";
    }
    if (!std::filesystem::exists(machine.firmware)) {
        return machine.firmware + " not found: install Debian package " + machine.firmware_package +
               " (or run 'make deps')";
    }
    return "";
}

} // namespace ptlab
