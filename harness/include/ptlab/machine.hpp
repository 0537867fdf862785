// The guest machine as data (configs/machine/*.json) and the QEMU command line built from it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct Machine {
    std::string binary;
    std::string binary_package;
    std::string machine;
    std::string cpu;
    std::string firmware;
    std::string firmware_package;
    std::string kernel_cmdline;
    int smp = 1;
    std::map<std::string, int> memory_mib; ///< by page size: "4K", "16K", "64K"
};

/// Throws std::runtime_error naming the file and the missing or mistyped key.
Machine load_machine(const std::filesystem::path &path);

/// One boot: what the lab puts in the machine.
struct GuestRequest {
    std::string kernel;
    std::string initrd;
    std::string append;           ///< words after the machine's kernel_cmdline
    int smp = 0;                  ///< 0: the machine's
    int memory_mib = 0;           ///< 0: the machine's for page_size
    std::string page_size = "4K"; ///< Geometry::page_size_name()
    bool interactive = false;     ///< the terminal is the console, with QEMU's monitor on Ctrl-A
    std::string console_log;      ///< interactive: the console is also written here
    std::string share;            ///< a host folder for the guest (9p), or empty: no device
    bool share_read_only = false;
};

/// The 9p mount tag of the shared folder: the guest mounts it by this name
/// (ptlab.share=<tag>:<rw|ro> on its command line).
inline constexpr const char *share_tag = "ptlab-share";

/// The guest's memory: the request's, else the machine's for its page size.
int guest_memory_mib(const Machine &machine, const GuestRequest &request);
/// The kernel command line: the machine's, then the request's words.
std::string guest_command_line(const Machine &machine, const GuestRequest &request);
/// The guest's CPUs: the request's, else the machine's.
int guest_smp(const Machine &machine, const GuestRequest &request);

/// The full argv. -nodefaults: no NIC (whose option ROM comes from a package the lab does not
/// need), no drive, no monitor; the console is the board's UART on stdio.
std::vector<std::string> qemu_argv(const Machine &machine, const GuestRequest &request);

/// Where a tool named in the machine comes from, for "install Debian package X".
std::string missing_file_problem(const Machine &machine);

} // namespace ptlab
