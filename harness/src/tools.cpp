#include "ptlab/tools.hpp"

#include "ptlab/process.hpp"

#include <map>
#include <stdexcept>

namespace ptlab {

std::string package_of_tool(const std::string &program) {
    static const std::map<std::string, std::string> packages = {
        {"aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"},
        {"aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu"},
        {"qemu-system-aarch64", "qemu-system-arm"},
        {"gnuplot", "gnuplot-nox"},
        {"flock", "util-linux"},
        {"unshare", "util-linux"},
        {"depmod", "kmod"},
        {"xz", "xz-utils"},
        {"gzip", "gzip"},
        {"make", "make"},
        {"git", "git"},
        {"ccache", "ccache"},
        {"flex", "flex"},
        {"bison", "bison"},
        {"bc", "bc"},
        {"rsync", "rsync"},
        {"perl", "perl"},
        {"gcc", "gcc"},
    };
    const auto it = packages.find(program);
    return it == packages.end() ? "" : it->second;
}

void need_tools(const std::vector<std::string> &programs) {
    for (const auto &program : programs) {
        if (find_in_path(program).empty()) {
            const std::string package = package_of_tool(program);
            throw std::runtime_error("'" + program + "' not found: install Debian package " +
                                     (package.empty() ? "(unknown)" : package) +
                                     " (or run 'make deps')");
        }
    }
}

} // namespace ptlab
