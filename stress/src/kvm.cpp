// kvm: a minimal VMM on /dev/kvm, in the spirit of the kselftest KVM library: one small wrapper
// per ioctl, each error naming the ioctl, its arguments and errno.
//
// Each worker thread creates VMs one after the other, cycling through the IPA sizes the host
// allows (KVM_VM_TYPE_ARM_IPA_SIZE). A VM has three memslots (kvm_layout.hpp): code, a THP
// slot (PMD-aligned MADV_HUGEPAGE memory: stage-2 block mappings) and a small-page slot
// (MADV_NOHUGEPAGE: page mappings), and one vCPU running the generated program of a64.hpp: a
// stride of stores and loads across a slot, checked by the guest (words the host wrote) and by
// the host (words the guest wrote). Every pass ends with a store to an unmapped IPA: the host
// must see KVM_EXIT_MMIO at exactly that address, or the VM never entered the guest and fails.
// Between passes: dirty logging on (blocks are split) and off again, the small slot deleted
// and re-created elsewhere, the THP slot moved. Teardown closes every fd and unmaps kvm_run;
// SecPageTables must then come back to its baseline.

#include "a64.hpp"
#include "kvm_layout.hpp"
#include "procfs.hpp"
#include "rng.hpp"
#include "workload.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <map>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__aarch64__)
#include <linux/kvm.h>
#endif

namespace ptlab {

namespace {

using namespace kvmlayout;

#if defined(__aarch64__)

constexpr std::uint64_t kMaxStrides = 256;
constexpr double kRunTimeout = 60.0; // seconds one KVM_RUN may take before the watchdog fires

std::uint64_t meminfo_kb(const char *key) {
    const auto text = read_file_patiently("/proc/meminfo");
    if (!text) {
        return 0;
    }
    const auto m = parse_meminfo(*text);
    const auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
}

bool meminfo_has(const char *key) {
    const auto text = read_file_patiently("/proc/meminfo");
    return text && parse_meminfo(*text).count(key) != 0;
}

// ---------------------------------------------------------------- ioctl wrappers

// A failed KVM ioctl: "KVM_CREATE_VM(type=0x24) failed: EINVAL (Invalid argument)".
class KvmError : public SysError {
public:
    KvmError(const std::string &call, int err) : SysError(call, err) {}
};

int xioctl(int fd, unsigned long req, void *arg) {
    int r = 0;
    do {
        r = ::ioctl(fd, req, arg);
    } while (r < 0 && errno == EINTR && req != KVM_RUN);
    return r;
}

Fd kvm_open() {
    Fd fd(retry_expected([] { return ::open("/dev/kvm", O_RDWR | O_CLOEXEC); }));
    if (!fd.valid()) {
        throw KvmError("open(/dev/kvm)", errno);
    }
    return fd;
}

int kvm_get_api_version(int kvm) {
    const int r = ::ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (r < 0) {
        throw KvmError("KVM_GET_API_VERSION", errno);
    }
    return r;
}

int kvm_check_extension(int fd, long cap) {
    const int r = ::ioctl(fd, KVM_CHECK_EXTENSION, cap);
    if (r < 0) {
        throw KvmError("KVM_CHECK_EXTENSION(" + std::to_string(cap) + ")", errno);
    }
    return r;
}

// Linux 6.1's kvm_create_vm() leaks the new VM's stage-2 PGD (the struct kvm_pgtable from
// kvm_init_stage2_mmu() and its pages, counted in SecPageTables) when kvm_init_mmu_notifier()
// fails after kvm_arch_init_vm(): its error path calls kvm_arch_destroy_vm(), which on arm64
// does not free stage 2. mmu_notifier_register() fails with ENOMEM (the first registration of
// an mm allocates) or EINTR (mm_take_all_locks() with a signal pending, e.g. our SIGUSR1 kick).
// That is no page-table ctor of the series, so VM creation runs without fault injection and
// with signals blocked; everything after it (stage-2 faults, memslots, teardown) stays exposed.
Fd kvm_create_vm(int kvm, unsigned ipa_bits) {
    const unsigned long type = KVM_VM_TYPE_ARM_IPA_SIZE(ipa_bits);
    int r = 0;
    int err = 0;
    {
        const FaultInjectionPause pause;
        do {
            r = ::ioctl(kvm, KVM_CREATE_VM, type);
            err = errno;
        } while (r < 0 && err == EINTR);
    }
    if (r < 0) {
        throw KvmError(
            "KVM_CREATE_VM(type=KVM_VM_TYPE_ARM_IPA_SIZE(" + std::to_string(ipa_bits) + "))", err);
    }
    return Fd(r);
}

std::size_t kvm_get_vcpu_mmap_size(int kvm) {
    const int r = ::ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (r < 0) {
        throw KvmError("KVM_GET_VCPU_MMAP_SIZE", errno);
    }
    return static_cast<std::size_t>(r);
}

void kvm_set_user_memory_region(int vm, std::uint32_t slot, std::uint32_t flags, std::uint64_t gpa,
                                std::uint64_t size, void *hva) {
    kvm_userspace_memory_region region{};
    region.slot = slot;
    region.flags = flags;
    region.guest_phys_addr = gpa;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<std::uintptr_t>(hva);
    if (xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
        throw KvmError("KVM_SET_USER_MEMORY_REGION(slot=" + std::to_string(slot) +
                           ", flags=" + hex(flags) + ", gpa=" + hex(gpa) + ", size=" + hex(size) +
                           ", hva=" + hex(reinterpret_cast<std::uintptr_t>(hva)) + ")",
                       errno);
    }
}

Fd kvm_create_vcpu(int vm, unsigned id) {
    int r = 0;
    do {
        r = ::ioctl(vm, KVM_CREATE_VCPU, static_cast<unsigned long>(id));
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        throw KvmError("KVM_CREATE_VCPU(" + std::to_string(id) + ")", errno);
    }
    return Fd(r);
}

kvm_vcpu_init kvm_arm_preferred_target(int vm) {
    kvm_vcpu_init init{};
    if (xioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) != 0) {
        throw KvmError("KVM_ARM_PREFERRED_TARGET", errno);
    }
    return init;
}

void kvm_arm_vcpu_init(int vcpu, const kvm_vcpu_init &init) {
    kvm_vcpu_init copy = init;
    if (xioctl(vcpu, KVM_ARM_VCPU_INIT, &copy) != 0) {
        throw KvmError("KVM_ARM_VCPU_INIT(target=" + std::to_string(init.target) + ")", errno);
    }
}

constexpr std::uint64_t core_reg(std::size_t offset) {
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(std::uint32_t));
}
constexpr std::uint64_t kRegPc = core_reg(offsetof(kvm_regs, regs.pc));
constexpr std::uint64_t kRegPstate = core_reg(offsetof(kvm_regs, regs.pstate));
// EL1h with D, A, I and F masked: what KVM_ARM_VCPU_INIT sets, set again explicitly.
constexpr std::uint64_t kPstateEl1h = 0x3c5;

