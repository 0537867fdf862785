// thp: threads working on private and shared anonymous memory with MADV_HUGEPAGE.
//
// Regions (all PMD-aligned, sized in PMD huge pages from MemAvailable):
//   private[tN]  MAP_PRIVATE, owned by thread N: disjoint PMD ranges. Its PMD-sized chunks live
//                in one of two reserved halves and move between them with mremap().
//   shared       MAP_PRIVATE, used by every thread: the same PMD ranges. Pages are dealt out in
//                slices of 16 pages, round robin, so every PMD holds every thread's pages.
//   shmem        MAP_SHARED anonymous (shmem), used by every thread the same way.
// A thread only writes, unmaps, protects or discards pages it owns, so the expected contents
// of every page are known (pattern.hpp): each page has a generation, bumped on every write.
// Operations: write, read (fault-in by read maps the huge zero page), MADV_DONTNEED, partial
// munmap + re-map, mprotect (PMD splits), mremap of PMD-aligned chunks, fork with COW checks in
// parent and child, MADV_COLLAPSE. khugepaged is made to scan every 100 ms. Two threads read
// /proc/self/smaps all the time. Every read is checked against the expected pattern.

#include "pattern.hpp"
#include "procfs.hpp"
#include "rng.hpp"
#include "workload.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

namespace ptlab {

namespace {

const std::string kThpDir = "/sys/kernel/mm/transparent_hugepage";
constexpr std::size_t kSlicePages = 16;
constexpr int kRestoreTries = 2000;

enum Op : unsigned {
    OpWrite,
    OpRead,
    OpDontneed,
    OpMunmap,
    OpMprotect,
    OpMremap,
    OpFork,
    OpCollapse,
    OpVerifyChunk,
    OpCount
};
constexpr std::array<const char *, OpCount> kOpNames = {"write",        "read",     "dontneed",
                                                        "munmap_remap", "mprotect", "mremap",
                                                        "fork",         "collapse", "verify_chunk"};
// Relative weights of the operations.
constexpr std::array<unsigned, OpCount> kOpWeights = {26, 22, 8, 7, 10, 4, 3, 6, 6};

enum class Kind { Private, Shmem };

struct Region {
    std::string label;
    Kind kind = Kind::Private;
    int owner = -1; // thread index, -1 = shared by all threads
    std::size_t npmds = 0;
    std::size_t size = 0;
    std::size_t npages = 0;
    std::size_t pages_per_pmd = 0;
    std::uint64_t salt = 0;
    bool high = false;   // placed above 2^48 (52-bit VA)
    Mapping reservation; // PROT_NONE reservation holding the half (or halves)
    std::array<char *, 2> half{nullptr, nullptr};
    std::vector<std::uint8_t> loc;  // per PMD chunk: which half it lives in (owner only)
    std::vector<std::uint32_t> gen; // per page (each element written by its owner only)

    [[nodiscard]] char *chunk_addr(std::size_t c) const { return half[loc[c]] + c * size / npmds; }
    [[nodiscard]] char *page_addr(std::size_t p, std::size_t pg) const {
        const std::size_t c = p / pages_per_pmd;
        return chunk_addr(c) + (p % pages_per_pmd) * pg;
    }
    [[nodiscard]] int page_owner(std::size_t p, unsigned nthreads) const {
        return owner >= 0 ? owner : static_cast<int>((p / kSlicePages) % nthreads);
    }
    [[nodiscard]] int map_flags() const {
        return (kind == Kind::Shmem ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
    }
};

// The last operations of a worker thread, reported with the first mismatch it finds.
struct OpRecord {
    unsigned op = OpCount;
    const Region *region = nullptr;
    std::size_t first = 0;
    std::size_t count = 0;
    std::array<std::uint8_t, 2> loc_before{};
    int note = 0; // mremap: number of VMA pieces moved one by one, or -errno
};
constexpr std::size_t kHistory = 12;
struct History {
    std::array<OpRecord, kHistory> ring{};
    std::size_t n = 0;
    void add(const OpRecord &r) { ring[n++ % kHistory] = r; }
    OpRecord &last() { return ring[(n + kHistory - 1) % kHistory]; }
};
thread_local History *t_history = nullptr;
thread_local const char *t_phase = "?"; // what this thread is doing, for a fatal fault

// ---------------------------------------------------------------- fatal fault diagnostics
// A SIGSEGV or SIGBUS inside the arena: print what this thread was doing and the arena's
// mappings (async-signal-safe: snprintf of integers and strings, read(), write()), then hand
// the signal on to the handler installed before (main.cpp's bail-out).
struct sigaction g_prev_segv {};
struct sigaction g_prev_bus {};
std::uintptr_t g_arena_lo = 0;
std::uintptr_t g_arena_hi = 0;
pid_t g_parent_pid = 0;
char g_maps_buf[1 << 16];

void say(const char *s, std::size_t n) { (void)!::write(STDOUT_FILENO, s, n); }

extern "C" void on_arena_fault(int sig, siginfo_t *info, void *uc) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    unsigned long long pc = 0;
#if defined(__aarch64__)
    pc = static_cast<const ucontext_t *>(uc)->uc_mcontext.pc;
#endif
    char buf[512];
    int n = std::snprintf(buf, sizeof buf,
                          "# thp: signal %d si_code %d at %#lx pc %#llx (arena %#lx-%#lx), %s, "
                          "%s\n",
                          sig, info->si_code, static_cast<unsigned long>(addr), pc,
                          static_cast<unsigned long>(g_arena_lo),
                          static_cast<unsigned long>(g_arena_hi),
                          ::getpid() == g_parent_pid ? "parent" : "fork child", t_phase);
    say(buf, static_cast<std::size_t>(std::max(n, 0)));
    if (t_history != nullptr && t_history->n != 0) {
        const std::size_t k = std::min(t_history->n, kHistory);
        for (std::size_t i = t_history->n - k; i < t_history->n; ++i) {
            const OpRecord &o = t_history->ring[i % kHistory];
            n = std::snprintf(buf, sizeof buf, "#   op %s %s pages %zu+%zu note %d\n",
                              o.op < OpCount ? kOpNames[o.op] : "?",
                              o.region != nullptr ? o.region->label.c_str() : "?", o.first, o.count,
                              o.note);
            say(buf, static_cast<std::size_t>(std::max(n, 0)));
        }
    }
    if (addr >= g_arena_lo && addr < g_arena_hi) {
        const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        std::size_t len = 0;
        while (fd >= 0 && len < sizeof g_maps_buf - 1) {
            const ssize_t r = ::read(fd, g_maps_buf + len, sizeof g_maps_buf - 1 - len);
            if (r <= 0) {
                break;
            }
            len += static_cast<std::size_t>(r);
        }
        if (fd >= 0) {
            ::close(fd);
        }
        g_maps_buf[len] = '\0';
        for (std::size_t i = 0; i < len;) {
            std::size_t e = i;
            while (e < len && g_maps_buf[e] != '\n') {
                ++e;
            }
            char *dash = nullptr;
            const unsigned long lo = std::strtoul(g_maps_buf + i, &dash, 16);
            const unsigned long hi = std::strtoul(dash + 1, nullptr, 16);
            if (hi > g_arena_lo && lo < g_arena_hi) {
                say("#   ", 4);
                say(g_maps_buf + i, e - i + 1);
            }
            i = e + 1;
        }
    }
    const struct sigaction &prev = sig == SIGSEGV ? g_prev_segv : g_prev_bus;
    if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
        prev.sa_sigaction(sig, info, uc);
        return;
    }
    ::signal(sig, SIG_DFL);
}

struct ForkReport {
    int stage;
    std::uint64_t page;
    std::uint64_t offset;
    std::uint64_t expected;
    std::uint64_t found;
    std::uint64_t bad_bytes;
};

class ThpWorkload final : public Workload {
public:
    [[nodiscard]] std::string name() const override { return "thp"; }
    TestNode run(const WorkloadContext &ctx) override;
    [[nodiscard]] std::string progress() const override {
        return "ops=" + std::to_string(total_ops()) +
               " AnonHugePages_max=" + std::to_string(max_anon_huge_kb_.load()) + "kB";
    }

private:
    struct Range {
        std::size_t first = 0;
        std::size_t count = 0;
    };

