// ptlab-stress hold --thp-mib N --small-mib M [--high-mib H]: map a PMD-aligned MADV_HUGEPAGE
// region of N MiB, a MADV_NOHUGEPAGE region of M MiB and, where the kernel hands out addresses
// above 2^48 (52-bit VA), a MADV_NOHUGEPAGE region of H MiB there; write every page, print
//   ready pid=<pid> thp=<start>-<end> small=<start>-<end> high=<start>-<end> anon_huge_kb=<kB>
// (addresses in hex without 0x, as in /proc/<pid>/maps; AnonHugePages of this process from
// /proc/self/smaps_rollup), then wait for SIGTERM, SIGINT or EOF on stdin and exit 0.

#include "procfs.hpp"
#include "workload.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <poll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace ptlab {

namespace {

void touch_pages(char *p, std::size_t len) {
    const std::size_t pg = page_size();
    for (std::size_t off = 0; off < len; off += pg) {
        std::memset(p + off, 0x5a, 8);
    }
}

std::string range(const Mapping &m) {
    char buf[64];
    const auto a = reinterpret_cast<std::uintptr_t>(m.get());
    std::snprintf(buf, sizeof buf, "%lx-%lx", static_cast<unsigned long>(a),
                  static_cast<unsigned long>(a + m.size()));
    return buf;
}

} // namespace

int run_hold(const Options &opts) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
        std::cerr << "ptlab-stress hold: sigprocmask: " << errno_text(errno) << '\n';
        return kExitFail;
    }
    const Fd sfd(::signalfd(-1, &mask, SFD_CLOEXEC));
    if (!sfd.valid()) {
        std::cerr << "ptlab-stress hold: signalfd: " << errno_text(errno) << '\n';
        return kExitFail;
    }
    std::uint64_t pmd = 0;
    try {
        pmd = std::stoull(trim(read_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")));
    } catch (const std::exception &) {
        pmd = 2ULL << 20;
    }
    Mapping thp;
    Mapping small;
    Mapping high;
    try {
        if (opts.thp_mib != 0) {
            thp = map_aligned(opts.thp_mib << 20, pmd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
            if (::madvise(thp.get(), thp.size(), MADV_HUGEPAGE) != 0) {
                throw SysError("madvise(MADV_HUGEPAGE)", errno);
            }
            touch_pages(thp.bytes(), thp.size());
        }
        if (opts.small_mib != 0) {
            small =
                map_aligned(opts.small_mib << 20, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE);
            if (::madvise(small.get(), small.size(), MADV_NOHUGEPAGE) != 0) {
                throw SysError("madvise(MADV_NOHUGEPAGE)", errno);
            }
            touch_pages(small.bytes(), small.size());
        }
        if (opts.high_mib != 0) {
            high = map_high(opts.high_mib << 20, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE);
            if (high.get() != nullptr) {
                if (::madvise(high.get(), high.size(), MADV_NOHUGEPAGE) != 0) {
                    throw SysError("madvise(MADV_NOHUGEPAGE) above 2^48", errno);
                }
                touch_pages(high.bytes(), high.size());
            }
        }
    } catch (const SysError &e) {
        std::cerr << "ptlab-stress hold: " << e.what() << '\n';
        return kExitFail;
    }
    std::uint64_t ahp = 0;
    if (const auto text = read_file_patiently("/proc/self/smaps_rollup")) {
        try {
            const auto entries = parse_smaps(*text);
            ahp = smaps_sum(entries, "AnonHugePages");
        } catch (const std::exception &) {
        }
    }
    std::cout << "ready pid=" << ::getpid() << " thp=" << range(thp) << " small=" << range(small)
              << " high=" << range(high) << " anon_huge_kb=" << ahp << std::endl;

    pollfd fds[2] = {{sfd.get(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    for (;;) {
        const int n = ::poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::cerr << "ptlab-stress hold: poll: " << errno_text(errno) << '\n';
            return kExitFail;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            break; // SIGTERM or SIGINT
        }
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) {
            char buf[256];
            const ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
            if (r <= 0 && !(r < 0 && errno == EINTR)) {
                break; // EOF (or stdin unusable)
            }
        }
    }
    return kExitPass;
}

} // namespace ptlab
