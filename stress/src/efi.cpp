// efi: threads calling EFI runtime services through the kernel, which runs them on efi_mm:
// GetTime through /dev/rtc0 (rtc-efi), and Get/SetVariable through efivarfs on the tool's own
// variables only (its own vendor GUID, a few per thread, a few dozen bytes each: the firmware's
// variable store is small). Every read is checked against what was written last; everything
// is deleted at the end, and variables a killed earlier run left behind are deleted first.
//
// efivarfs: a variable is the file <Name>-<GUID>; its contents are the 32-bit little-endian
// attributes followed by the data. Writing the file calls SetVariable (replacing the data),
// reading it GetVariable, unlinking it deletes the variable. Files may carry FS_IMMUTABLE_FL,
// which is cleared before a rewrite or an unlink.

#include "procfs.hpp"
#include "rng.hpp"
#include "workload.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/rtc.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace ptlab {

const char *const kEfiGuid = "f5eb29d7-8f7a-4bf6-a6f9-a1f3bac0c66a";

namespace {

const std::string kEfivars = "/sys/firmware/efi/efivars";
const std::string kGuid = kEfiGuid;
constexpr std::uint32_t kEfivarfsMagic = 0xde5e81e4;
// EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS
constexpr std::uint32_t kAttributes = 7;
constexpr unsigned kVarsPerThread = 2;
constexpr std::size_t kMaxData = 32;

enum class VarState { Absent, Present, Unknown };

struct Var {
    std::string path;
    VarState state = VarState::Absent;
    std::vector<std::uint8_t> data;
};

class EfiWorkload final : public Workload {
public:
    [[nodiscard]] std::string name() const override { return "efi"; }
    TestNode run(const WorkloadContext &ctx) override;
    [[nodiscard]] std::string progress() const override {
        return "rtc_reads=" + std::to_string(rtc_reads_.load()) +
               " var_ops=" + std::to_string(var_ops_.load());
    }

private:
    /// Which of /dev/rtc0 and efivarfs are there; why not, for those missing.
    std::string find_interfaces();
    /// Variables with our GUID an earlier run left (killed before its cleanup), deleted.
    std::size_t delete_leftovers();
    double run_workers(const WorkloadContext &ctx);
    void report_operations(TestNode &node, const WorkloadContext &ctx, double elapsed);
    void report_variables(TestNode &node, const std::string &why_not, std::size_t leftovers);
    void report_metrics(TestNode &node, const WorkloadContext &ctx, double elapsed);
    void worker(unsigned t, const WorkloadContext &ctx);
    bool one_op(Rng &rng, const Fd &rtc, std::vector<Var> &vars, std::int64_t &last_time);
    void rtc_read(int fd, std::int64_t &last);
    bool write_var(Var &v, const std::vector<std::uint8_t> &data, bool create);
    void read_var(Var &v, const char *after);
    void delete_var(Var &v);
    bool clear_immutable(const std::string &path);
    // Efivarfs errors: the expected ones counted, ENOSPC (store full) counted apart.
    void count_error(const std::string &what, int err);
    std::vector<std::string> own_files() const;