void kvm_set_one_reg(int vcpu, std::uint64_t id, std::uint64_t value, const char *name) {
    kvm_one_reg reg{id, reinterpret_cast<std::uintptr_t>(&value)};
    if (xioctl(vcpu, KVM_SET_ONE_REG, &reg) != 0) {
        throw KvmError("KVM_SET_ONE_REG(" + std::string(name) + "=" + hex(value) + ")", errno);
    }
}

std::uint64_t kvm_get_one_reg(int vcpu, std::uint64_t id, const char *name) {
    std::uint64_t value = 0;
    kvm_one_reg reg{id, reinterpret_cast<std::uintptr_t>(&value)};
    if (xioctl(vcpu, KVM_GET_ONE_REG, &reg) != 0) {
        throw KvmError("KVM_GET_ONE_REG(" + std::string(name) + ")", errno);
    }
    return value;
}

// KVM_RUN: 0, or -EINTR when a signal interrupted it; throws on other errors.
int kvm_run_vcpu(int vcpu) {
    if (::ioctl(vcpu, KVM_RUN, 0) != 0) {
        if (errno == EINTR) {
            return -EINTR;
        }
        throw KvmError("KVM_RUN", errno);
    }
    return 0;
}

void kvm_get_dirty_log(int vm, std::uint32_t slot, void *bitmap) {
    kvm_dirty_log log{};
    log.slot = slot;
    log.dirty_bitmap = bitmap;
    if (xioctl(vm, KVM_GET_DIRTY_LOG, &log) != 0) {
        throw KvmError("KVM_GET_DIRTY_LOG(slot=" + std::to_string(slot) + ")", errno);
    }
}

std::string exit_reason_name(std::uint32_t r) {
    switch (r) {
    case KVM_EXIT_UNKNOWN:
        return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION:
        return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_MMIO:
        return "KVM_EXIT_MMIO";
    case KVM_EXIT_SHUTDOWN:
        return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY:
        return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR:
        return "KVM_EXIT_INTR";
    case KVM_EXIT_INTERNAL_ERROR:
        return "KVM_EXIT_INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT:
        return "KVM_EXIT_SYSTEM_EVENT";
    case KVM_EXIT_ARM_NISV:
        return "KVM_EXIT_ARM_NISV";
    default:
        return "exit reason " + std::to_string(r);
    }
}

// ---------------------------------------------------------------- VMs

struct Slot {
    std::uint32_t id = 0;
    std::uint64_t gpa = 0;
    std::uint64_t size = 0;
    std::uint32_t flags = 0;
    bool present = false;
    Mapping mem;
    const char *name = "";
};

struct VmConfig {
    std::uint64_t page = 0;
    std::uint64_t pmd = 0;
    std::uint64_t small_size = 0;
    std::uint64_t thp_size = 0;
    std::size_t run_size = 0;
    kvm_vcpu_init init{};
    bool init_known = false;
};

// What one worker saw; merged into the workload's totals.
struct Tally {
    std::uint64_t vms = 0;
    std::uint64_t vms_ok = 0;
    std::uint64_t passes = 0;
    std::uint64_t entries = 0; // MMIO exits at the exit address
    std::uint64_t dirty_cycles = 0;
    std::uint64_t slot_deletes = 0;
    std::uint64_t slot_moves = 0;
    std::uint64_t thp_backed = 0; // VMs whose THP slot was backed by huge pages (sampled)
    std::uint64_t thp_sampled = 0;
    std::map<unsigned, std::uint64_t> ok_by_ipa;
    std::map<unsigned, std::uint64_t> failed_by_ipa;
};

class KvmWorkload;

class Vm {
public:
    Vm(KvmWorkload &w, int kvm, const VmConfig &cfg, const Layout &layout, Rng &rng,
       unsigned worker)
        : w_(w), kvm_(kvm), cfg_(cfg), layout_(layout), rng_(rng), worker_(worker) {}
    // Runs the VM's whole life; throws KvmError/SysError on an ioctl or mmap failure.
    void run(Tally &tally);

private:
    void create();
    void add_slot(Slot &s, std::uint64_t gpa);
    void pass(Slot &s, const char *what);
    void run_to_exit(const char *what);
    void dirty_cycle(Tally &tally);
    std::string where(const char *what) const;

    KvmWorkload &w_;
    int kvm_;
    const VmConfig &cfg_;
    Layout layout_;
    Rng &rng_;
    unsigned worker_;
    Fd vm_;
    Fd vcpu_;
    Mapping run_;
    Slot code_;
    Slot small_;
    Slot thp_;
    std::uint64_t pass_no_ = 0;
    std::uint64_t last_tag_ = 0;
    Tally *tally_ = nullptr;
    bool failed_ = false;
};

#endif // __aarch64__