    // setup and teardown
    bool probe(TestNode &node);
    void plan_regions(TestNode &node, const WorkloadContext &ctx);
    void place_arena();
    void map_region(Region &r);
    void reserve_gaps(char *addr, std::size_t len);
    void initial_fault_in();
    void final_verify();
    void install_fault_handlers();
    void tune_for_the_run();
    bool restore_settings(std::string *err);
    bool map_and_fault_in(TestNode &setup);
    double run_threads(const WorkloadContext &ctx);
    std::uint64_t unmap_all();

    // results
    void report_operations(TestNode &node, double elapsed);
    void report_integrity(TestNode &node);
    void report_huge_pages(TestNode &node, std::uint64_t bytes_mapped);
    void report_features(TestNode &node, std::uint64_t khp);
    void report_smaps_readers(TestNode &node);
    [[nodiscard]] nlohmann::json metrics(double elapsed, std::uint64_t bytes_mapped,
                                         std::uint64_t khp) const;
    static std::string scan_sleep_path() { return kThpDir + "/khugepaged/scan_sleep_millisecs"; }
    static std::string shmem_enabled_path() { return kThpDir + "/shmem_enabled"; }

    // threads
    void worker(unsigned t, const WorkloadContext &ctx);
    void smaps_reader(unsigned idx);
    void sample_smaps(bool record_problems);

    // operations
    Region &pick_region(Rng &rng, unsigned t);
    Range pick_range(Rng &rng, const Region &r, unsigned t) const;
    template <typename Fn> void for_each_piece(const Region &r, Range rg, Fn fn) const;
    void op_write(Region &r, Range rg, bool check);
    void op_read(Region &r, Range rg, const char *after);
    void op_dontneed(Region &r, Range rg);
    void op_munmap(Region &r, Range rg);
    void op_mprotect(Region &r, Range rg, Rng &rng);
    void op_mremap(Region &r, Rng &rng);
    void op_fork(Region &r, Range rg, unsigned t);
    void op_collapse(Region &r, Rng &rng);
    void op_verify_chunk(Region &r, Rng &rng, unsigned t);

    bool verify_page_at(Region &r, std::size_t p, const char *after);
    std::string describe_context(const Region &r) const;
    void write_page(Region &r, std::size_t p, std::uint32_t gen);
    void unexpected(const std::string &what, int err);
    bool expected_mmap_failure(int err, int flags);
    bool remap_hole(Region &r, std::size_t first, std::size_t n);
    bool restore_rw(Region &r, std::size_t first, std::size_t n);
    void give_up(Region &r, std::size_t first, std::size_t n, const std::string &why);

    [[nodiscard]] double ops_per_second(double elapsed) const {
        return elapsed > 0 ? static_cast<double>(total_ops()) / elapsed : 0.0;
    }
    [[nodiscard]] std::uint64_t total_ops() const {
        std::uint64_t n = 0;
        for (const auto &c : op_counts_) {
            n += c.load(std::memory_order_relaxed);
        }
        return n;
    }

    std::size_t pg_ = 0;
    std::size_t pmd_ = 0;
    unsigned nthreads_ = 1;
    std::uint64_t budget_ = 0;
    std::uint64_t arena_next_ = 0;
    std::uint64_t high_next_ = 0; // where the next region above 2^48 goes; 0: no such addresses
    bool collapse_supported_ = false;
    std::atomic<bool> mremap_supported_{true};
    std::vector<std::unique_ptr<Region>> regions_;
    std::vector<Mapping> fork_reports_; // one shared page per thread
    std::atomic<bool> workers_done_{false};
    bool fault_injection_ = false;
    std::atomic<std::uint64_t> enfile_injected_{0};
    std::atomic<std::uint64_t> enospc_injected_{0}; // shmem mmap() failing with ENOSPC
    std::atomic<std::uint64_t> enoent_injected_{0}; // /proc/self/smaps failing with ENOENT