    bool have_rtc_ = false;
    bool have_efivarfs_ = false;
    std::atomic<std::uint64_t> rtc_reads_{0};
    std::atomic<std::uint64_t> var_ops_{0};
    std::atomic<std::uint64_t> creates_{0};
    std::atomic<std::uint64_t> reads_{0};
    std::atomic<std::uint64_t> rewrites_{0};
    std::atomic<std::uint64_t> deletes_{0};
    std::atomic<std::uint64_t> immutable_cleared_{0};
    std::atomic<std::uint64_t> enospc_{0};
    std::atomic<std::uint64_t> einval_injected_{0};
    bool fault_injection_ = false;
    ErrorCounters expected_;
    Failures failures_{8};
    Failures rtc_failures_{4};
    Failures content_{8};
};

std::string rtc_string(const rtc_time &tm) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

void EfiWorkload::count_error(const std::string &what, int err) {
    if (err == ENOSPC) {
        ++enospc_;
        return;
    }
    // Linux 6.1: efivarfs_file_write() -> efivar_entry_set_get_size() returns -EINVAL when
    // the kmalloc() in efivar_validate() fails. With fault injection on, that is an ENOMEM.
    if (err == EINVAL && fault_injection_ && what.starts_with("write")) {
        ++einval_injected_;
        return;
    }
    if (!expected_.count(err)) {
        failures_.add(what + ": " + errno_text(err));
    }
}

void EfiWorkload::rtc_read(int fd, std::int64_t &last) {
    rtc_time tm{};
    if (::ioctl(fd, RTC_RD_TIME, &tm) != 0) {
        const int err = errno;
        if (!expected_.count(err)) {
            rtc_failures_.add("ioctl(/dev/rtc0, RTC_RD_TIME): " + errno_text(err));
        }
        return;
    }
    ++rtc_reads_;
    const bool sane = tm.tm_year + 1900 >= 2000 && tm.tm_year + 1900 < 2200 && tm.tm_mon >= 0 &&
                      tm.tm_mon < 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 && tm.tm_hour >= 0 &&
                      tm.tm_hour < 24 && tm.tm_min >= 0 && tm.tm_min < 60 && tm.tm_sec >= 0 &&
                      tm.tm_sec <= 60;
    if (!sane) {
        rtc_failures_.add("RTC_RD_TIME returned an invalid time: " + rtc_string(tm));
        return;
    }
    std::tm t{};
    t.tm_year = tm.tm_year;
    t.tm_mon = tm.tm_mon;
    t.tm_mday = tm.tm_mday;
    t.tm_hour = tm.tm_hour;
    t.tm_min = tm.tm_min;
    t.tm_sec = tm.tm_sec;
    const std::int64_t now = ::timegm(&t);
    if (last != 0 && now + 1 < last) {
        rtc_failures_.add("the RTC went backwards by " + std::to_string(last - now) +
                          " s: " + rtc_string(tm));
    }
    last = std::max(last, now);
}

bool EfiWorkload::clear_immutable(const std::string &path) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return errno == ENOENT;
    }
    int flags = 0;
    if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0) {
        count_error("FS_IOC_GETFLAGS " + path, errno);
        return false;
    }
    if ((flags & FS_IMMUTABLE_FL) == 0) {
        return true;
    }
    flags &= ~FS_IMMUTABLE_FL;
    if (::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags) != 0) {
        count_error("FS_IOC_SETFLAGS (clear immutable) " + path, errno);
        return false;
    }
    ++immutable_cleared_;
    return true;
}