class KvmWorkload final : public Workload {
public:
    [[nodiscard]] std::string name() const override { return "kvm"; }
    TestNode run(const WorkloadContext &ctx) override;
    [[nodiscard]] std::string progress() const override {
        return "vms=" + std::to_string(vms_.load()) + " passes=" + std::to_string(passes_.load());
    }

    // Called from Vm.
    void fail(const std::string &msg) { failures_.add(msg); }
    bool expected(int err) { return expected_.count(err); }
    void enter_run(unsigned worker) {
        run_started_[worker].store(seconds_since(t0_), std::memory_order_relaxed);
    }
    bool leave_run(unsigned worker) {
        run_started_[worker].store(-1.0, std::memory_order_relaxed);
        return timed_out_[worker].exchange(false);
    }
    // KVM's debugfs directory of a VM is "<tid of the creating thread>-<vm fd>".
    void set_vm_fd(unsigned worker, int fd) {
        vm_fd_[worker].store(fd);
        vm_tid_[worker].store(static_cast<int>(::gettid()));
    }
    std::string hang_note(unsigned worker) {
        const std::lock_guard lock(note_mu_);
        return std::exchange(hang_notes_[worker], {});
    }
    void note_backing(bool huge) {
        ++thp_sampled_;
        if (huge) {
            ++thp_backed_;
        }
    }
    std::atomic<std::uint64_t> passes_{0};

private:
#if defined(__aarch64__)
    /// What the host's KVM offers: API, IPA sizes, vCPU mapping, page and PMD sizes.
    struct Probe {
        std::uint64_t page = 0;
        std::uint64_t pmd = 0;
        unsigned max_ipa = 0;
        std::size_t run_size = 0;
    };
    bool probe(int kvm, TestNode &setup, Probe &p);
    std::string size_slots(const WorkloadContext &ctx, const Probe &p);
    void describe_setup(TestNode &setup, const WorkloadContext &ctx, const Probe &p,
                        const std::string &sizes);
    /// The workers, the watchdog and (alone) the THP churn; the seconds the workers ran.
    double run_threads(const WorkloadContext &ctx);
    void report_operations(TestNode &node, const WorkloadContext &ctx, double elapsed);
    void report_ipa_sizes(TestNode &node);
    void report_thp_backing(TestNode &node);
    void report_metrics(TestNode &node, const WorkloadContext &ctx, double elapsed,
                        unsigned max_ipa, std::uint64_t sec_before, std::uint64_t sec_after);

    void worker(unsigned t, const WorkloadContext &ctx);
    void watchdog(const WorkloadContext &ctx);
    void thp_churn(const WorkloadContext &ctx);
#endif

    Clock::time_point t0_ = Clock::now();
    std::atomic<std::uint64_t> vms_{0};
    ErrorCounters expected_;
    Failures failures_{10};
    std::vector<unsigned> ipas_;
#if defined(__aarch64__)
    int kvm_fd_ = -1;
    std::vector<VmConfig> configs_; // per worker
    std::mutex tally_mu_;
    Tally tally_;
#endif
    std::vector<pthread_t> threads_;
    std::unique_ptr<std::atomic<double>[]> run_started_;
    std::unique_ptr<std::atomic<int>[]> vm_fd_;
    std::unique_ptr<std::atomic<int>[]> vm_tid_;
    std::mutex note_mu_;
    std::vector<std::string> hang_notes_;
    std::atomic<std::uint64_t> thp_sampled_{0};
    std::atomic<std::uint64_t> thp_backed_{0};
    std::unique_ptr<std::atomic<bool>[]> timed_out_;
    std::atomic<bool> workers_done_{false};
    std::atomic<std::uint64_t> sec_pt_max_kb_{0};
    std::atomic<std::uint64_t> churn_cycles_{0};
    Failures churn_failures_{4};
};

#if defined(__aarch64__)

std::string Vm::where(const char *what) const {
    return "VM " + std::to_string(layout_.ipa_bits) + "-bit IPA, " + what;
}

void Vm::add_slot(Slot &s, std::uint64_t gpa) {
    s.gpa = gpa;
    kvm_set_user_memory_region(vm_.get(), s.id, s.flags, s.gpa, s.size, s.mem.get());
    s.present = true;
}

