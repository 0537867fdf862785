// Small shared pieces: errno classification and counters, failure collection, RAII file
// descriptors and mappings, the run-wide stop flag, time.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptlab {

// "EINVAL (Invalid argument)"
std::string errno_text(int err);
// Symbolic name of an errno value ("ENOMEM"), or its number.
std::string errno_name(int err);

// A failed system call: what was called, with which arguments, and errno.
class SysError : public std::runtime_error {
public:
    SysError(const std::string &what_failed, int err);
    [[nodiscard]] int err() const { return err_; }

private:
    int err_;
};

// Errors that fault injection (failslab, fail_page_alloc) and memory pressure produce: the
// operation failed, it is counted, and the run goes on. Never corruption, never a test failure.
bool is_expected_errno(int err);

// Per-workload counters of operations that failed with an expected errno.
struct ErrorCounters {
    std::atomic<std::uint64_t> enomem{0};
    std::atomic<std::uint64_t> efault{0};
    std::atomic<std::uint64_t> eagain{0};

    // Counts err when it is ENOMEM, EFAULT or EAGAIN (EWOULDBLOCK) and returns true; otherwise
    // returns false and counts nothing.
    bool count(int err);
    [[nodiscard]] std::uint64_t total() const { return enomem + efault + eagain; }
    [[nodiscard]] nlohmann::json to_json() const;
    [[nodiscard]] std::string summary() const; // "ENOMEM=0 EFAULT=0 EAGAIN=0"
};

// Failures seen by the threads of one workload: a count and the first few messages.
class Failures {
public:
    explicit Failures(std::size_t keep = 8) : keep_(keep) {}
    void add(std::string msg);
    [[nodiscard]] std::uint64_t count() const { return count_; }
    [[nodiscard]] std::vector<std::string> messages() const;

private:
    std::size_t keep_;
    std::atomic<std::uint64_t> count_{0};
    mutable std::mutex mu_;
    std::vector<std::string> msgs_;
};

// An owned file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd &operator=(Fd &&o) noexcept;
    ~Fd() { reset(); }
    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] bool valid() const { return fd_ >= 0; }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// An owned mmap()ed range.
