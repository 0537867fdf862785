// A stand-in for qemu-system-aarch64 in the orchestration tests: it checks the command line
// as the real one would on a machine without optional packages, then plays a part chosen by
// FAKE_QEMU_MODE, printing FAKE_QEMU_LOG (a captured console) as the guest's console.
//   replay     the log, then exit 0 (a guest that powered off)
//   hang       the log, then sleep until killed
//   die        half the log, then SIGKILL itself (QEMU killed mid-run)
//   bad-option QEMU's own error about -machine, exit 1, no console at all
//   kernel     the log the -kernel file names on a line "fake-console=<path>" (the fake
//              kernel tree's Image: each commit of it boots to its own console), then exit 0
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

int replay(const char *path, double fraction) {
    std::ifstream file(path == nullptr ? "" : path);
    if (!file) {
        std::cerr << "fake-qemu: no FAKE_QEMU_LOG\n";
        return 3;
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) {
        lines.push_back(line);
    }
    const auto n = static_cast<std::size_t>(static_cast<double>(lines.size()) * fraction);
    for (std::size_t i = 0; i < n; ++i) {
        std::cout << lines[i] << '\n';
    }
    std::cout.flush();
    return 0;
}

std::string console_of_kernel(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "-kernel") == 0) {
            std::ifstream image(argv[i + 1]);
            for (std::string line; std::getline(image, line);) {
                if (line.rfind("fake-console=", 0) == 0) {
                    return line.substr(13);
                }
            }
        }
    }
    return "";
}

bool has_arg(int argc, char **argv, const char *want) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], want) == 0) {
            return true;
        }
    }
    return false;
}

} // namespace

int main(int argc, char **argv) {
    // Without -nodefaults the virt board gets a virtio NIC whose ROM ipxe-qemu provides.
    if (!has_arg(argc, argv, "-nodefaults")) {
        std::cerr << "qemu-system-aarch64: failed to find romfile \"efi-virtio.rom\"\n";
        return 1;
    }
    const char *mode_env = std::getenv("FAKE_QEMU_MODE");
    const std::string mode = mode_env == nullptr ? "replay" : mode_env;
    const char *log = std::getenv("FAKE_QEMU_LOG");
    if (mode == "bad-option") {
        std::cerr << "qemu-system-aarch64: Property 'virt-machine.no-such-option' not found\n";
        return 1;
    }
    if (mode == "die") {
        replay(log, 0.5);
        std::raise(SIGKILL);
    }
    if (mode == "kernel") {
        const std::string console = console_of_kernel(argc, argv);
        return replay(console.c_str(), 1.0);
    }
    const int rc = replay(log, 1.0);
    if (mode == "hang") {
        for (;;) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
    return rc;
}