void Vm::create() {
    vm_ = kvm_create_vm(kvm_, layout_.ipa_bits);
    w_.set_vm_fd(worker_, vm_.get());

    code_.id = 0;
    code_.name = "code";
    code_.size = layout_.code_size;
    code_.mem = map_aligned(code_.size, cfg_.page, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    const auto prog = a64::guest_stride_program(layout_.code_gpa + kParamOffset);
    std::memcpy(code_.mem.get(), prog.data(), prog.size() * sizeof(std::uint32_t));
    add_slot(code_, layout_.code_gpa);

    small_.id = 1;
    small_.name = "small-page";
    small_.size = layout_.small_size;
    small_.mem = map_aligned(small_.size, cfg_.page, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    if (::madvise(small_.mem.get(), small_.size, MADV_NOHUGEPAGE) != 0) {
        throw SysError("madvise(MADV_NOHUGEPAGE)", errno);
    }
    add_slot(small_, layout_.small_gpa);

    thp_.id = 2;
    thp_.name = "THP";
    thp_.size = layout_.thp_size;
    thp_.mem = map_aligned(thp_.size, cfg_.pmd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    if (::madvise(thp_.mem.get(), thp_.size, MADV_HUGEPAGE) != 0) {
        throw SysError("madvise(MADV_HUGEPAGE)", errno);
    }
    add_slot(thp_, layout_.thp_gpa);

    vcpu_ = kvm_create_vcpu(vm_.get(), 0);
    void *run = ::mmap(nullptr, cfg_.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_.get(), 0);
    if (run == MAP_FAILED) {
        throw SysError("mmap(vcpu fd, kvm_run)", errno);
    }
    run_ = Mapping(run, cfg_.run_size);
    const kvm_vcpu_init init = kvm_arm_preferred_target(vm_.get());
    kvm_arm_vcpu_init(vcpu_.get(), init);
    kvm_set_one_reg(vcpu_.get(), kRegPc, layout_.code_gpa, "PC");
    kvm_set_one_reg(vcpu_.get(), kRegPstate, kPstateEl1h, "PSTATE");
}

void Vm::run_to_exit(const char *what) {
    auto *run = static_cast<struct kvm_run *>(run_.get());
    for (;;) {
        w_.enter_run(worker_);
        const int r = kvm_run_vcpu(vcpu_.get());
        const bool timed_out = w_.leave_run(worker_);
        if (r == -EINTR) {
            if (timed_out) {
                std::string pc;
                try {
                    pc = hex(kvm_get_one_reg(vcpu_.get(), kRegPc, "PC"));
                } catch (const KvmError &e) {
                    pc = e.what();
                }
                w_.fail(where(what) + ": the guest did not exit within " +
                        std::to_string(static_cast<int>(kRunTimeout)) + " s (PC " + pc + ")" +
                        w_.hang_note(worker_));
                failed_ = true;
                return;
            }
            continue;
        }
        if (run->exit_reason == KVM_EXIT_MMIO) {
            const auto &m = run->mmio;
            std::uint64_t data = 0;
            std::memcpy(&data, m.data, sizeof data);
            if (m.phys_addr != layout_.exit_gpa || m.is_write == 0 || m.len != 8) {
                w_.fail(where(what) + ": KVM_EXIT_MMIO at " + hex(m.phys_addr) + " (" +
                        (m.is_write != 0 ? "write" : "read") + ", " + std::to_string(m.len) +
                        " bytes), expected an 8-byte write at the exit address " +
                        hex(layout_.exit_gpa));
                failed_ = true;
                return;
            }
            ++tally_->entries;
            if (data != 0) {
                w_.fail(where(what) + ": the guest found " + std::to_string(data) +
                        " words that differ from what the host wrote or it stored");
                failed_ = true;
            }
            return;
        }
        std::string detail = exit_reason_name(run->exit_reason);
        if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
            detail += " (hardware_entry_failure_reason " +
                      hex(run->fail_entry.hardware_entry_failure_reason) + ")";
        } else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
            detail += " (suberror " + std::to_string(run->internal.suberror) + ")";
        } else if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
            detail += " (type " + std::to_string(run->system_event.type) + ")";
        }
        try {
            detail += ", PC " + hex(kvm_get_one_reg(vcpu_.get(), kRegPc, "PC"));
        } catch (const KvmError &) {
        }
        w_.fail(where(what) + ": unexpected " + detail + "; expected KVM_EXIT_MMIO at " +
                hex(layout_.exit_gpa));
        failed_ = true;
        return;
    }
}

// One guest pass over a slot: the host writes a ^ host_tag at a + 8 for every stride address
// a, the guest checks those and writes a ^ tag at a, the host checks those.
void Vm::pass(Slot &s, const char *what) {
    if (failed_) {
        return;
    }
    const std::uint64_t max_k = std::max<std::uint64_t>(1, s.size / cfg_.page / 64);
    const Stride st = make_stride(s.size, cfg_.page, 1 + rng_.below(max_k),
                                  rng_.below(cfg_.page / 16), kMaxStrides);
    const std::uint64_t tag = rng_.next() | 1;
    const std::uint64_t host_tag = rng_.next() | 2;
    char *hva = s.mem.bytes();
    for (std::uint64_t i = 0; i < st.count; ++i) {
        const std::uint64_t off = st.offset + i * st.stride;
        const std::uint64_t a = s.gpa + off;
        const std::uint64_t v = a ^ host_tag;
        std::memcpy(hva + off + 8, &v, 8);
    }
    auto *params = reinterpret_cast<std::uint64_t *>(code_.mem.bytes() + kParamOffset);
    params[a64::GuestParams::kBase / 8] = s.gpa + st.offset;
    params[a64::GuestParams::kCount / 8] = st.count;
    params[a64::GuestParams::kStride / 8] = st.stride;
    params[a64::GuestParams::kTag / 8] = tag;
    params[a64::GuestParams::kExit / 8] = layout_.exit_gpa;
    params[a64::GuestParams::kHostTag / 8] = host_tag;
    asm volatile("" ::: "memory");
    const std::string desc = std::string(what) + " (" + s.name + " slot at " + hex(s.gpa) + ", " +
                             std::to_string(st.count) + " x " + hex(st.stride) + ")";
    run_to_exit(desc.c_str());
    if (failed_) {
        return;
    }
    ++pass_no_;
    ++w_.passes_;
    ++tally_->passes;
    last_tag_ = tag;
    asm volatile("" ::: "memory");
    for (std::uint64_t i = 0; i < st.count; ++i) {
        const std::uint64_t off = st.offset + i * st.stride;
        const std::uint64_t a = s.gpa + off;
        std::uint64_t found = 0;
        std::memcpy(&found, hva + off, 8);
        if (found != (a ^ tag)) {
            w_.fail(where(desc.c_str()) + ": the host reads " + hex(found) + " at IPA " + hex(a) +
                    " (hva " + hex(reinterpret_cast<std::uintptr_t>(hva + off)) +
                    "), the guest stored " + hex(a ^ tag));
            failed_ = true;
            return;
        }
    }
}