class Mapping {
public:
    Mapping() = default;
    Mapping(void *addr, std::size_t len) : addr_(addr), len_(len) {}
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;
    Mapping(Mapping &&o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    Mapping &operator=(Mapping &&o) noexcept;
    ~Mapping() { reset(); }
    [[nodiscard]] void *get() const { return addr_; }
    [[nodiscard]] char *bytes() const { return static_cast<char *>(addr_); }
    [[nodiscard]] std::size_t size() const { return len_; }
    void reset();
    // Forget the range without unmapping it (it was moved or unmapped by other means).
    void release() {
        addr_ = nullptr;
        len_ = 0;
    }

private:
    void *addr_ = nullptr;
    std::size_t len_ = 0;
};

// mmap an anonymous range of len bytes whose start is aligned to align (a power of two); the
// slack around it is unmapped. prot/flags as for mmap (MAP_ANONYMOUS is added). Throws SysError.
Mapping map_aligned(std::size_t len, std::size_t align, int prot, int flags);

// Where map_high() asks for memory: an address that needs 52 bits. arm64 hands out user
// addresses above 2^48 only to a kernel with 52-bit VA on a CPU with FEAT_LVA, and only for
// an mmap() hint above 2^48; any other kernel takes the hint as a hint and maps lower.
constexpr std::uint64_t kHighHint = std::uint64_t{1} << 51;
constexpr std::uint64_t kVa48Limit = std::uint64_t{1} << 48;

// As map_aligned(), at kHighHint or above; an empty Mapping when the kernel will not map
// anything above 2^48. Throws SysError when mmap() fails.
Mapping map_high(std::size_t len, std::size_t align, int prot, int flags);

// Starts fn on a new thread appended to threads. Under fault injection clone() fails with
// EAGAIN or ENOMEM: it retries for up to a second, then counts the errno (when counters is
// given) and returns false.
bool spawn_thread(std::vector<std::thread> &threads, const std::function<void()> &fn,
                  ErrorCounters *counters);

// Runs fn; a std::bad_alloc (our own malloc failing under fault injection) counts as ENOMEM,
// any other exception is a failure. For the body of a thread, where an exception would
// otherwise end the process.
template <typename Fn> void guarded(ErrorCounters &ec, Failures &f, const char *what, Fn fn) {
    try {
        fn();
    } catch (const std::bad_alloc &) {
        ec.count(ENOMEM);
    } catch (const std::exception &e) {
        f.add(std::string(what) + ": " + e.what());
    }
}

// Calls fn() (a system call returning -1 and setting errno on failure) until it succeeds, fails
// with an unexpected errno, or has failed with expected ones (fault injection) for ~2 s.
template <typename Fn> auto retry_expected(Fn fn) -> decltype(fn()) {
    for (int i = 0;; ++i) {
        const auto r = fn();
        if (r != -1 || !is_expected_errno(errno) || i >= 2000) {
            return r;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// Whether mmap() with these flags failed the way an allocation failure makes it fail: ENOMEM,
// EFAULT, EAGAIN, and for MAP_SHARED | MAP_ANONYMOUS (a shmem file) ENOSPC while fault injection
// targets this process: Linux 6.1's __shmem_file_setup() reports a failed shmem_get_inode() (an
// inode allocation) as ENOSPC.
bool is_expected_mmap_errno(int err, int flags);

// mmap(MAP_ANONYMOUS), retried for up to ~2 s while it fails the way fault injection makes it
// fail. Returns MAP_FAILED with errno set otherwise.
void *mmap_anonymous(std::size_t len, int prot, int flags);

// Mark the calling thread for fault injection (task-filter): threads and children created
// afterwards inherit the flag. False when the kernel has no fault injection.
bool set_make_it_fail();

// Whether kernel fault injection (failslab, fail_page_alloc) targets this process: it called
// set_make_it_fail(), its /proc/self/make-it-fail says 1, or an injector has task-filter off
// and a non-zero probability. The files are read patiently: under fault injection their open()
// and read() fail too.
bool fault_injection_active();

// Whether err, from opening path, is how fault injection shows in procfs: Linux 6.1's
// proc_pident_instantiate() turns a failed inode allocation into ENOENT.
bool is_injected_procfs_enoent(int err, std::string_view path);

// Keeps fault injection and signals away from the calling thread for one kernel call whose
// error path is known to leak in Linux 6.1, so that a leak the run then finds is one it is
// looking for. With fault injection: make-it-fail 0 for this thread (1 again afterwards);
// always: every signal blocked. Throws SysError when make-it-fail cannot be written.
class FaultInjectionPause {
public:
    FaultInjectionPause();
    ~FaultInjectionPause();
    FaultInjectionPause(const FaultInjectionPause &) = delete;
    FaultInjectionPause &operator=(const FaultInjectionPause &) = delete;

private:
    sigset_t old_mask_{};
    bool blocked_ = false;
    bool paused_ = false;
};

// Joins every joinable thread of a vector when it goes out of scope, exceptions included.
class JoinGuard {
public:
    explicit JoinGuard(std::vector<std::thread> &threads) : threads_(threads) {}
    JoinGuard(const JoinGuard &) = delete;
    JoinGuard &operator=(const JoinGuard &) = delete;
    ~JoinGuard() { join(); }
    void join() {
        for (auto &t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
    }

private:
    std::vector<std::thread> &threads_;
};

// The run-wide stop request: set by SIGINT/SIGTERM, the deadline, or a fatal error.
std::atomic<bool> &stop_requested();

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0);

// Round up/down to a multiple of a power of two.
constexpr std::uint64_t align_up(std::uint64_t x, std::uint64_t a) {
    return (x + a - 1) & ~(a - 1);
}
constexpr std::uint64_t align_down(std::uint64_t x, std::uint64_t a) { return x & ~(a - 1); }

inline void atomic_max(std::atomic<std::uint64_t> &a, std::uint64_t v) {
    std::uint64_t cur = a.load();
    while (v > cur && !a.compare_exchange_weak(cur, v)) {
    }
}

std::string hex(std::uint64_t v); // "0x1f"
std::string fmt_double(double v, int decimals);

std::size_t page_size();

} // namespace ptlab