    std::array<std::atomic<std::uint64_t>, OpCount> op_counts_{};
    ErrorCounters expected_;
    Failures failures_{8};   // unexpected errors and failed child checks
    Failures corruption_{8}; // pattern mismatches
    std::atomic<std::uint64_t> bad_bytes_{0};
    std::atomic<std::uint64_t> pages_checked_{0};
    std::atomic<std::uint64_t> forks_{0};
    std::atomic<std::uint64_t> fork_child_checks_{0};
    std::atomic<std::uint64_t> collapse_ok_{0};
    std::atomic<std::uint64_t> collapse_einval_{0};
    std::atomic<std::uint64_t> collapse_busy_{0};
    std::atomic<std::uint64_t> mremap_moves_{0};
    std::atomic<std::uint64_t> mremap_split_{0}; // moves done VMA by VMA
    std::atomic<std::uint64_t> smaps_reads_{0};
    Failures smaps_problems_{4};
    std::atomic<std::uint64_t> max_anon_huge_kb_{0};   // our regions, from smaps
    std::atomic<std::uint64_t> max_shmem_pmd_kb_{0};   // our regions, from smaps
    std::atomic<std::uint64_t> max_meminfo_ahp_kb_{0}; // /proc/meminfo AnonHugePages
    SettingOverride scan_sleep_;
    SettingOverride shmem_enabled_;
    std::vector<std::string> setting_notes_;
};

// SettingOverride::set() and restore(), retried: under fault injection opening or writing a
// sysfs file fails with ENOMEM now and then. restore() forgets the setting even when its write
// fails, so the old value is written back here.
bool set_patiently(SettingOverride &s, const std::string &path, const std::string &value,
                   std::string *err) {
    for (int i = 0; i < 200; ++i) {
        if (s.set(path, value, err)) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

bool restore_patiently(SettingOverride &s, const std::string &path, std::string *err) {
    if (s.restore(err)) {
        return true;
    }
    for (int i = 0; i < 2000; ++i) {
        try {
            write_file(path, s.old_value());
            return true;
        } catch (const SysError &e) {
            if (!is_expected_errno(e.err())) {
                *err = e.what();
                return false;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

// ---------------------------------------------------------------- setup

bool ThpWorkload::probe(TestNode &node) {
    int err = 0;
    const auto enabled = read_file_patiently(kThpDir + "/enabled", &err);
    if (!enabled) {
        node.result = Result::Skip;
        node.skip_reason = "no THP: " + kThpDir + "/enabled: " + errno_text(err) +
                           " (CONFIG_TRANSPARENT_HUGEPAGE off?)";
        return false;
    }
    const std::string mode = sysfs_choice(*enabled);
    if (mode == "never") {
        node.result = Result::Skip;
        node.skip_reason = "THP disabled: transparent_hugepage/enabled is [never]";
        return false;
    }
    pmd_ = read_u64_file(kThpDir + "/hpage_pmd_size");
    if (pmd_ == 0 || (pmd_ & (pmd_ - 1)) != 0 || pmd_ < pg_) {
        node.result = Result::Skip;
        node.skip_reason = "no usable " + kThpDir + "/hpage_pmd_size";
        return false;
    }
    // madvise() exists (CONFIG_ADVISE_SYSCALLS), MADV_COLLAPSE is known (Linux 6.1+): a
    // zero-length madvise checks only the advice.
    if (retry_expected([] { return ::madvise(nullptr, 0, MADV_HUGEPAGE); }) != 0) {
        node.result = Result::Skip;
        node.skip_reason =
            "madvise(MADV_HUGEPAGE) fails: " + errno_text(errno) + " (CONFIG_ADVISE_SYSCALLS off?)";
        return false;
    }
    collapse_supported_ = ::madvise(nullptr, 0, MADV_COLLAPSE) == 0;
    node.diag("THP enabled=[" + mode + "] PMD huge page " + std::to_string(pmd_ >> 10) +
              " kB, base page " + std::to_string(pg_ >> 10) + " kB, MADV_COLLAPSE " +
              (collapse_supported_ ? "supported" : "not supported"));
    return true;
}

void ThpWorkload::plan_regions(TestNode &node, const WorkloadContext &ctx) {
    const Meminfo mi = read_meminfo();
    const std::uint64_t avail_kb =
        mi.count("MemAvailable") != 0 ? mi.at("MemAvailable") : mi.at("MemFree");
    const unsigned pct = ctx.mem_percent != 0 ? ctx.mem_percent : (ctx.concurrent ? 30 : 45);
    budget_ = avail_kb * 1024 / 100 * pct;
    std::uint64_t pmds = budget_ / pmd_;
    const bool big = pmd_ >= (32ULL << 20);
    // Big PMDs (64K pages: 512 MiB): keep one in reserve for MADV_COLLAPSE and the huge zero
    // page, which both need a whole PMD huge page of their own.
    if (big && pmds > 1) {
        --pmds;
    }
    node.diag("memory: MemAvailable " + std::to_string(avail_kb >> 10) + " MiB, " +
              std::to_string(pct) + "% budget = " + std::to_string(budget_ >> 20) +
              " MiB = " + std::to_string(pmds) + " PMD huge pages for regions");
    if (pmds == 0) {
        return;
    }
    // Shmem THPs live in the page cache, whose largest folio in Linux 6.1 is of order
    // MAX_PAGECACHE_ORDER <= 11: never a 512 MiB PMD (64K pages). Not worth the memory there.
    const bool shmem = read_file_patiently(kThpDir + "/shmem_enabled").has_value() && !big;
    struct Spec {
        std::string label;
        Kind kind;
        int owner;
        std::size_t cap;
        std::size_t npmds = 0;
    };
    std::vector<Spec> specs;
    specs.push_back({"shared", Kind::Private, -1, big ? 1U : 8U});
    specs.push_back({"private[t0]", Kind::Private, 0, big ? 1U : 8U});
    if (shmem) {
        specs.push_back({"shmem", Kind::Shmem, -1, big ? 1U : 4U});
    }
    for (unsigned t = 1; t < nthreads_; ++t) {
        specs.push_back({"private[t" + std::to_string(t) + "]", Kind::Private, static_cast<int>(t),
                         big ? 1U : 8U});
    }
    // One PMD each in this order, then the rest round robin up to each region's cap.
    bool progress = true;
    while (pmds > 0 && progress) {
        progress = false;
        for (auto &s : specs) {
            if (pmds > 0 && s.npmds < s.cap) {
                ++s.npmds;
                --pmds;
                progress = true;
            }
        }
    }
    std::uint64_t salt_seed = ctx.seed ^ 0x7468700000000000ULL;
    for (const auto &s : specs) {
        if (s.npmds == 0) {
            continue;
        }
        auto r = std::make_unique<Region>();
        r->label = s.label;
        r->kind = s.kind;
        r->owner = s.owner;
        r->npmds = s.npmds;
        r->size = s.npmds * pmd_;
        r->pages_per_pmd = pmd_ / pg_;
        r->npages = r->size / pg_;
        r->salt = splitmix64(salt_seed);
        r->loc.assign(r->npmds, 0);
        r->gen.assign(r->npages, 0);
        regions_.push_back(std::move(r));
    }
}

// Regions live in an arena of their own, far below where mmap() puts everything else (top
// down from below the stack): the kernel hands out the highest free gap that fits, so the
// other threads' mappings (malloc, KVM memslots, ...) never land in a hole a worker has just
// punched and is about to re-map with MAP_FIXED, which would destroy them. With a 52-bit VA
// the shared region goes above 2^48 instead, where nothing else is ever put without a hint:
// then the tables of the PGD entries no 48-bit address uses are built, split, collapsed,
// copied on fork and torn down as well.
void ThpWorkload::place_arena() {
    void *probe = MAP_FAILED;
    for (int tries = 0; tries < 2000 && probe == MAP_FAILED; ++tries) {
        probe = ::mmap(nullptr, pg_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (probe == MAP_FAILED && !is_expected_errno(errno)) {
            break;
        }
    }
    if (probe == MAP_FAILED) {
        throw SysError("mmap (probe)", errno);
    }
    ::munmap(probe, pg_);
    const auto top = reinterpret_cast<std::uintptr_t>(probe);
    arena_next_ = align_down(std::max<std::uint64_t>(top / 4, 1ULL << 32), pmd_);
    Mapping high;
    for (int tries = 0;; ++tries) {
        try {
            high = map_high(pg_, pmd_, PROT_NONE, MAP_PRIVATE | MAP_NORESERVE);
            break;
        } catch (const SysError &e) {
            if (tries >= 2000 || !is_expected_errno(e.err())) {
                throw;
            }
        }
    }
    if (high.get() != nullptr) {
        high_next_ = reinterpret_cast<std::uintptr_t>(high.get());
        for (auto &r : regions_) {
            r->high = r->label == "shared";
        }
    }
}

// Maps r in the arena: a PROT_NONE reservation of both halves, the first half mapped. Throws
// SysError; whatever failed is undone (the caller retries expected errnos).
void ThpWorkload::map_region(Region &r) {
    const std::size_t span = r.owner >= 0 ? 2 * r.size : r.size;
    void *want = nullptr;
    void *p = MAP_FAILED;
    std::uint64_t &next = r.high ? high_next_ : arena_next_;
    for (int taken = 0; taken < 64; ++taken) {
        want = reinterpret_cast<void *>(next);
        p = ::mmap(want, span, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED || errno != EEXIST) {
            break;
        }
        next += span + pmd_; // something lives there already: further up
    }
    if (p == MAP_FAILED) {
        // An expected errno (fault injection) is retried by the caller, at the same place: the
        // region must not leave the arena because one allocation failed.
        throw SysError("mmap " + r.label + " reservation at " +
                           hex(reinterpret_cast<std::uintptr_t>(want)),
                       errno);
    }
    if (p == want) {
        r.reservation = Mapping(p, span);
    } else {
        ::munmap(p, span); // a kernel without MAP_FIXED_NOREPLACE took it as a hint
        r.reservation = map_aligned(span, pmd_, PROT_NONE, MAP_PRIVATE | MAP_NORESERVE);
    }
    r.half[0] = r.reservation.bytes();
    r.half[1] = r.owner >= 0 ? r.reservation.bytes() + r.size : nullptr;
    if (::mmap(r.half[0], r.size, PROT_READ | PROT_WRITE, r.map_flags() | MAP_FIXED, -1, 0) ==
        MAP_FAILED) {
        const int err = errno;
        r.reservation.reset();
        throw SysError("mmap " + r.label + " (" + std::to_string(r.size >> 20) + " MiB)", err);
    }
    if (::madvise(r.half[0], r.size, MADV_HUGEPAGE) != 0) {
        const int err = errno;
        r.reservation.reset();
        throw SysError("madvise(MADV_HUGEPAGE) " + r.label, err);
    }
    if (p == want) {
        next += span + pmd_;
    }
}

void ThpWorkload::write_page(Region &r, std::size_t p, std::uint32_t gen) {
    if ((r.gen[p] & kGenGone) != 0) {
        return;
    }
    fill_page(r.page_addr(p, pg_), pg_, r.salt, p * pg_, gen);
    r.gen[p] = gen;
}

std::uint32_t next_gen(std::uint32_t g) {
    const std::uint32_t n = (g & kGenMask) + 1;
    return n > kGenMask ? 1 : n;
}

// The mappings of the region and this thread's last operations, for the first mismatch.
std::string ThpWorkload::describe_context(const Region &r) const {
    std::string out;
    const auto lo = reinterpret_cast<std::uintptr_t>(r.reservation.get());
    const auto hi = lo + r.reservation.size();
    if (const auto maps = try_read_file("/proc/self/maps")) {
        out += "\n  mappings of " + r.label + " (reservation " + hex(lo) + "-" + hex(hi) + "):";
        try {
            for (const auto &e : parse_smaps(*maps)) {
                if (e.end > lo && e.start < hi) {
                    out += "\n    " + hex(e.start) + "-" + hex(e.end) + " " + e.perms;
                }
            }
        } catch (const std::exception &e) {
            out += std::string(" ") + e.what();
        }
    }
    if (t_history != nullptr && t_history->n != 0) {
        out += "\n  this thread's last operations (oldest first):";
        const std::size_t n = std::min(t_history->n, kHistory);
        for (std::size_t i = t_history->n - n; i < t_history->n; ++i) {
            const OpRecord &o = t_history->ring[i % kHistory];
            out += "\n    " + std::string(o.op < OpCount ? kOpNames[o.op] : "?") + " " +
                   (o.region != nullptr ? o.region->label : "?") + " pages " +
                   std::to_string(o.first) + "+" + std::to_string(o.count) + " (chunk halves " +
                   std::to_string(o.loc_before[0]) + "," + std::to_string(o.loc_before[1]) + ")" +
                   (o.note > 0   ? ", moved VMA by VMA: " + std::to_string(o.note) + " pieces"
                    : o.note < 0 ? ", failed: " + errno_name(-o.note)
                                 : "");
        }
    }
    return out;
}

bool ThpWorkload::verify_page_at(Region &r, std::size_t p, const char *after) {
    const char *addr = r.page_addr(p, pg_);
    const std::uint32_t g = r.gen[p];
    if ((g & kGenGone) != 0) {
        return true;
    }
    const auto m = verify_page(addr, pg_, r.salt, p * pg_, g);
    pages_checked_.fetch_add(1, std::memory_order_relaxed);
    if (!m) {
        if ((g & kGenMaybeZero) != 0) {
            write_page(r, p, next_gen(g)); // known contents again
        }
        return true;
    }
    bad_bytes_ += m->bad_bytes;
    std::string msg = "mismatch after " + std::string(after) + " in " + r.label + " page " +
                      std::to_string(p) + " at " +
                      hex(reinterpret_cast<std::uintptr_t>(addr) + m->offset) + ": expected " +
                      hex(m->expected) + ", found " + hex(m->found) + " (generation " +
                      std::to_string(g & kGenMask) + ", " + std::to_string(m->bad_bytes) +
                      " bad bytes in the page";
    if (m->found_other_gen) {
        msg += ", page holds generation " + std::to_string(m->other_gen) + ": stale data";
    } else if (m->found == 0) {
        msg += ", zeros: lost data";
    }
    msg += ")";
    if (corruption_.count() == 0) {
        msg += describe_context(r);
    }
    corruption_.add(std::move(msg));
    write_page(r, p, next_gen(g)); // resynchronise, report each corruption once
    return false;
}

void ThpWorkload::unexpected(const std::string &what, int err) {
    failures_.add(what + ": " + errno_text(err));
}

// Counts err as an expected failure of an mmap() with these flags (see is_expected_mmap_errno()).
bool ThpWorkload::expected_mmap_failure(int err, int flags) {
    if (expected_.count(err)) {
        return true;
    }
    if (err == ENOSPC && fault_injection_ && is_expected_mmap_errno(err, flags)) {
        ++enospc_injected_;
        return true;
    }
    return false;
}

// Pages [first, first + n) of r could not be made accessible again: the run stops, and nothing
// touches them any more (the final check included), so a hole stays a reported failure and
// never becomes a SIGSEGV.
void ThpWorkload::give_up(Region &r, std::size_t first, std::size_t n, const std::string &why) {
    for (std::size_t p = first; p < first + n; ++p) {
        r.gen[p] |= kGenGone;
    }
    failures_.add(why + " at " + hex(reinterpret_cast<std::uintptr_t>(r.page_addr(first, pg_))) +
                  " in " + r.label + " (pages " + std::to_string(first) + "+" + std::to_string(n) +
                  "): stopping the run");
    stop_requested() = true;
}

// Maps pages [first, first + n) of r (within one PMD chunk), just unmapped, again.
bool ThpWorkload::remap_hole(Region &r, std::size_t first, std::size_t n) {
    char *addr = r.page_addr(first, pg_);
    const std::size_t len = n * pg_;
    for (int i = 0; i < kRestoreTries; ++i) {
        void *p = ::mmap(addr, len, PROT_READ | PROT_WRITE, r.map_flags() | MAP_FIXED, -1, 0);
        if (p != MAP_FAILED) {
            if (::madvise(addr, len, MADV_HUGEPAGE) != 0 && !expected_.count(errno)) {
                unexpected("madvise(MADV_HUGEPAGE) after re-map", errno);
            }
            return true;
        }
        const int err = errno;
        if (!expected_mmap_failure(err, r.map_flags())) {
            unexpected("mmap(MAP_FIXED) re-map of a hole in " + r.label, err);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    give_up(r, first, n, "could not re-map the hole");
    return false;
}

// Makes pages [first, first + n) of r (within one PMD chunk) readable and writable again.
bool ThpWorkload::restore_rw(Region &r, std::size_t first, std::size_t n) {
    char *addr = r.page_addr(first, pg_);
    for (int i = 0; i < kRestoreTries; ++i) {
        if (::mprotect(addr, n * pg_, PROT_READ | PROT_WRITE) == 0) {
            return true;
        }
        const int err = errno;
        if (!expected_.count(err)) {
            unexpected("mprotect(PROT_READ|PROT_WRITE) restore", err);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    give_up(r, first, n, "could not make the pages writable again");
    return false;
}

void ThpWorkload::initial_fault_in() {
    // Even chunks are faulted in by a write (a PMD huge page), odd ones by a read (the huge
    // zero page); the other pages of each chunk are zeros either way.
    for (auto &r : regions_) {
        for (std::size_t c = 0; c < r->npmds; ++c) {
            const std::size_t p = c * r->pages_per_pmd;
            if (c % 2 == 0) {
                write_page(*r, p, 1);
            } else {
                verify_page_at(*r, p, "fault-in by read");
            }
        }
    }
}

// ---------------------------------------------------------------- operations

Region &ThpWorkload::pick_region(Rng &rng, unsigned t) {
    // Own private region: weight 4; shared: 3; shmem: 2.
    std::array<Region *, 8> cand{};
    std::array<unsigned, 8> weight{};
    std::size_t n = 0;
    unsigned total = 0;
    for (auto &r : regions_) {
        if (n == cand.size()) {
            break;
        }
        unsigned w = 0;
        if (r->owner == static_cast<int>(t)) {
            w = 4;
        } else if (r->owner < 0 && r->npages / kSlicePages > t) {
            w = r->kind == Kind::Shmem ? 2 : 3;
        }
        if (w != 0) {
            cand[n] = r.get();
            weight[n++] = w;
            total += w;
        }
    }
    std::uint64_t x = rng.below(total);
    for (std::size_t i = 0; i < n; ++i) {
        if (x < weight[i]) {
            return *cand[i];
        }
        x -= weight[i];
    }
    return *cand[0];
}

ThpWorkload::Range ThpWorkload::pick_range(Rng &rng, const Region &r, unsigned t) const {
    const bool big = pmd_ >= (32ULL << 20);
    if (r.owner >= 0) {
        if (rng.chance(1, big ? 24 : 5)) {
            // Whole PMD huge pages.
            const std::size_t c = rng.below(r.npmds);
            const std::size_t k = (c + 1 < r.npmds && rng.chance(1, 3)) ? 2 : 1;
            return {c * r.pages_per_pmd, k * r.pages_per_pmd};
        }
        const std::size_t maxn = std::min<std::size_t>(r.npages, 4 * kSlicePages);
        // Biased to short ranges: 1..2^k pages.
        const std::size_t lim = std::size_t{1} << rng.below(7);
        const std::size_t n = 1 + rng.below(std::min(maxn, lim));
        return {rng.below(r.npages - n + 1), n};
    }
    const std::size_t slices = r.npages / kSlicePages;
    const std::size_t own = (slices - t + nthreads_ - 1) / nthreads_;
    const std::size_t s = t + nthreads_ * rng.below(own);
    if (rng.chance(1, 2)) {
        return {s * kSlicePages, kSlicePages};
    }
    const std::size_t n = 1 + rng.below(kSlicePages);
    return {s * kSlicePages + rng.below(kSlicePages - n + 1), n};
}

template <typename Fn> void ThpWorkload::for_each_piece(const Region &r, Range rg, Fn fn) const {
    std::size_t p = rg.first;
    const std::size_t end = rg.first + rg.count;
    while (p < end) {
        const std::size_t chunk_end = (p / r.pages_per_pmd + 1) * r.pages_per_pmd;
        const std::size_t n = std::min(end, chunk_end) - p;
        fn(r.page_addr(p, pg_), p, n);
        p += n;
    }
}

void ThpWorkload::op_write(Region &r, Range rg, bool check) {
    for (std::size_t p = rg.first; p < rg.first + rg.count; ++p) {
        write_page(r, p, next_gen(r.gen[p]));
    }
    if (check) {
        op_read(r, rg, "write");
    }
}

void ThpWorkload::op_read(Region &r, Range rg, const char *after) {
    for (std::size_t p = rg.first; p < rg.first + rg.count; ++p) {
        verify_page_at(r, p, after);
    }
}

void ThpWorkload::op_dontneed(Region &r, Range rg) {
    for_each_piece(r, rg, [&](char *addr, std::size_t first, std::size_t n) {
        const bool ok = ::madvise(addr, n * pg_, MADV_DONTNEED) == 0;
        const int err = errno;
        if (!ok && !expected_.count(err)) {
            unexpected("madvise(MADV_DONTNEED) " + r.label, err);
        }
        if (r.kind == Kind::Shmem) {
            return; // the page cache keeps shmem contents
        }
        for (std::size_t p = first; p < first + n; ++p) {
            r.gen[p] = ok ? 0 : (r.gen[p] | kGenMaybeZero);
        }
    });
    op_read(r, rg, "MADV_DONTNEED");
}

void ThpWorkload::op_munmap(Region &r, Range rg) {
    for_each_piece(r, rg, [&](char *addr, std::size_t first, std::size_t n) {
        if (::munmap(addr, n * pg_) != 0) {
            const int err = errno;
            if (!expected_.count(err)) {
                unexpected("munmap " + r.label, err);
            }
            return;
        }
        for (std::size_t p = first; p < first + n; ++p) {
            r.gen[p] = 0;
        }
        remap_hole(r, first, n);
    });
    if (!stop_requested()) {
        op_read(r, rg, "munmap + re-map");
    }
}

void ThpWorkload::op_mprotect(Region &r, Range rg, Rng &rng) {
    const int prot = rng.chance(1, 4) ? PROT_NONE : PROT_READ;
    bool any = false;
    for_each_piece(r, rg, [&](char *addr, std::size_t, std::size_t n) {
        if (::mprotect(addr, n * pg_, prot) == 0) {
            any = true;
        } else if (!expected_.count(errno)) {
            unexpected("mprotect " + r.label, errno);
        }
    });
    if (any && prot == PROT_READ) {
        op_read(r, rg, "mprotect(PROT_READ)");
    }
    for_each_piece(r, rg,
                   [&](char *, std::size_t first, std::size_t n) { restore_rw(r, first, n); });
}

// The VMAs of this process that intersect [lo, hi), clipped to it, from /proc/self/maps.
std::vector<std::pair<std::uintptr_t, std::uintptr_t>> vma_pieces(std::uintptr_t lo,
                                                                  std::uintptr_t hi, int *err) {
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> out;
    const auto text = read_file_patiently("/proc/self/maps", err);
    if (!text) {
        return out;
    }
    for (const auto &e : parse_smaps(*text)) {
        if (e.end > lo && e.start < hi) {
            out.emplace_back(std::max<std::uintptr_t>(e.start, lo),
                             std::min<std::uintptr_t>(e.end, hi));
        }
    }
    return out;
}

int move_range(char *from, char *to, std::size_t len) {
    // MREMAP_DONTUNMAP leaves the source mapped (empty), so no other thread's mmap() can land
    // in the hole before it is reserved again.
    if (::mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to) ==
        MAP_FAILED) {
        return errno;
    }
    return 0;
}

// After a failed mremap(MREMAP_FIXED) the destination may have been unmapped already (Linux
// unmaps it before it checks the source): reserve what is free in [addr, addr + len) again.
void ThpWorkload::reserve_gaps(char *addr, std::size_t len) {
    const auto lo = reinterpret_cast<std::uintptr_t>(addr);
    const auto hi = lo + len;
    int err = 0;
    auto taken = vma_pieces(lo, hi, &err);
    if (err != 0) {
        if (!expected_.count(err)) {
            failures_.add("mremap: read /proc/self/maps: " + errno_text(err));
        }
        return;
    }
    taken.emplace_back(hi, hi);
    std::uintptr_t at = lo;
    for (const auto &[a, b] : taken) {
        if (a > at &&
            ::mmap(reinterpret_cast<void *>(at), a - at, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1,
                   0) == MAP_FAILED &&
            !expected_.count(errno)) {
            unexpected("mmap(PROT_NONE) to reserve a gap again", errno);
        }
        at = std::max(at, b);
    }
}

void ThpWorkload::op_mremap(Region &r, Rng &rng) {
    const std::size_t c0 = rng.below(r.npmds);
    const std::uint8_t side = r.loc[c0];
    std::size_t k = 1;
    while (c0 + k < r.npmds && r.loc[c0 + k] == side && k < 4 && rng.chance(1, 2)) {
        ++k;
    }
    char *src = r.half[side] + c0 * pmd_;
    char *dst = r.half[1 - side] + c0 * pmd_;
    const std::size_t len = k * pmd_;
    OpRecord *rec = t_history != nullptr ? &t_history->last() : nullptr;
    if (rec != nullptr) {
        rec->first = c0 * r.pages_per_pmd;
        rec->count = k * r.pages_per_pmd;
    }
    // mremap() moves one VMA at a time; the range may hold several (a re-mapped hole has a
    // pgoff of its own and cannot merge with its neighbours).
    int map_err = 0;
    const auto pieces = vma_pieces(reinterpret_cast<std::uintptr_t>(src),
                                   reinterpret_cast<std::uintptr_t>(src + len), &map_err);
    std::size_t covered = 0;
    for (const auto &[a, b] : pieces) {
        covered += b - a;
    }
    if (covered != len && map_err != 0 && expected_.count(map_err)) {
        return; // /proc/self/maps unreadable under fault injection: no move this time
    }
    if (covered != len) {
        failures_.add("mremap " + r.label + ": /proc/self/maps shows " + std::to_string(covered) +
                      " of " + std::to_string(len) + " bytes mapped at " +
                      hex(reinterpret_cast<std::uintptr_t>(src)) +
                      (map_err != 0 ? " (" + errno_text(map_err) + ")" : ""));
        return;
    }
    if (pieces.size() > 1) {
        ++mremap_split_;
        if (rec != nullptr) {
            rec->note = static_cast<int>(pieces.size());
        }
    }
    std::size_t moved = 0;
    int err = 0;
    for (const auto &[a, b] : pieces) {
        char *from = reinterpret_cast<char *>(a);
        err = move_range(from, dst + (from - src), b - a);
        if (err != 0) {
            reserve_gaps(dst + (from - src), b - a);
            break;
        }
        ++moved;
    }
    // A piece failed (fault injection): put the moved ones back, whatever it takes.
    for (std::size_t i = 0; err != 0 && i < moved; ++i) {
        char *from = reinterpret_cast<char *>(pieces[i].first);
        const std::size_t n = pieces[i].second - pieces[i].first;
        int back = 0;
        for (int tries = 0; tries < kRestoreTries; ++tries) {
            back = move_range(dst + (from - src), from, n);
            if (back == 0 || !expected_.count(back)) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (back != 0) {
            // Where the pages are now is unknown: leave the chunks alone from here on.
            give_up(r, c0 * r.pages_per_pmd, k * r.pages_per_pmd,
                    "mremap: could not move a piece back (" + errno_text(back) + ")");
            return;
        }
        reserve_gaps(dst + (from - src), n);
    }
    if (err != 0) {
        if (rec != nullptr) {
            rec->note = -err;
        }
        if (err == EINVAL && pieces.size() == 1) {
            mremap_supported_ = false;
        } else if (!expected_.count(err)) {
            unexpected("mremap " + r.label, err);
        }
        return;
    }
    for (std::size_t c = c0; c < c0 + k; ++c) {
        r.loc[c] = static_cast<std::uint8_t>(1 - side);
    }
    ++mremap_moves_;
    if (::mmap(src, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
               0) == MAP_FAILED &&
        !expected_.count(errno)) {
        unexpected("mmap(PROT_NONE) over the mremap source", errno);
    }
    // The moved chunks: their first and last pages and one in between.
    for (std::size_t c = c0; c < c0 + k; ++c) {
        const std::size_t first = c * r.pages_per_pmd;
        verify_page_at(r, first, "mremap");
        verify_page_at(r, first + r.pages_per_pmd - 1, "mremap");
        verify_page_at(r, first + rng.below(r.pages_per_pmd), "mremap");
    }
}

void ThpWorkload::op_collapse(Region &r, Rng &rng) {
    const std::size_t c = rng.below(r.npmds);
    if (::madvise(r.chunk_addr(c), pmd_, MADV_COLLAPSE) == 0) {
        ++collapse_ok_;
    } else {
        const int err = errno;
        if (err == EINVAL) {
            ++collapse_einval_; // not collapsible now (VMA split, page pinned, ...)
        } else if (err == EBUSY) {
            ++collapse_busy_;
        } else if (!expected_.count(err)) {
            unexpected("madvise(MADV_COLLAPSE) " + r.label, err);
        }
    }
}

void ThpWorkload::op_verify_chunk(Region &r, Rng &rng, unsigned t) {
    const std::size_t c = rng.below(r.npmds);
    const std::size_t window = std::min<std::size_t>(r.pages_per_pmd, 256);
    const std::size_t first = c * r.pages_per_pmd + rng.below(r.pages_per_pmd - window + 1);
    for (std::size_t p = first; p < first + window; ++p) {
        if (r.page_owner(p, nthreads_) == static_cast<int>(t)) {
            verify_page_at(r, p, "verify");
        }
    }
}

// fork: the child checks its copy of the range (the old generation), lets the parent write
// the next one, checks again (private: still the old one, COW; shmem: the new one, shared),
// and (private) writes its own generation and checks it. The parent checks that the child's
// writes did not reach it. The child only calls async-signal-safe code.
[[noreturn]] void fork_child(const Region &r, std::size_t first, std::size_t count, std::size_t pg,
                             int to_parent, int from_parent, ForkReport *rep) {
    auto check = [&](int stage, bool next, bool child_gen) {
        for (std::size_t p = first; p < first + count; ++p) {
            std::uint32_t g = r.gen[p];
            if ((g & kGenGone) != 0) {
                continue;
            }
            if (next) {
                g = next_gen(g);
            }
            if (child_gen) {
                g = (g & kGenMask) | 0x20000000U;
            }
            const auto m = verify_page(r.page_addr(p, pg), pg, r.salt, p * pg, g);
            if (m) {
                rep->stage = stage;
                rep->page = p;
                rep->offset = m->offset;
                rep->expected = m->expected;
                rep->found = m->found;
                rep->bad_bytes = m->bad_bytes;
                ::_exit(10 + stage);
            }
        }
    };
    t_phase = "fork child";
    check(1, false, false);
    char b = 'c';
    if (::write(to_parent, &b, 1) != 1 || ::read(from_parent, &b, 1) != 1) {
        ::_exit(20);
    }
    if (r.kind == Kind::Shmem) {
        check(2, true, false);
        ::_exit(0);
    }
    check(2, false, false);
    for (std::size_t p = first; p < first + count; ++p) {
        if ((r.gen[p] & kGenGone) == 0) {
            fill_page(r.page_addr(p, pg), pg, r.salt, p * pg, (r.gen[p] & kGenMask) | 0x20000000U);
        }
    }
    check(3, false, true);
    ::_exit(0);
}

void ThpWorkload::op_fork(Region &r, Range rg, unsigned t) {
    for (std::size_t p = rg.first; p < rg.first + rg.count; ++p) {
        if ((r.gen[p] & kGenMask) == 0 || (r.gen[p] & kGenMaybeZero) != 0) {
            write_page(r, p, next_gen(r.gen[p]));
        }
    }
    int c2p[2];
    int p2c[2];
    // pipe2() fails with ENFILE when get_pipe_inode() cannot allocate: an ENOMEM in disguise
    // when fault injection is on.
    auto pipe_failed = [this](int err) {
        if (err == ENFILE && fault_injection_) {
            ++enfile_injected_;
        } else if (!expected_.count(err)) {
            unexpected("pipe2", err);
        }
    };
    if (::pipe2(c2p, O_CLOEXEC) != 0) {
        pipe_failed(errno);
        return;
    }
    Fd c2p_r(c2p[0]);
    Fd c2p_w(c2p[1]);
    if (::pipe2(p2c, O_CLOEXEC) != 0) {
        pipe_failed(errno);
        return;
    }
    Fd p2c_r(p2c[0]);
    Fd p2c_w(p2c[1]);
    auto *rep = static_cast<ForkReport *>(fork_reports_[t].get());
    std::memset(rep, 0, sizeof *rep);
    const pid_t pid = ::fork();
    if (pid < 0) {
        if (!expected_.count(errno)) {
            unexpected("fork", errno);
        }
        return;
    }
    if (pid == 0) {
        fork_child(r, rg.first, rg.count, pg_, c2p_w.get(), p2c_r.get(), rep);
    }
    c2p_w.reset();
    p2c_r.reset();
    ++forks_;
    const std::string where =
        r.label + " pages " + std::to_string(rg.first) + "+" + std::to_string(rg.count);
    pollfd pfd{c2p_r.get(), POLLIN, 0};
    char b = 0;
    const bool child_ready = ::poll(&pfd, 1, 120000) == 1 && ::read(c2p_r.get(), &b, 1) == 1;
    if (child_ready) {
        op_write(r, rg, true); // COW break in the parent
    }
    if (!child_ready || ::write(p2c_w.get(), &b, 1) != 1) {
        ::kill(pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ++fork_child_checks_;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string msg = "fork child on " + where + ": ";
        if (WIFSIGNALED(status)) {
            msg += "killed by signal " + std::to_string(WTERMSIG(status));
            if (!child_ready) {
                msg += " (did not answer within 120 s)";
            }
        } else if (rep->stage != 0) {
            const char *const stages[] = {"", "its copy before the parent wrote",
                                          r.kind == Kind::Shmem ? "the parent's write (shared)"
                                                                : "its copy after the "
                                                                  "parent wrote (COW)",
                                          "its own write"};
            msg += "mismatch in " + std::string(stages[rep->stage]) + ": page " +
                   std::to_string(rep->page) + " +" + hex(rep->offset) + " expected " +
                   hex(rep->expected) + ", found " + hex(rep->found) + " (" +
                   std::to_string(rep->bad_bytes) + " bad bytes)";
            bad_bytes_ += rep->bad_bytes;
            corruption_.add(msg);
            return;
        } else {
            msg += "exit status " + std::to_string(WEXITSTATUS(status));
        }
        failures_.add(msg);
        return;
    }
    if (r.kind == Kind::Private) {
        op_read(r, rg, "the fork child's writes (COW)");
    }
}

// ---------------------------------------------------------------- threads

void ThpWorkload::worker(unsigned t, const WorkloadContext &ctx) {
    Rng rng(derive_seed(ctx.seed, "thp", t));
    unsigned total_weight = 0;
    for (const unsigned w : kOpWeights) {
        total_weight += w;
    }
    History history;
    t_history = &history;
    t_phase = "worker";
    std::uint64_t done = 0;
    while (!ctx.should_stop(done)) {
        Region &r = pick_region(rng, t);
        std::uint64_t x = rng.below(total_weight);
        unsigned op = 0;
        while (x >= kOpWeights[op]) {
            x -= kOpWeights[op++];
        }
        if ((op == OpMremap && (r.owner != static_cast<int>(t) || !mremap_supported_)) ||
            (op == OpCollapse && !collapse_supported_)) {
            op = OpWrite;
        }
        const Range rg = pick_range(rng, r, t);
        history.add(
            {op, &r, rg.first, rg.count, {r.loc[0], r.loc[std::min<std::size_t>(1, r.npmds - 1)]}});
        switch (op) {
        case OpWrite:
            op_write(r, rg, rng.chance(1, 2));
            break;
        case OpRead:
            op_read(r, rg, "read");
            break;
        case OpDontneed:
            op_dontneed(r, rg);
            break;
        case OpMunmap:
            op_munmap(r, rg);
            break;
        case OpMprotect:
            op_mprotect(r, rg, rng);
            break;
        case OpMremap:
            op_mremap(r, rng);
            break;
        case OpFork:
            op_fork(r, rg, t);
            break;
        case OpCollapse:
            op_collapse(r, rng);
            break;
        default:
            op_verify_chunk(r, rng, t);
            break;
        }
        op_counts_[op].fetch_add(1, std::memory_order_relaxed);
        ++done;
    }
}

void ThpWorkload::sample_smaps(bool record_problems) {
    int err = 0;
    const auto text = try_read_file("/proc/self/smaps", &err);
    if (!text) {
        if (is_injected_procfs_enoent(err, "/proc/self/smaps")) {
            ++enoent_injected_;
        } else if (!expected_.count(err)) {
            smaps_problems_.add("read /proc/self/smaps: " + errno_text(err));
        }
        return;
    }
    try {
        const auto entries = parse_smaps(*text);
        std::uint64_t ahp = 0;
        std::uint64_t shp = 0;
        for (const auto &r : regions_) {
            const auto lo = reinterpret_cast<std::uintptr_t>(r->reservation.get());
            const auto hi = lo + r->reservation.size();
            ahp += smaps_sum(entries, "AnonHugePages", lo, hi);
            shp += smaps_sum(entries, "ShmemPmdMapped", lo, hi);
            if (!record_problems) {
                continue;
            }
            for (const auto &e : entries) {
                if (e.end > lo && e.start < hi) {
                    const std::string problem = smaps_entry_problem(e, pmd_ >> 10);
                    if (!problem.empty()) {
                        smaps_problems_.add(problem);
                    }
                }
            }
        }
        atomic_max(max_anon_huge_kb_, ahp);
        atomic_max(max_shmem_pmd_kb_, shp);
    } catch (const std::exception &e) {
        smaps_problems_.add(e.what());
    }
    ++smaps_reads_;
    const auto mi = try_read_file("/proc/meminfo");
    if (mi) {
        const auto m = parse_meminfo(*mi);
        const auto it = m.find("AnonHugePages");
        if (it != m.end()) {
            atomic_max(max_meminfo_ahp_kb_, it->second);
        }
    }
}

void ThpWorkload::smaps_reader(unsigned idx) {
    while (!workers_done_.load()) {
        try {
            sample_smaps(true);
        } catch (const std::bad_alloc &) {
            expected_.count(ENOMEM);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + 3 * idx));
    }
}

void ThpWorkload::final_verify() {
    for (auto &r : regions_) {
        for (std::size_t p = 0; p < r->npages; ++p) {
            verify_page_at(*r, p, "the run (final check)");
        }
    }
}

// SIGSEGV and SIGBUS in the arena become reports (on_arena_fault), not a dead tool.
void ThpWorkload::install_fault_handlers() {
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_arena_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigaction(SIGSEGV, &sa, &g_prev_segv);
    ::sigaction(SIGBUS, &sa, &g_prev_bus);
}

// Settings for the run, restored at the end: khugepaged scans often, shmem THPs are allowed.
void ThpWorkload::tune_for_the_run() {
    std::string err;
    if (set_patiently(scan_sleep_, scan_sleep_path(), "100", &err)) {
        setting_notes_.push_back("khugepaged scan_sleep_millisecs " + scan_sleep_.old_value() +
                                 " -> 100");
    } else {
        setting_notes_.push_back("khugepaged scan_sleep_millisecs unchanged: " + err);
    }
    const auto shmem_mode = read_file_patiently(shmem_enabled_path());
    if (shmem_mode) {
        const std::string m = sysfs_choice(*shmem_mode);
        if (m == "never" || m == "deny") {
            if (set_patiently(shmem_enabled_, shmem_enabled_path(), "advise", &err)) {
                setting_notes_.push_back("shmem_enabled " + m + " -> advise");
            } else {
                setting_notes_.push_back("shmem_enabled stays " + m + ": " + err);
            }
        }
    }
}

bool ThpWorkload::restore_settings(std::string *err) {
    return restore_patiently(scan_sleep_, scan_sleep_path(), err) &&
           restore_patiently(shmem_enabled_, shmem_enabled_path(), err);
}

// Every region mapped (retrying what fault injection makes fail), the fork report pages,
// the arena bounds for the fault handler, and every page written once. False (with the
// reason on setup) when that fails.
bool ThpWorkload::map_and_fault_in(TestNode &setup) {
    std::string layout;
    try {
        place_arena();
        for (auto &r : regions_) {
            // Setup retries what fault injection makes fail, like every other operation.
            for (int tries = 0;; ++tries) {
                try {
                    map_region(*r);
                    break;
                } catch (const SysError &e) {
                    if (tries >= 2000 || !expected_mmap_failure(e.err(), r->map_flags())) {
                        throw;
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            }
            layout += (layout.empty() ? "" : ", ") + r->label + " " +
                      std::to_string(r->size >> 20) + " MiB at " +
                      hex(reinterpret_cast<std::uintptr_t>(r->half[0])) +
                      (r->high ? " (above 2^48)" : "");
        }
        fork_reports_.clear();
        for (unsigned t = 0; t < nthreads_; ++t) {
            void *p = mmap_anonymous(pg_, PROT_READ | PROT_WRITE, MAP_SHARED);
            if (p == MAP_FAILED) {
                throw SysError("mmap fork report page", errno);
            }
            fork_reports_.emplace_back(p, pg_);
        }
        g_arena_lo = ~std::uintptr_t{0};
        for (const auto &r : regions_) {
            const auto lo = reinterpret_cast<std::uintptr_t>(r->reservation.get());
            g_arena_lo = std::min(g_arena_lo, lo);
            g_arena_hi = std::max(g_arena_hi, lo + r->reservation.size());
        }
        t_phase = "initial fault-in";
        initial_fault_in();
    } catch (const SysError &e) {
        setup.result = Result::Fail;
        setup.diag(e.what());
        return false;
    }
    setup.diag("regions: " + layout);
    return true;
}

// The workers and two smaps readers, until the workers are done; the seconds they ran.
double ThpWorkload::run_threads(const WorkloadContext &ctx) {
    const auto t0 = Clock::now();
    std::vector<std::thread> readers;
    std::vector<std::thread> workers;
    JoinGuard join_readers(readers);
    JoinGuard join_workers(workers);
    for (unsigned i = 0; i < 2; ++i) {
        spawn_thread(
            readers,
            [this, i] { guarded(expected_, failures_, "smaps reader", [&] { smaps_reader(i); }); },
            &expected_);
    }
    for (unsigned t = 0; t < nthreads_; ++t) {
        spawn_thread(
            workers,
            [this, t, &ctx] {
                guarded(expected_, failures_, "thp worker", [&] { worker(t, ctx); });
            },
            &expected_);
    }
    join_workers.join();
    const double elapsed = seconds_since(t0);
    workers_done_ = true;
    join_readers.join();
    return elapsed;
}

// Unmaps every region; the bytes they mapped.
std::uint64_t ThpWorkload::unmap_all() {
    std::uint64_t bytes_mapped = 0;
    for (auto &r : regions_) {
        bytes_mapped += r->size;
        r->reservation.reset();
    }
    fork_reports_.clear();
    return bytes_mapped;
}

// Every operation counted; a run with none, or with an unexpected error, fails.
void ThpWorkload::report_operations(TestNode &node, double elapsed) {
    const std::uint64_t ops = total_ops();
    const double rate = ops_per_second(elapsed);
    std::string per_op;
    for (unsigned i = 0; i < OpCount; ++i) {
        per_op += per_op.empty() ? "" : " ";
        per_op += kOpNames[i];
        per_op += '=';
        per_op += std::to_string(op_counts_[i].load());
    }
    TestNode &opsn = node.check("operations", ops > 0 && failures_.count() == 0);
    opsn.diag("ops=" + std::to_string(ops) + " in " + fmt_double(elapsed, 1) +
              " s: ops/s=" + fmt_double(rate, 1) + " (" + std::to_string(nthreads_) + " threads)");
    opsn.diag(per_op);
    opsn.diag("expected failures (counted, not errors): " + expected_.summary());
    if (!mremap_supported_) {
        opsn.diag("mremap(MREMAP_DONTUNMAP) not supported: no mremap operations");
    }
    if (enfile_injected_ != 0) {
        opsn.diag("pipe2() failed with ENFILE under fault injection " +
                  std::to_string(enfile_injected_.load()) +
                  " times (Linux 6.1 create_pipe_files() reports a failed inode allocation so)");
    }
    if (enoent_injected_ != 0) {
        opsn.diag("open(/proc/self/smaps) failed with ENOENT under fault injection " +
                  std::to_string(enoent_injected_.load()) +
                  " times (Linux 6.1 proc_pident_instantiate() reports a failed inode "
                  "allocation so)");
    }
    if (enospc_injected_ != 0) {
        opsn.diag("mmap(MAP_SHARED|MAP_ANONYMOUS) failed with ENOSPC under fault injection " +
                  std::to_string(enospc_injected_.load()) +
                  " times (Linux 6.1 __shmem_file_setup() reports a failed shmem_get_inode() so)");
    }
    for (const auto &m : failures_.messages()) {
        opsn.diag(m);
    }
    if (failures_.count() > failures_.messages().size()) {
        opsn.diag("... " + std::to_string(failures_.count()) + " failures in all");
    }
}

// No page may lose or change a byte.
void ThpWorkload::report_integrity(TestNode &node) {
    TestNode &integ = node.check("pattern_integrity", corruption_.count() == 0);
    integ.diag("pages checked=" + std::to_string(pages_checked_.load()) + " (" +
               std::to_string(pages_checked_.load() * pg_ >> 20) +
               " MiB), lost or corrupted bytes=" + std::to_string(bad_bytes_.load()) +
               ", mismatching pages=" + std::to_string(corruption_.count()));
    for (const auto &m : corruption_.messages()) {
        integ.diag(m);
    }
}

// A run that never got a PMD huge page tested nothing the series changes: it fails.
void ThpWorkload::report_huge_pages(TestNode &node, std::uint64_t bytes_mapped) {
    const std::uint64_t huge = max_anon_huge_kb_ + max_shmem_pmd_kb_;
    TestNode &hp = node.check("huge_pages", huge > 0 || max_meminfo_ahp_kb_ > 0);
    hp.diag("AnonHugePages max=" + std::to_string(max_anon_huge_kb_.load()) +
            " kB, ShmemPmdMapped max=" + std::to_string(max_shmem_pmd_kb_.load()) +
            " kB in the regions (" + std::to_string(bytes_mapped >> 10) +
            " kB mapped); /proc/meminfo AnonHugePages max=" +
            std::to_string(max_meminfo_ahp_kb_.load()) + " kB");
    if (huge == 0 && max_meminfo_ahp_kb_ == 0) {
        hp.diag("no PMD huge page was ever mapped");
    }
    const bool have_shmem = std::any_of(regions_.begin(), regions_.end(),
                                        [](const auto &r) { return r->kind == Kind::Shmem; });
    if (have_shmem && max_shmem_pmd_kb_ == 0) {
        hp.diag("note: the shmem region never got a PMD mapping (Linux 6.1 maps shmem THPs only "
                "when MAX_PAGECACHE_ORDER >= HPAGE_PMD_ORDER; CONFIG_BASE_SMALL=1, as in "
                "tinyconfig, makes it 7)");
    }
}

// fork+COW, MADV_COLLAPSE and khugepaged: a SKIP with its reason when they did not happen.
void ThpWorkload::report_features(TestNode &node, std::uint64_t khp) {
    if (forks_ == 0) {
        node.skip("fork_cow", "no fork completed");
    } else {
        node.check("fork_cow", true,
                   std::to_string(forks_.load()) +
                       " forks, child checks=" + std::to_string(fork_child_checks_.load()) +
                       " (mismatches are reported under pattern_integrity)");
    }
    if (!collapse_supported_) {
        node.skip("madv_collapse", "MADV_COLLAPSE not supported by this kernel (EINVAL)");
    } else {
        node.check("madv_collapse", true,
                   "collapsed=" + std::to_string(collapse_ok_.load()) +
                       " not collapsible (EINVAL)=" + std::to_string(collapse_einval_.load()) +
                       " EBUSY=" + std::to_string(collapse_busy_.load()));
    }
    if (khp == 0) {
        node.skip("khugepaged", "khugepaged collapsed no page during the run");
    } else {
        node.check("khugepaged", true, "pages_collapsed +" + std::to_string(khp));
    }
}

void ThpWorkload::report_smaps_readers(TestNode &node) {
    TestNode &sm = node.check("smaps_readers", smaps_reads_ > 0 && smaps_problems_.count() == 0,
                              std::to_string(smaps_reads_.load()) +
                                  " reads of /proc/self/smaps, inconsistencies=" +
                                  std::to_string(smaps_problems_.count()));
    for (const auto &m : smaps_problems_.messages()) {
        sm.diag(m);
    }
}

nlohmann::json ThpWorkload::metrics(double elapsed, std::uint64_t bytes_mapped,
                                    std::uint64_t khp) const {
    nlohmann::json op_json = nlohmann::json::object();
    for (unsigned i = 0; i < OpCount; ++i) {
        op_json[kOpNames[i]] = op_counts_[i].load();
    }
    return {{"ops", total_ops()},
            {"ops_per_s", ops_per_second(elapsed)},
            {"elapsed_s", elapsed},
            {"threads", nthreads_},
            {"op_counts", op_json},
            {"errors", expected_.to_json()},
            {"unexpected_errors", failures_.count()},
            {"anon_huge_kb_max", max_anon_huge_kb_.load()},
            {"shmem_pmd_kb_max", max_shmem_pmd_kb_.load()},
            {"meminfo_anon_huge_kb_max", max_meminfo_ahp_kb_.load()},
            {"pmd_size", pmd_},
            {"page_size", pg_},
            {"mapped_bytes", bytes_mapped},
            {"pages_checked", pages_checked_.load()},
            {"bad_bytes", bad_bytes_.load()},
            {"forks", forks_.load()},
            {"mremap_moves", mremap_moves_.load()},
            {"mremap_moves_by_vma", mremap_split_.load()},
            {"collapse_ok", collapse_ok_.load()},
            {"khugepaged_pages_collapsed", khp},
            {"smaps_reads", smaps_reads_.load()}};
}

TestNode ThpWorkload::run(const WorkloadContext &ctx) {
    TestNode node("thp");
    pg_ = page_size();
    nthreads_ = ctx.threads;
    fault_injection_ = fault_injection_active();
    g_parent_pid = ::getpid();
    install_fault_handlers();
    t_phase = "setup";
    if (!probe(node)) {
        return node;
    }
    plan_regions(node, ctx);
    if (regions_.empty()) {
        node.result = Result::Skip;
        node.skip_reason = "not enough memory for one PMD huge page of " +
                           std::to_string(pmd_ >> 20) + " MiB (budget " +
                           std::to_string(budget_ >> 20) + " MiB)";
        return node;
    }
    tune_for_the_run();
    const std::uint64_t khp_before = read_u64_file(kThpDir + "/khugepaged/pages_collapsed");

    TestNode &setup = node.check("setup", true);
    setup.diagnostics = std::move(node.diagnostics);
    node.diagnostics.clear();
    if (!map_and_fault_in(setup)) {
        node.settle();
        return node;
    }
    for (const auto &n : setting_notes_) {
        setup.diag(n);
    }
    sample_smaps(false);
    setup.diag("after fault-in: AnonHugePages " + std::to_string(max_anon_huge_kb_.load()) +
               " kB, ShmemPmdMapped " + std::to_string(max_shmem_pmd_kb_.load()) +
               " kB in the regions");

    const double elapsed = run_threads(ctx);
    sample_smaps(false);
    t_phase = "final check";
    final_verify();
    const std::uint64_t khp_after = read_u64_file(kThpDir + "/khugepaged/pages_collapsed");
    const std::uint64_t khp = khp_after >= khp_before ? khp_after - khp_before : 0;
    const std::uint64_t bytes_mapped = unmap_all();
    std::string restore_err;
    const bool restored = restore_settings(&restore_err);

    report_operations(node, elapsed);
    report_integrity(node);
    report_huge_pages(node, bytes_mapped);
    report_features(node, khp);
    report_smaps_readers(node);
    node.check("settings_restored", restored, restored ? "" : restore_err);
    node.metrics = metrics(elapsed, bytes_mapped, khp);
    node.settle();
    return node;
}

} // namespace

std::unique_ptr<Workload> make_thp_workload() { return std::make_unique<ThpWorkload>(); }

} // namespace ptlab