void Vm::dirty_cycle(Tally &tally) {
    const std::uint64_t npages = thp_.size / cfg_.page;
    std::vector<std::uint64_t> bitmap((npages + 63) / 64);
    thp_.flags = KVM_MEM_LOG_DIRTY_PAGES;
    kvm_set_user_memory_region(vm_.get(), thp_.id, thp_.flags, thp_.gpa, thp_.size, thp_.mem.get());
    kvm_get_dirty_log(vm_.get(), thp_.id, bitmap.data()); // start from a clean log
    // A pass with a stride we know, to compare with the log.
    const std::uint64_t max_k = std::max<std::uint64_t>(1, npages / 64);
    const Stride st = make_stride(thp_.size, cfg_.page, 1 + rng_.below(max_k), 0, kMaxStrides);
    const std::uint64_t tag = rng_.next() | 1;
    auto *params = reinterpret_cast<std::uint64_t *>(code_.mem.bytes() + kParamOffset);
    for (std::uint64_t i = 0; i < st.count; ++i) {
        const std::uint64_t v = (thp_.gpa + i * st.stride) ^ tag;
        std::memcpy(thp_.mem.bytes() + i * st.stride + 8, &v, 8);
    }
    params[a64::GuestParams::kBase / 8] = thp_.gpa;
    params[a64::GuestParams::kCount / 8] = st.count;
    params[a64::GuestParams::kStride / 8] = st.stride;
    params[a64::GuestParams::kTag / 8] = tag;
    params[a64::GuestParams::kExit / 8] = layout_.exit_gpa;
    params[a64::GuestParams::kHostTag / 8] = tag;
    asm volatile("" ::: "memory");
    run_to_exit("dirty-logged pass (THP slot)");
    if (failed_) {
        return;
    }
    ++w_.passes_;
    ++tally_->passes;
    std::fill(bitmap.begin(), bitmap.end(), 0);
    kvm_get_dirty_log(vm_.get(), thp_.id, bitmap.data());
    std::uint64_t missing = 0;
    std::uint64_t first_missing = 0;
    std::uint64_t dirty = 0;
    for (const auto w : bitmap) {
        dirty += static_cast<std::uint64_t>(__builtin_popcountll(w));
    }
    for (std::uint64_t i = 0; i < st.count; ++i) {
        const std::uint64_t page = i * st.stride / cfg_.page;
        if ((bitmap[page / 64] >> (page % 64) & 1) == 0) {
            if (missing++ == 0) {
                first_missing = page;
            }
        }
    }
    if (missing != 0) {
        w_.fail(where("dirty log") + ": " + std::to_string(missing) + " of " +
                std::to_string(st.count) + " pages the guest wrote are not in the log (first: " +
                "page " + std::to_string(first_missing) + ", IPA " +
                hex(thp_.gpa + first_missing * cfg_.page) + "); " + std::to_string(dirty) +
                " bits set");
        failed_ = true;
        return;
    }
    // Dirty logging off again: the next faults may map blocks again.
    thp_.flags = 0;
    kvm_set_user_memory_region(vm_.get(), thp_.id, thp_.flags, thp_.gpa, thp_.size, thp_.mem.get());
    ++tally.dirty_cycles;
    pass(thp_, "pass after dirty logging");
}

void Vm::run(Tally &tally) {
    tally_ = &tally;
    create();
    pass(thp_, "first pass");
    if (!failed_ && thp_.size >= cfg_.pmd && (tally.vms <= 2 || tally.vms % 5 == 0)) {
        // Is the THP slot backed by PMD huge pages on the host (a condition for stage-2 blocks)?
        if (const auto text = try_read_file("/proc/self/smaps")) {
            try {
                const auto lo = reinterpret_cast<std::uintptr_t>(thp_.mem.get());
                w_.note_backing(smaps_sum(parse_smaps(*text), "AnonHugePages", lo, lo + thp_.size) >
                                0);
            } catch (const std::exception &) {
            }
        }
    }
    pass(small_, "first pass");
    if (!failed_ && rng_.chance(1, 2)) {
        dirty_cycle(tally);
    }
    if (!failed_ && rng_.chance(1, 2)) {
        // Delete the small slot, run without it, re-create it elsewhere.
        kvm_set_user_memory_region(vm_.get(), small_.id, 0, small_.gpa, 0, small_.mem.get());
        small_.present = false;
        ++tally.slot_deletes;
        pass(thp_, "pass with the small slot deleted");
        add_slot(small_,
                 small_.gpa == layout_.small_gpa ? layout_.small_alt_gpa : layout_.small_gpa);
        pass(small_, "pass after re-creating the small slot");
    }
    if (!failed_ && rng_.chance(1, 2)) {
        // Move the THP slot (same memory, new IPA).
        const std::uint64_t to =
            thp_.gpa == layout_.thp_gpa ? layout_.thp_alt_gpa : layout_.thp_gpa;
        kvm_set_user_memory_region(vm_.get(), thp_.id, thp_.flags, to, thp_.size, thp_.mem.get());
        thp_.gpa = to;
        ++tally.slot_moves;
        pass(thp_, "pass after moving the THP slot");
    }
    if (!failed_ && rng_.chance(1, 2)) {
        pass(small_, "last pass");
    }
    if (failed_) {
        return;
    }
    ++tally.vms_ok;
}