bool EfiWorkload::write_var(Var &v, const std::vector<std::uint8_t> &data, bool create) {
    std::vector<std::uint8_t> buf(4 + data.size());
    for (int i = 0; i < 4; ++i) {
        buf[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(kAttributes >> (8 * i));
    }
    std::copy(data.begin(), data.end(), buf.begin() + 4);
    if (!create && !clear_immutable(v.path)) {
        return false;
    }
    const Fd fd(::open(v.path.c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0644));
    if (!fd.valid()) {
        count_error(std::string(create ? "create " : "open for rewrite ") + v.path, errno);
        if (create) {
            v.state = VarState::Unknown;
        }
        return false;
    }
    const ssize_t n = ::write(fd.get(), buf.data(), buf.size());
    if (n != static_cast<ssize_t>(buf.size())) {
        const int err = n < 0 ? errno : EIO;
        count_error(std::string(create ? "write (create) " : "write (rewrite) ") + v.path, err);
        v.state = VarState::Unknown; // SetVariable may or may not have happened
        return false;
    }
    v.state = VarState::Present;
    v.data = data;
    return true;
}

void EfiWorkload::read_var(Var &v, const char *after) {
    const Fd fd(::open(v.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        const int err = errno;
        if (v.state == VarState::Unknown && err == ENOENT) {
            v.state = VarState::Absent;
            return;
        }
        if (err == ENOENT) {
            content_.add("after " + std::string(after) + ": " + v.path + " is gone (expected " +
                         std::to_string(v.data.size()) + " bytes of data)");
            v.state = VarState::Absent;
            return;
        }
        count_error("open " + v.path, err);
        return;
    }
    std::uint8_t buf[4 + kMaxData + 64];
    std::size_t got = 0;
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf + got, sizeof buf - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            count_error("read " + v.path, errno);
            return;
        }
        if (n == 0 || got + static_cast<std::size_t>(n) == sizeof buf) {
            got += static_cast<std::size_t>(n);
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    ++reads_;
    if (v.state == VarState::Unknown) {
        // An interrupted write left it in some state: adopt it.
        if (got >= 4) {
            v.state = VarState::Present;
            v.data.assign(buf + 4, buf + got);
        }
        return;
    }
    std::vector<std::uint8_t> want(4 + v.data.size());
    for (int i = 0; i < 4; ++i) {
        want[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(kAttributes >> (8 * i));
    }
    std::copy(v.data.begin(), v.data.end(), want.begin() + 4);
    const std::size_t common = std::min(got, want.size());
    const auto diff = std::mismatch(buf, buf + common, want.begin());
    if (got != want.size() || diff.first != buf + common) {
        const auto off = static_cast<std::size_t>(diff.first - buf);
        std::string msg = "after " + std::string(after) + ": " + v.path + " read " +
                          std::to_string(got) + " bytes, expected " + std::to_string(want.size());
        if (off < common) {
            msg += "; first difference at byte " + std::to_string(off) + ": expected " +
                   hex(want[off]) + ", found " + hex(buf[off]);
        }
        content_.add(msg);
        v.state = VarState::Unknown;
        return;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && static_cast<std::size_t>(st.st_size) != want.size()) {
        content_.add(v.path + ": file size " + std::to_string(st.st_size) + ", expected " +
                     std::to_string(want.size()));
    }
}

void EfiWorkload::delete_var(Var &v) {
    if (!clear_immutable(v.path)) {
        return;
    }
    if (::unlink(v.path.c_str()) != 0) {
        const int err = errno;
        if (err == ENOENT && v.state != VarState::Present) {
            v.state = VarState::Absent;
            return;
        }
        count_error("unlink " + v.path, err);
        return;
    }
    ++deletes_;
    v.state = VarState::Absent;
    struct stat st {};
    if (::stat(v.path.c_str(), &st) == 0) {
        content_.add(v.path + " still exists after unlink");
    }
}

std::vector<std::string> EfiWorkload::own_files() const {
    std::vector<std::string> out;
    DIR *d = ::opendir(kEfivars.c_str());
    if (d == nullptr) {
        return out;
    }
    std::string suffix = "-";
    suffix += kGuid;
    while (const dirent *e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.size() > suffix.size() && n.ends_with(suffix)) {
            std::string path = kEfivars;
            path += '/';
            path += n;
            out.push_back(std::move(path));
        }
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::uint8_t> random_data(Rng &rng) {
    std::vector<std::uint8_t> d(rng.between(1, kMaxData));
    for (auto &b : d) {
        b = static_cast<std::uint8_t>(rng.next());
    }
    return d;
}

void EfiWorkload::worker(unsigned t, const WorkloadContext &ctx) {
    Rng rng(derive_seed(ctx.seed, "efi", t));
    std::vector<Var> vars(kVarsPerThread);
    for (unsigned k = 0; k < kVarsPerThread; ++k) {
        vars[k].path = kEfivars;
        vars[k].path += "/PtlabStressT" + std::to_string(t) + "V" + std::to_string(k) + "-";
        vars[k].path += kGuid;
    }
    Fd rtc;
    if (have_rtc_) {
        rtc.reset(retry_expected([] { return ::open("/dev/rtc0", O_RDONLY | O_CLOEXEC); }));
    }
    std::int64_t last_time = 0;
    std::uint64_t done = 0;
    while (!ctx.should_stop(done)) {
        ++done;
        try {
            if (!one_op(rng, rtc, vars, last_time)) {
                break;
            }
        } catch (const std::bad_alloc &) {
            expected_.count(ENOMEM);
        }
    }
    for (auto &v : vars) {
        if (v.state != VarState::Absent) {
            delete_var(v);
        }
    }
}

// One operation of a worker; false when there is nothing left to do.
bool EfiWorkload::one_op(Rng &rng, const Fd &rtc, std::vector<Var> &vars, std::int64_t &last_time) {
    if (rtc.valid() && (!have_efivarfs_ || rng.chance(1, 3))) {
        rtc_read(rtc.get(), last_time);
        return true;
    }
    if (!have_efivarfs_) {
        return false;
    }
    ++var_ops_;
    Var &v = vars[rng.below(kVarsPerThread)];
    switch (v.state) {
    case VarState::Absent:
        if (write_var(v, random_data(rng), true)) {
            ++creates_;
            read_var(v, "create");
        }
        break;
    case VarState::Unknown:
        read_var(v, "an interrupted write");
        if (v.state == VarState::Unknown) {
            delete_var(v);
        }
        break;
    case VarState::Present: {
        const std::uint64_t x = rng.below(100);
        if (x < 40) {
            read_var(v, "read");
        } else if (x < 75) {
            if (write_var(v, random_data(rng), false)) {
                ++rewrites_;
                read_var(v, "rewrite");
            }
        } else {
            delete_var(v);
        }
        break;
    }
    }
    return true;
}

std::string EfiWorkload::find_interfaces() {
    std::string why_not;
    {
        const Fd fd(retry_expected([] { return ::open("/dev/rtc0", O_RDONLY | O_CLOEXEC); }));
        have_rtc_ = fd.valid();
        if (!have_rtc_) {
            why_not = "no /dev/rtc0: " + errno_text(errno);
        }
    }
    struct statfs sfs {};
    if (retry_expected([&sfs] { return ::statfs(kEfivars.c_str(), &sfs); }) == 0 &&
        static_cast<std::uint32_t>(sfs.f_type) == kEfivarfsMagic) {
        have_efivarfs_ = true;
    } else {
        why_not += std::string(why_not.empty() ? "" : ", ") + "no efivarfs mounted at " + kEfivars;
    }
    return why_not;
}

std::size_t EfiWorkload::delete_leftovers() {
    std::size_t leftovers = 0;
    if (have_efivarfs_) {
        for (const auto &f : own_files()) {
            Var v{f, VarState::Unknown, {}};
            delete_var(v);
            ++leftovers;
        }
    }
    deletes_ = 0;
    return leftovers;
}

double EfiWorkload::run_workers(const WorkloadContext &ctx) {
    const auto t0 = Clock::now();
    std::vector<std::thread> workers;
    JoinGuard join_workers(workers);
    for (unsigned t = 0; t < ctx.threads; ++t) {
        spawn_thread(
            workers,
            [this, t, &ctx] {
                guarded(expected_, failures_, "efi worker", [&] { worker(t, ctx); });
            },
            &expected_);
    }
    join_workers.join();
    return seconds_since(t0);
}

void EfiWorkload::report_operations(TestNode &node, const WorkloadContext &ctx, double elapsed) {
    const std::uint64_t ops = rtc_reads_ + var_ops_;
    const double rate = elapsed > 0 ? static_cast<double>(ops) / elapsed : 0.0;
    TestNode &opsn = node.check("operations", ops > 0 && failures_.count() == 0);
    opsn.diag("ops=" + std::to_string(ops) + " in " + fmt_double(elapsed, 1) + " s: ops/s=" +
              fmt_double(rate, 1) + " (" + std::to_string(ctx.threads) + " threads)");
    opsn.diag("expected failures (counted, not errors): " + expected_.summary() +
              " ENOSPC(variable store full)=" + std::to_string(enospc_.load()));
    if (einval_injected_ != 0) {
        opsn.diag("efivarfs writes that failed with EINVAL under fault injection: " +
                  std::to_string(einval_injected_.load()) +
                  " (Linux 6.1 efivar_validate() turns its failed kmalloc() into EINVAL)");
    }
    for (const auto &m : failures_.messages()) {
        opsn.diag(m);
    }
}

void EfiWorkload::report_variables(TestNode &node, const std::string &why_not,
                                   std::size_t leftovers) {
    if (!have_efivarfs_) {
        node.skip("efivarfs_variables", why_not);
        node.skip("efivarfs_cleanup", why_not);
        return;
    }
    TestNode &v = node.check("efivarfs_variables", creates_ > 0 && content_.count() == 0,
                             "GUID " + kGuid + ": creates=" + std::to_string(creates_) + " reads=" +
                                 std::to_string(reads_) + " rewrites=" + std::to_string(rewrites_) +
                                 " deletes=" + std::to_string(deletes_) +
                                 " content mismatches=" + std::to_string(content_.count()) +
                                 " immutable cleared=" + std::to_string(immutable_cleared_));
    for (const auto &m : content_.messages()) {
        v.diag(m);
    }
    const auto left = own_files();
    std::string names;
    for (const auto &f : left) {
        names += " " + f;
    }
    TestNode &c = node.check("efivarfs_cleanup", left.empty(),
                             left.empty() ? "no variable with our GUID is left"
                                          : std::to_string(left.size()) + " left:" + names);
    if (leftovers != 0) {
        c.diag("deleted " + std::to_string(leftovers) + " variables left by an earlier run");
    }
}

void EfiWorkload::report_metrics(TestNode &node, const WorkloadContext &ctx, double elapsed) {
    const std::uint64_t ops = rtc_reads_ + var_ops_;
    node.metrics = {{"ops", ops},
                    {"ops_per_s", elapsed > 0 ? static_cast<double>(ops) / elapsed : 0.0},
                    {"elapsed_s", elapsed},
                    {"threads", ctx.threads},
                    {"rtc_reads", rtc_reads_.load()},
                    {"var_creates", creates_.load()},
                    {"var_reads", reads_.load()},
                    {"var_rewrites", rewrites_.load()},
                    {"var_deletes", deletes_.load()},
                    {"errors", expected_.to_json()},
                    {"enospc", enospc_.load()},
                    {"einval_under_fault_injection", einval_injected_.load()},
                    {"unexpected_errors", failures_.count()}};
}

/// Phases: find the RTC and efivarfs, clear an earlier run's variables, run the workers,
/// report operations, RTC reads, variables and their cleanup.
TestNode EfiWorkload::run(const WorkloadContext &ctx) {
    TestNode node("efi");
    fault_injection_ = fault_injection_active();
    const std::string why_not = find_interfaces();
    if (!have_rtc_ && !have_efivarfs_) {
        node.result = Result::Skip;
        node.skip_reason = why_not;
        return node;
    }
    std::string rtc_name;
    if (have_rtc_) {
        rtc_name = trim(read_file_patiently("/sys/class/rtc/rtc0/name").value_or("?"));
    }
    const std::size_t leftovers = delete_leftovers();
    const double elapsed = run_workers(ctx);
    report_operations(node, ctx, elapsed);
    if (!have_rtc_) {
        node.skip("rtc_efi_reads", why_not);
    } else {
        TestNode &r = node.check("rtc_efi_reads", rtc_reads_ > 0 && rtc_failures_.count() == 0,
                                 "rtc0 is " + rtc_name + ": " + std::to_string(rtc_reads_.load()) +
                                     " RTC_RD_TIME reads, invalid or backwards=" +
                                     std::to_string(rtc_failures_.count()));
        for (const auto &m : rtc_failures_.messages()) {
            r.diag(m);
        }
    }
    report_variables(node, why_not, leftovers);
    report_metrics(node, ctx, elapsed);
    node.settle();
    return node;
}

} // namespace

std::unique_ptr<Workload> make_efi_workload() { return std::make_unique<EfiWorkload>(); }

} // namespace ptlab
