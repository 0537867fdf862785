#include "common.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

namespace ptlab {

std::string errno_name(int err) {
    switch (err) {
    case EPERM:
        return "EPERM";
    case ENOENT:
        return "ENOENT";
    case EINTR:
        return "EINTR";
    case EIO:
        return "EIO";
    case E2BIG:
        return "E2BIG";
    case EBADF:
        return "EBADF";
    case EAGAIN:
        return "EAGAIN";
    case ENOMEM:
        return "ENOMEM";
    case EACCES:
        return "EACCES";
    case EFAULT:
        return "EFAULT";
    case EBUSY:
        return "EBUSY";
    case EEXIST:
        return "EEXIST";
    case ENODEV:
        return "ENODEV";
    case EINVAL:
        return "EINVAL";
    case ENOSPC:
        return "ENOSPC";
    case ENOSYS:
        return "ENOSYS";
    case ENXIO:
        return "ENXIO";
    case ENOTTY:
        return "ENOTTY";
    case EOPNOTSUPP:
        return "EOPNOTSUPP";
    case ERANGE:
        return "ERANGE";
    default:
        return "errno " + std::to_string(err);
    }
}

std::string errno_text(int err) { return errno_name(err) + " (" + std::strerror(err) + ")"; }

SysError::SysError(const std::string &what_failed, int err)
    : std::runtime_error(what_failed + " failed: " + errno_text(err)), err_(err) {}

bool is_expected_errno(int err) { return err == ENOMEM || err == EFAULT || err == EAGAIN; }

bool ErrorCounters::count(int err) {
    switch (err) {
    case ENOMEM:
        ++enomem;
        return true;
    case EFAULT:
        ++efault;
        return true;
    case EAGAIN:
        ++eagain;
        return true;
    default:
        return false;
    }
}

nlohmann::json ErrorCounters::to_json() const {
    return {{"ENOMEM", enomem.load()}, {"EFAULT", efault.load()}, {"EAGAIN", eagain.load()}};
}

std::string ErrorCounters::summary() const {
    return "ENOMEM=" + std::to_string(enomem) + " EFAULT=" + std::to_string(efault) +
           " EAGAIN=" + std::to_string(eagain);
}

void Failures::add(std::string msg) {
    ++count_;
    const std::lock_guard lock(mu_);
    if (msgs_.size() < keep_) {
        msgs_.push_back(std::move(msg));
    }
}

std::vector<std::string> Failures::messages() const {
    const std::lock_guard lock(mu_);
    return msgs_;
}

Fd &Fd::operator=(Fd &&o) noexcept {
    if (this != &o) {
        reset(std::exchange(o.fd_, -1));
    }
    return *this;
}

void Fd::reset(int fd) {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

Mapping &Mapping::operator=(Mapping &&o) noexcept {
    if (this != &o) {
        reset();
        addr_ = std::exchange(o.addr_, nullptr);
        len_ = std::exchange(o.len_, 0);
    }
    return *this;
}

void Mapping::reset() {
    // Linux 6.1's munmap() allocates (maple tree nodes) and can fail with ENOMEM under fault
    // injection, even for a whole VMA. A kvm_run mapping left behind keeps its VM alive.
    for (int i = 0; addr_ != nullptr && i < 2000; ++i) {
        if (::munmap(addr_, len_) == 0 || !is_expected_errno(errno)) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    addr_ = nullptr;
    len_ = 0;
}

bool is_expected_mmap_errno(int err, int flags) {
    return is_expected_errno(err) || (err == ENOSPC && (flags & MAP_SHARED) != 0 &&
                                      (flags & MAP_ANONYMOUS) != 0 && fault_injection_active());
}

void *mmap_anonymous(std::size_t len, int prot, int flags) {
    for (int i = 0;; ++i) {
        void *p = ::mmap(nullptr, len, prot, flags | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED || !is_expected_mmap_errno(errno, flags | MAP_ANONYMOUS) || i >= 2000) {
            return p;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

namespace {

// [p, p + total) trimmed to len bytes from the first address aligned to align.
Mapping trim_to_aligned(void *p, std::size_t total, std::size_t len, std::size_t align) {
    const auto base = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t start = align_up(base, align);
    if (start > base) {
        ::munmap(p, start - base);
    }
    const std::uintptr_t end = start + len;
    if (base + total > end) {
        ::munmap(reinterpret_cast<void *>(end), base + total - end);
    }
    return {reinterpret_cast<void *>(start), len};
}

} // namespace

Mapping map_aligned(std::size_t len, std::size_t align, int prot, int flags) {
    align = std::max(align, page_size());
    const std::size_t total = len + align;
    void *p = mmap_anonymous(total, prot, flags);
    if (p == MAP_FAILED) {
        throw SysError("mmap(" + std::to_string(total) + " bytes)", errno);
    }
    return trim_to_aligned(p, total, len, align);
}

Mapping map_high(std::size_t len, std::size_t align, int prot, int flags) {
    align = std::max(align, page_size());
    const std::size_t total = len + align;
    void *p =
        ::mmap(reinterpret_cast<void *>(kHighHint), total, prot, flags | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        throw SysError("mmap(" + std::to_string(total) + " bytes, hint " + hex(kHighHint) + ")",
                       errno);
    }
    if (reinterpret_cast<std::uintptr_t>(p) < kVa48Limit) {
        ::munmap(p, total);
        return {};
    }
    return trim_to_aligned(p, total, len, align);
}

bool spawn_thread(std::vector<std::thread> &threads, const std::function<void()> &fn,
                  ErrorCounters *counters) {
    int err = 0;
    for (int i = 0; i < 1000; ++i) {
        try {
            threads.emplace_back(fn);
            return true;
        } catch (const std::system_error &e) {
            err = e.code().value();
        } catch (const std::bad_alloc &) {
            err = ENOMEM;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (counters != nullptr) {
        counters->count(err);
    }
    return false;
}

namespace {

// Set once this process opted itself into fault injection: from then on its own procfs files
// are no reliable witness (see fault_injection_active()).
std::atomic<bool> g_self_make_it_fail{false};

// Writes /proc/thread-self/make-it-fail. Under fault injection the lookup of the file fails
// now and then (6.1's proc_pident_instantiate() turns a failed inode allocation into ENOENT),
// and so may the open(): retried for up to ~2 s.
bool write_thread_make_it_fail(char value) {
    for (int i = 0; i < 2000; ++i) {
        const Fd fd(::open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC));
        if (fd.valid() && ::write(fd.get(), &value, 1) == 1) {
            return true;
        }
        const int err = errno;
        if (!g_self_make_it_fail.load() || (!is_expected_errno(err) && err != ENOENT)) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

} // namespace

bool set_make_it_fail() {
    if (!write_thread_make_it_fail('1')) {
        return false;
    }
    g_self_make_it_fail = true;
    return true;
}

FaultInjectionPause::FaultInjectionPause() {
    sigset_t all;
    sigfillset(&all);
    blocked_ = ::pthread_sigmask(SIG_BLOCK, &all, &old_mask_) == 0;
    if (g_self_make_it_fail.load()) {
        if (!write_thread_make_it_fail('0')) {
            throw SysError("pausing fault injection: write /proc/thread-self/make-it-fail", errno);
        }
        paused_ = true;
    }
}

FaultInjectionPause::~FaultInjectionPause() {
    // A thread that stayed out of fault injection would only make the run milder.
    if (paused_) {
        (void)write_thread_make_it_fail('1');
    }
    if (blocked_) {
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    }
}

bool is_injected_procfs_enoent(int err, std::string_view path) {
    return err == ENOENT && path.starts_with("/proc/") && fault_injection_active();
}

bool fault_injection_active() {
    // Under fault injection open() and read() fail with ENOMEM now and then: retry, or a run
    // would take itself for one without fault injection.
    auto read = [](const char *path) {
        char buf[32] = {};
        for (int i = 0; i < 2000; ++i) {
            const Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
            const int err = errno;
            if (!fd.valid() && !is_expected_errno(err)) {
                break;
            }
            if (fd.valid()) {
                const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
                if (n > 0) {
                    return std::string(buf, static_cast<std::size_t>(n));
                }
                if (n == 0 || !is_expected_errno(errno)) {
                    break;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return std::string();
    };
    if (g_self_make_it_fail.load() || read("/proc/self/make-it-fail").starts_with("1")) {
        return true;
    }
    for (const char *d : {"/sys/kernel/debug/failslab", "/sys/kernel/debug/fail_page_alloc"}) {
        const std::string p = read((std::string(d) + "/probability").c_str());
        if (!p.empty() && !p.starts_with("0") &&
            read((std::string(d) + "/task-filter").c_str()).starts_with("N")) {
            return true;
        }
    }
    return false;
}

std::atomic<bool> &stop_requested() {
    static std::atomic<bool> flag{false};
    return flag;
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string hex(std::uint64_t v) {
    std::ostringstream o;
    o << "0x" << std::hex << v;
    return o.str();
}

std::string fmt_double(double v, int decimals) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(decimals) << v;
    return o.str();
}

std::size_t page_size() {
    static const auto pg = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return pg;
}

} // namespace ptlab