void KvmWorkload::watchdog(const WorkloadContext &ctx) {
    while (!workers_done_.load()) {
        const double now = seconds_since(t0_);
        for (unsigned t = 0; t < ctx.threads; ++t) {
            const double s = run_started_[t].load(std::memory_order_relaxed);
            if (s >= 0 && now - s > kRunTimeout) {
                // Is the vCPU exiting to KVM over and over (a stage-2 fault loop, say) or
                // not at all? KVM's debugfs counts the exits of each VM.
                const std::string stat = "/sys/kernel/debug/kvm/" +
                                         std::to_string(vm_tid_[t].load()) + "-" +
                                         std::to_string(vm_fd_[t].load()) + "/exits";
                const auto a = try_read_file(stat);
                std::this_thread::sleep_for(std::chrono::seconds(1));
                const auto b = try_read_file(stat);
                std::string note;
                if (a && b) {
                    note = "; KVM counted " + trim(*a) + " exits of this VM, " + trim(*b) +
                           " one second later";
                }
                {
                    const std::lock_guard lock(note_mu_);
                    hang_notes_[t] = note;
                }
                timed_out_[t] = true;
                ::pthread_kill(threads_[t], SIGUSR1);
            }
        }
        try {
            atomic_max(sec_pt_max_kb_, meminfo_kb("SecPageTables"));
        } catch (const std::bad_alloc &) {
            expected_.count(ENOMEM);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

// Without the thp workload running next to it (kvm alone), THP memory is faulted in, split
// and unmapped in the background, so that VMs are destroyed while huge pages come and go.
void KvmWorkload::thp_churn(const WorkloadContext &ctx) {
    const std::size_t pg = page_size();
    const std::uint64_t pmd = std::stoull(trim(
        read_file_patiently("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size").value_or("0")));
    if (pmd == 0) {
        return;
    }
    const std::size_t len = pmd >= (32ULL << 20) ? pmd : 4 * pmd;
    Rng rng(derive_seed(ctx.seed, "kvm-thp-churn", 0));
    while (!workers_done_.load() && !stop_requested()) {
        try {
            Mapping m = map_aligned(len, pmd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
            if (::madvise(m.get(), len, MADV_HUGEPAGE) != 0) {
                throw SysError("madvise(MADV_HUGEPAGE)", errno);
            }
            const std::uint64_t tag = rng.next();
            const std::size_t step = std::max<std::size_t>(pg, len / 512);
            for (std::size_t off = 0; off < len; off += step) {
                const std::uint64_t v = tag ^ off;
                std::memcpy(m.bytes() + off, &v, 8);
            }
            // Split: unmap one page in the middle of every PMD.
            for (std::size_t off = pmd / 2; off < len; off += pmd) {
                if (::munmap(m.bytes() + off, pg) != 0) {
                    throw SysError("munmap", errno);
                }
            }
            for (std::size_t off = 0; off < len; off += step) {
                if (off % pmd >= pmd / 2 && off % pmd < pmd / 2 + pg) {
                    continue;
                }
                std::uint64_t v = 0;
                std::memcpy(&v, m.bytes() + off, 8);
                if (v != (tag ^ off)) {
                    churn_failures_.add("THP churn: " + hex(v) + " at offset " + hex(off) +
                                        ", expected " + hex(tag ^ off));
                    break;
                }
            }
            ++churn_cycles_;
        } catch (const SysError &e) {
            if (!expected_.count(e.err())) {
                churn_failures_.add(std::string("THP churn: ") + e.what());
            }
        } catch (const std::bad_alloc &) {
            expected_.count(ENOMEM);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void KvmWorkload::worker(unsigned t, const WorkloadContext &ctx) {
    Rng rng(derive_seed(ctx.seed, "kvm", t));
    const VmConfig &cfg = configs_[t];
    Tally tally;
    std::uint64_t done = 0;
    // Spread the threads over the IPA sizes, so that short runs still cover them all.
    std::size_t next_ipa = (t * ipas_.size() / std::max(1U, ctx.threads)) % ipas_.size();
    while (!ctx.should_stop(done)) {
        ++done;
        const unsigned ipa = ipas_[next_ipa];
        next_ipa = (next_ipa + 1) % ipas_.size();
        const Layout layout = make_layout(ipa, cfg.page, cfg.pmd, cfg.small_size, cfg.thp_size);
        ++vms_;
        ++tally.vms;
        const std::uint64_t ok_before = tally.vms_ok;
        const std::size_t fails_before = failures_.count();
        try {
            Vm vm(*this, kvm_fd_, cfg, layout, rng, t);
            vm.run(tally);
        } catch (const SysError &e) {
            if (!expected_.count(e.err())) {
                failures_.add("VM " + std::to_string(ipa) + "-bit IPA: " + e.what());
            }
        } catch (const std::bad_alloc &) {
            expected_.count(ENOMEM); // our own malloc() under fault injection
        }
        if (tally.vms_ok > ok_before) {
            ++tally.ok_by_ipa[ipa];
        } else if (failures_.count() > fails_before) {
            ++tally.failed_by_ipa[ipa];
        }
    }
    const std::lock_guard lock(tally_mu_);
    tally_.vms += tally.vms;
    tally_.vms_ok += tally.vms_ok;
    tally_.passes += tally.passes;
    tally_.entries += tally.entries;
    tally_.dirty_cycles += tally.dirty_cycles;
    tally_.slot_deletes += tally.slot_deletes;
    tally_.slot_moves += tally.slot_moves;
    for (const auto &[k, v] : tally.ok_by_ipa) {
        tally_.ok_by_ipa[k] += v;
    }
    for (const auto &[k, v] : tally.failed_by_ipa) {
        tally_.failed_by_ipa[k] += v;
    }
}

#endif // __aarch64__

#if defined(__aarch64__)

bool KvmWorkload::probe(int kvm, TestNode &setup, Probe &p) {
    p.page = page_size();
    try {
        const int api = kvm_get_api_version(kvm);
        if (api != KVM_API_VERSION) {
            throw std::runtime_error("KVM_GET_API_VERSION is " + std::to_string(api) +
                                     ", expected " + std::to_string(KVM_API_VERSION));
        }
        p.max_ipa = static_cast<unsigned>(kvm_check_extension(kvm, KVM_CAP_ARM_VM_IPA_SIZE));
        p.run_size = kvm_get_vcpu_mmap_size(kvm);
        p.pmd = std::stoull(
            trim(read_file_patiently("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
                     .value_or("0")));
    } catch (const std::exception &e) {
        setup.result = Result::Fail;
        setup.diag(e.what());
        return false;
    }
    if (p.pmd == 0) {
        p.pmd = p.page * (p.page / 8); // no THP: still PMD-aligned, just never huge
        setup.diag("no THP in this kernel: the THP slot gets page mappings only");
    }
    return true;
}

// Memory: the THP slot is PMD-sized where the budget allows (4K pages: 4 PMDs = 8 MiB;
// 64K pages: one 512 MiB PMD) so that stage-2 can map blocks; otherwise smaller.
std::string KvmWorkload::size_slots(const WorkloadContext &ctx, const Probe &p) {
    const std::uint64_t avail = meminfo_kb("MemAvailable") * 1024;
    const unsigned pct = ctx.mem_percent != 0 ? ctx.mem_percent : (ctx.concurrent ? 25 : 45);
    std::uint64_t budget = avail / 100 * pct;
    configs_.resize(ctx.threads);
    std::string sizes;
    for (unsigned t = 0; t < ctx.threads; ++t) {
        VmConfig &c = configs_[t];
        c.page = p.page;
        c.pmd = p.pmd;
        c.run_size = p.run_size;
        c.small_size = std::max<std::uint64_t>(2ULL << 20, 256 * p.page);
        const std::uint64_t want_thp = p.pmd >= (32ULL << 20) ? p.pmd : 4 * p.pmd;
        if (budget >= want_thp + c.small_size) {
            c.thp_size = want_thp;
            budget -= want_thp + c.small_size;
        } else {
            c.thp_size = std::min<std::uint64_t>(
                want_thp, std::max<std::uint64_t>(32ULL << 20, 256 * p.page));
        }
        sizes += (sizes.empty() ? "" : ", ") + std::string("t") + std::to_string(t) + ": THP " +
                 std::to_string(c.thp_size >> 20) + " MiB, small " +
                 std::to_string(c.small_size >> 20) + " MiB";
    }
    return sizes;
}

void KvmWorkload::describe_setup(TestNode &setup, const WorkloadContext &ctx, const Probe &p,
                                 const std::string &sizes) {
    std::string ipa_list;
    for (const auto b : ipas_) {
        ipa_list += (ipa_list.empty() ? "" : ", ") + std::to_string(b);
    }
    setup.diag("KVM_CAP_ARM_VM_IPA_SIZE " + std::to_string(p.max_ipa) + " bits; IPA sizes " +
               ipa_list + (ctx.ipa_bits.empty() && p.max_ipa > 48 ? " (--ipa-bits adds 52)" : "") +
               "; page " + std::to_string(p.page >> 10) + " kB, PMD " +
               std::to_string(p.pmd >> 10) + " kB; slots " + sizes);
    setup.diag("stage 2: " + std::to_string(p.page >> 10) + " kB granule (the host's pages); " +
               stage2_summary(ipas_, p.page));
    setup.diag("guest program (" +
               std::to_string(a64::guest_stride_program(kCodeGpa + kParamOffset).size()) +
               " instructions at IPA " + hex(kCodeGpa) + "), exit address " + hex(kExitGpa));
}

double KvmWorkload::run_threads(const WorkloadContext &ctx) {
    t0_ = Clock::now();
    run_started_ = std::make_unique<std::atomic<double>[]>(ctx.threads);
    vm_fd_ = std::make_unique<std::atomic<int>[]>(ctx.threads);
    vm_tid_ = std::make_unique<std::atomic<int>[]>(ctx.threads);
    hang_notes_.assign(ctx.threads, {});
    timed_out_ = std::make_unique<std::atomic<bool>[]>(ctx.threads);
    for (unsigned t = 0; t < ctx.threads; ++t) {
        run_started_[t] = -1.0;
        timed_out_[t] = false;
        vm_fd_[t] = -1;
        vm_tid_[t] = 0;
    }
    std::vector<std::thread> workers;
    std::vector<std::thread> helpers;
    JoinGuard join_helpers(helpers);
    JoinGuard join_workers(workers);
    threads_.assign(ctx.threads, pthread_t{});
    for (unsigned t = 0; t < ctx.threads; ++t) {
        if (spawn_thread(
                workers,
                [this, t, &ctx] {
                    guarded(expected_, failures_, "kvm worker", [&] { worker(t, ctx); });
                },
                &expected_)) {
            threads_[t] = workers.back().native_handle();
        }
    }
    spawn_thread(
        helpers,
        [this, &ctx] { guarded(expected_, failures_, "kvm watchdog", [&] { watchdog(ctx); }); },
        &expected_);
    if (!ctx.concurrent) {
        spawn_thread(
            helpers,
            [this, &ctx] {
                guarded(expected_, churn_failures_, "THP churn", [&] { thp_churn(ctx); });
            },
            &expected_);
    }
    join_workers.join();
    const double elapsed = seconds_since(t0_);
    workers_done_ = true;
    join_helpers.join();
    return elapsed;
}

/// Every VM's fds are closed and its kvm_run unmapped: stage-2 tables must be freed. Deferred
/// frees get a few seconds.
std::uint64_t settled_sec_page_tables(std::uint64_t before) {
    refresh_vm_stats();
    std::uint64_t after = meminfo_kb("SecPageTables");
    for (int i = 0; i < 50 && after > before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        refresh_vm_stats();
        after = meminfo_kb("SecPageTables");
    }
    return after;
}

void KvmWorkload::report_operations(TestNode &node, const WorkloadContext &ctx, double elapsed) {
    const Tally &ty = tally_;
    const double rate = elapsed > 0 ? static_cast<double>(ty.vms) / elapsed : 0.0;
    const double pass_rate = elapsed > 0 ? static_cast<double>(ty.passes) / elapsed : 0.0;
    TestNode &opsn = node.check("operations", ty.vms > 0 && failures_.count() == 0);
    opsn.diag("VMs=" + std::to_string(ty.vms) + " (" + fmt_double(rate, 2) + "/s), guest passes=" +
              std::to_string(ty.passes) + " (" + fmt_double(pass_rate, 1) + "/s) in " +
              fmt_double(elapsed, 1) + " s (" + std::to_string(ctx.threads) + " threads)");
    opsn.diag("dirty-log cycles=" + std::to_string(ty.dirty_cycles) + ", slot deletes=" +
              std::to_string(ty.slot_deletes) + ", slot moves=" + std::to_string(ty.slot_moves) +
              (ctx.concurrent
                   ? std::string()
                   : ", background THP churn cycles=" + std::to_string(churn_cycles_.load())));
    opsn.diag("expected failures (counted, not errors): " + expected_.summary());
    for (const auto &m : failures_.messages()) {
        opsn.diag(m);
    }
    for (const auto &m : churn_failures_.messages()) {
        opsn.diag(m);
        opsn.result = Result::Fail;
    }
    node.check("guest_entry", ty.vms_ok > 0 && ty.entries >= ty.vms_ok,
               std::to_string(ty.entries) + " KVM_EXIT_MMIO exits at " + hex(kExitGpa) + "; " +
                   std::to_string(ty.vms_ok) + " of " + std::to_string(ty.vms) +
                   " VMs completed every pass");
}

void KvmWorkload::report_ipa_sizes(TestNode &node) {
    for (const auto b : ipas_) {
        const std::string name = "ipa_" + std::to_string(b) + "bit";
        const auto ok = tally_.ok_by_ipa.count(b) != 0 ? tally_.ok_by_ipa.at(b) : 0;
        const auto bad = tally_.failed_by_ipa.count(b) != 0 ? tally_.failed_by_ipa.at(b) : 0;
        if (ok == 0 && bad == 0) {
            node.skip(name, "no VM with this IPA size completed in the time given");
        } else {
            node.check(name, bad == 0,
                       std::to_string(b) + "-bit IPA: " + std::to_string(ok) + " VMs ok, " +
                           std::to_string(bad) + " failed");
        }
    }
}

void KvmWorkload::report_thp_backing(TestNode &node) {
    if (thp_sampled_ == 0) {
        node.skip("thp_slot_backing", "no THP slot of a PMD or more was sampled");
    } else if (thp_backed_ == 0) {
        node.skip("thp_slot_backing", "none of " + std::to_string(thp_sampled_.load()) +
                                          " sampled THP slots was backed by a PMD huge page "
                                          "(memory fragmented?): no stage-2 blocks");
    } else {
        node.check("thp_slot_backing", true,
                   std::to_string(thp_backed_.load()) + " of " +
                       std::to_string(thp_sampled_.load()) +
                       " sampled THP slots were backed by PMD huge pages (AnonHugePages in "
                       "/proc/self/smaps): stage-2 can map blocks");
    }
}

void KvmWorkload::report_metrics(TestNode &node, const WorkloadContext &ctx, double elapsed,
                                 unsigned max_ipa, std::uint64_t sec_before,
                                 std::uint64_t sec_after) {
    const Tally &ty = tally_;
    const double rate = elapsed > 0 ? static_cast<double>(ty.vms) / elapsed : 0.0;
    const double pass_rate = elapsed > 0 ? static_cast<double>(ty.passes) / elapsed : 0.0;
    node.metrics = {
        {"vms", ty.vms},
        {"vms_ok", ty.vms_ok},
        {"vms_per_s", rate},
        {"passes", ty.passes},
        {"passes_per_s", pass_rate},
        {"ops", ty.passes},
        {"ops_per_s", pass_rate},
        {"elapsed_s", elapsed},
        {"threads", ctx.threads},
        {"mmio_exits", ty.entries},
        {"dirty_log_cycles", ty.dirty_cycles},
        {"slot_deletes", ty.slot_deletes},
        {"slot_moves", ty.slot_moves},
        {"ipa_sizes", ipas_},
        {"max_ipa_bits", max_ipa},
        {"sec_page_tables_kb",
         {{"before", sec_before}, {"max", sec_pt_max_kb_.load()}, {"after", sec_after}}},
        {"errors", expected_.to_json()},
        {"unexpected_errors", failures_.count()}};
}

#endif // __aarch64__

/// Phases: open /dev/kvm, probe it, size the slots, run the VMs, wait for stage-2 to be
/// freed, report.
TestNode KvmWorkload::run(const WorkloadContext &ctx) {
    TestNode node("kvm");
#if !defined(__aarch64__)
    utsname u{};
    ::uname(&u);
    node.result = Result::Skip;
    node.skip_reason =
        std::string("the kvm workload drives arm64 KVM; this build runs on ") + u.machine;
    (void)ctx;
    return node;
#else
    Fd kvm;
    try {
        kvm = kvm_open();
    } catch (const KvmError &e) {
        node.result = Result::Skip;
        node.skip_reason = std::string("no usable /dev/kvm: ") + e.what();
        return node;
    }
    kvm_fd_ = kvm.get();
    TestNode &setup = node.check("setup", true);
    Probe p;
    if (!probe(kvm.get(), setup, p)) {
        node.settle();
        return node;
    }
    ipas_ = ipa_sizes(p.max_ipa == 0 ? 40 : p.max_ipa, ctx.ipa_bits);
    if (ipas_.empty()) {
        node.result = Result::Skip;
        node.skip_reason =
            "none of the IPA sizes asked for is allowed: KVM_CAP_ARM_VM_IPA_SIZE is " +
            std::to_string(p.max_ipa) + " bits";
        return node;
    }
    describe_setup(setup, ctx, p, size_slots(ctx, p));

    const bool have_sec = meminfo_has("SecPageTables");
    refresh_vm_stats();
    const std::uint64_t sec_before = meminfo_kb("SecPageTables");
    sec_pt_max_kb_ = sec_before;
    const double elapsed = run_threads(ctx);
    kvm.reset();
    const std::uint64_t sec_after = settled_sec_page_tables(sec_before);

    report_operations(node, ctx, elapsed);
    report_ipa_sizes(node);
    report_thp_backing(node);
    if (!have_sec) {
        node.skip("secpagetables_teardown", "no SecPageTables in /proc/meminfo");
    } else {
        node.check("secpagetables_teardown", sec_after <= sec_before,
                   "SecPageTables before=" + std::to_string(sec_before) +
                       " kB, max during=" + std::to_string(sec_pt_max_kb_.load()) +
                       " kB, after=" + std::to_string(sec_after) + " kB (tolerance 0 kB)");
    }
    report_metrics(node, ctx, elapsed, p.max_ipa, sec_before, sec_after);
    node.settle();
    return node;
#endif
}

} // namespace

std::unique_ptr<Workload> make_kvm_workload() { return std::make_unique<KvmWorkload>(); }

} // namespace ptlab
