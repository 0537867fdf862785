// ptlab-stress bench: page-fault throughput of T threads of one process (one mm), per layout:
//
//   thp-private  PMD huge pages (MADV_HUGEPAGE), each thread under a PMD table of its own (its
//                own pmd_table_span-aligned region: 1 GiB on 4K pages, 4 TiB on 64K)
//   thp-shared   PMD huge pages, every thread under the same PMD table (PMDs dealt out round
//                robin)
//   pte-private  base pages (MADV_NOHUGEPAGE), each thread under PTE (and PMD) tables of its own
//   pte-shared   base pages, every thread under the same PTE tables (16-page chunks round robin)
//
// A THP fault installs its PMD under pmd_lock(): the mm's page_table_lock without the split
// PMD lock, the PMD table's own ptlock with it. So without the split lock both THP layouts
// serialise on one lock per mm; with it only thp-shared should. PTE faults take the PTE
// table's split lock at every step of the series: the contrast.
//
// A worker loops: fault every granule of its chunks (a write, or a read that maps the (huge)
// zero page), then MADV_DONTNEED them, chunk by chunk. A repetition runs rep_seconds (and until
// every thread did min_faults); its score is the faults of all threads over the time from the
// start signal to the last thread's last fault. Warm-up repetitions come first and are thrown
// away. Around each repetition: /proc/vmstat (THP allocations and fallbacks) and, when the
// kernel has LOCK_STAT, /proc/lock_stat (cleared first): the page_table_lock and ptlock
// classes' contentions, wait times and acquisitions.
//
// A THP cell that did not get PMD mappings measures something else and fails: write faults
// must allocate a huge page each (thp_fault_alloc), read faults must not fall back
// (thp_fault_fallback), and before and after the repetitions a probe faults the cell's first
// PMD with its access and then touches the next base page: a PMD mapping (a huge page, or the
// huge zero page for reads) takes no second fault.

#include "bench_core.hpp"
#include "guest_facts.hpp"
#include "procfs.hpp"
#include "workload.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

namespace ptlab {

namespace {

using bench::Access;
using bench::Geometry;
using bench::Layout;
using bench::LayoutName;
using bench::Level;
using bench::LockStat;
using bench::Sharing;

const std::string kThpDir = "/sys/kernel/mm/transparent_hugepage";
const char *const kLockStatPath = "/proc/lock_stat";

struct alignas(64) WorkerState {
    std::atomic<std::uint64_t> faults{0};
    Clock::time_point last_fault{};
    int error = 0;
    std::string error_what;
};

struct Families {
    LockStat page_table_lock;
    LockStat ptlock;
    LockStat mmap_lock;
    bool debug_locks_off = false;
};

std::optional<bench::LockStatFile> read_lock_stat() {
    const auto text = try_read_file(kLockStatPath);
    if (!text) {
        return std::nullopt;
    }
    return bench::parse_lock_stat(*text);
}

Families families_of(const bench::LockStatFile &f) {
    Families out;
    out.page_table_lock = bench::lock_family(f, bench::kPageTableLockClass);
    out.ptlock = bench::lock_family(f, bench::kPtlockClass);
    out.mmap_lock = bench::lock_family(f, "&mm->mmap_lock");
    out.debug_locks_off = f.debug_locks_off;
    return out;
}

std::map<std::string, std::uint64_t, std::less<>> read_vmstat() {
    const auto text = try_read_file("/proc/vmstat");
    return text ? bench::parse_vmstat(*text) : std::map<std::string, std::uint64_t, std::less<>>{};
}

std::uint64_t delta(const std::map<std::string, std::uint64_t, std::less<>> &before,
                    const std::map<std::string, std::uint64_t, std::less<>> &after,
                    const char *key) {
    const auto a = after.find(key);
    const auto b = before.find(key);
    if (a == after.end()) {
        return 0;
    }
    const std::uint64_t bv = b == before.end() ? 0 : b->second;
    return a->second >= bv ? a->second - bv : 0;
}

// Faults p (the start of a PMD-aligned, PMD-sized range of THP memory) with `access`, then
// reads the next base page: true when that took no fault (p's fault mapped the whole PMD),
// false when it did, nullopt when the fault count is unavailable. The range is discarded after.
std::optional<bool> pmd_mapped_probe(char *p, std::uint64_t pmd, std::uint64_t page,
                                     Access access) {
    auto *word = reinterpret_cast<volatile std::uint64_t *>(p);
    if (access == Access::Write) {
        *word = 1;
    } else {
        (void)*word;
    }
    rusage before{};
    rusage after{};
    const bool have_before = ::getrusage(RUSAGE_THREAD, &before) == 0;
    (void)*reinterpret_cast<volatile std::uint64_t *>(p + page);
    const bool ok = have_before && ::getrusage(RUSAGE_THREAD, &after) == 0;
    (void)retry_expected([&] { return ::madvise(p, pmd, MADV_DONTNEED); });
    if (!ok) {
        return std::nullopt;
    }
    return after.ru_minflt == before.ru_minflt;
}

void pin_to_cpu(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)::sched_setaffinity(0, sizeof set, &set);
}

struct Rep {
    std::uint64_t faults = 0;
    double seconds = 0;
    double rate = 0;
    std::vector<std::uint64_t> per_thread;
    std::uint64_t thp_fault_alloc = 0;
    std::uint64_t thp_fault_fallback = 0;
    std::uint64_t pgfault = 0;
    std::optional<Families> locks;
    std::string error;

    [[nodiscard]] nlohmann::json to_json() const {
        nlohmann::json j{{"faults", faults},
                         {"seconds", seconds},
                         {"faults_per_sec", rate},
                         {"per_thread_faults", per_thread},
                         {"vmstat",
                          {{"thp_fault_alloc", thp_fault_alloc},
                           {"thp_fault_fallback", thp_fault_fallback},
                           {"pgfault", pgfault}}}};
        if (locks) {
            j["lock_stat"] = {{"page_table_lock", locks->page_table_lock.to_json()},
                              {"ptlock", locks->ptlock.to_json()},
                              {"mmap_lock", locks->mmap_lock.to_json()}};
        }
        if (!error.empty()) {
            j["error"] = error;
        }
        return j;
    }
};

struct RepRun;

class Bench {
public:
    Bench(const BenchOptions &b, Geometry geo, unsigned cpus, bool lock_stat)
        : b_(b), geo_(geo), cpus_(cpus), lock_stat_(lock_stat) {}

    // One cell: a layout, an access mode, a thread count.
    TestNode run_cell(const Layout &layout, Access access, nlohmann::json &cell_json);

private:
    Rep run_rep(const Layout &layout, Access access, char *base);
    void fault_loop(RepRun &run, const Layout &layout, Access access, char *base, unsigned t);
    [[nodiscard]] Families lock_stat_before() const;
    [[nodiscard]] std::optional<Families> lock_stat_delta(const Families &before) const;
    void wait_rep(RepRun &run, Clock::time_point t0) const;
    void zap_all(const Layout &layout, char *base);
    bool map_cell(const Layout &layout, Mapping &res, TestNode &node) const;
    void report_thp(TestNode &node, nlohmann::json &cj, Access access, const std::vector<Rep> &reps,
                    const std::vector<std::optional<bool>> &probes) const;
    void report_lock_stat(TestNode &node, nlohmann::json &cj, const std::vector<Rep> &reps) const;

    const BenchOptions &b_;
    Geometry geo_;
    unsigned cpus_;
    bool lock_stat_;
};

void Bench::zap_all(const Layout &layout, char *base) {
    for (const auto &range : layout.used_ranges()) {
        char *start = base + range.first;
        const std::uint64_t len = range.second - range.first;
        (void)retry_expected([&] { return ::madvise(start, len, MADV_DONTNEED); });
    }
}

/// What the threads of one repetition share.
struct RepRun {
    explicit RepRun(unsigned n) : state(n) {}
    std::vector<WorkerState> state;
    std::atomic<unsigned> ready{0};
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
};

void Bench::fault_loop(RepRun &run, const Layout &layout, Access access, char *base, unsigned t) {
    pin_to_cpu(t % cpus_);
    WorkerState &me = run.state[t];
    run.ready.fetch_add(1);
    run.ready.notify_all();
    run.go.wait(false);
    const std::uint64_t per_chunk = layout.faults_per_chunk();
    std::uint64_t faults = 0;
    std::uint64_t k = 0;
    // Fault chunk after chunk; after the last one, discard them all and start over.
    while (!run.stop.load(std::memory_order_relaxed)) {
        char *chunk = base + layout.offset(t, k);
        for (std::uint64_t i = 0; i < per_chunk; ++i) {
            auto *word = reinterpret_cast<volatile std::uint64_t *>(chunk + i * layout.granule);
            if (access == Access::Write) {
                *word = faults + 1;
            } else {
                (void)*word;
            }
            ++faults;
        }
        me.faults.store(faults, std::memory_order_relaxed);
        me.last_fault = Clock::now();
        if (++k == layout.chunks_per_thread) {
            k = 0;
            for (std::uint64_t j = 0; j < layout.chunks_per_thread; ++j) {
                if (::madvise(base + layout.offset(t, j), layout.chunk, MADV_DONTNEED) != 0) {
                    me.error = errno;
                    me.error_what = "madvise(MADV_DONTNEED)";
                    run.stop.store(true);
                    break;
                }
            }
        }
    }
}

// Cleared so that min and max belong to this repetition; the delta of the counters also
// holds when clearing is not allowed.
Families Bench::lock_stat_before() const {
    if (!lock_stat_) {
        return {};
    }
    try {
        write_file(kLockStatPath, "0");
    } catch (const SysError &) {
    }
    const auto f = read_lock_stat();
    return f ? families_of(*f) : Families{};
}

std::optional<Families> Bench::lock_stat_delta(const Families &before) const {
    if (!lock_stat_) {
        return std::nullopt;
    }
    const auto f = read_lock_stat();
    if (!f) {
        return std::nullopt;
    }
    const Families after = families_of(*f);
    Families d;
    d.page_table_lock = bench::lock_delta(before.page_table_lock, after.page_table_lock);
    d.ptlock = bench::lock_delta(before.ptlock, after.ptlock);
    d.mmap_lock = bench::lock_delta(before.mmap_lock, after.mmap_lock);
    d.debug_locks_off = after.debug_locks_off;
    return d;
}

// Until rep_seconds passed and every thread faulted min_faults times; past that, slow
// faults (a 512 MiB huge page takes a while under TCG) get up to 10 times the repetition.
void Bench::wait_rep(RepRun &run, Clock::time_point t0) const {
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(b_.rep_seconds));
    const auto hard_deadline =
        t0 + std::chrono::duration_cast<Clock::duration>(
                 std::chrono::duration<double>(std::max(10 * b_.rep_seconds, 30.0)));
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const auto now = Clock::now();
        bool enough = true;
        for (const auto &s : run.state) {
            enough = enough && s.faults.load(std::memory_order_relaxed) >= b_.min_faults;
        }
        if (run.stop.load() || stop_requested().load() || now >= hard_deadline ||
            (now >= deadline && enough)) {
            return;
        }
    }
}

/// Faults of all threads over the time from the start signal to the last thread's last fault.
void tally_rep(Rep &rep, const RepRun &run, Clock::time_point t0) {
    Clock::time_point end = t0;
    for (const auto &s : run.state) {
        rep.per_thread.push_back(s.faults.load());
        rep.faults += s.faults.load();
        end = std::max(end, s.last_fault);
        if (s.error != 0 && rep.error.empty()) {
            rep.error = SysError(s.error_what, s.error).what();
        }
    }
    rep.seconds = std::chrono::duration<double>(end - t0).count();
    rep.rate = rep.seconds > 0 ? static_cast<double>(rep.faults) / rep.seconds : 0;
}

Rep Bench::run_rep(const Layout &layout, Access access, char *base) {
    Rep rep;
    const unsigned n = layout.threads;
    RepRun run(n);
    Clock::time_point t0{};
    const Families locks_before = lock_stat_before();
    const auto vm_before = read_vmstat();
    std::vector<std::thread> threads;
    {
        JoinGuard join(threads);
        for (unsigned t = 0; t < n; ++t) {
            if (!spawn_thread(
                    threads, [&, t] { fault_loop(run, layout, access, base, t); }, nullptr)) {
                run.stop.store(true);
                run.go.store(true);
                run.go.notify_all();
                rep.error = "could not start thread " + std::to_string(t);
                return rep;
            }
        }
        for (unsigned r = run.ready.load(); r < n; r = run.ready.load()) {
            run.ready.wait(r);
        }
        t0 = Clock::now();
        run.go.store(true);
        run.go.notify_all();
        wait_rep(run, t0);
        run.stop.store(true);
        join.join();
    }
    const auto vm_after = read_vmstat();
    rep.locks = lock_stat_delta(locks_before);
    tally_rep(rep, run, t0);
    rep.thp_fault_alloc = delta(vm_before, vm_after, "thp_fault_alloc");
    rep.thp_fault_fallback = delta(vm_before, vm_after, "thp_fault_fallback");
    rep.pgfault = delta(vm_before, vm_after, "pgfault");
    zap_all(layout, base);
    return rep;
}

std::string cell_name(const Layout &l, Access a) {
    return l.name.str() + "." + bench::access_name(a) + ".T" + std::to_string(l.threads);
}

// PROT_NONE and MAP_NORESERVE: address space only (4 TiB per PMD table on 64K pages); only
// the ranges the threads use become read-write (and accounted).
bool Bench::map_cell(const Layout &layout, Mapping &res, TestNode &node) const {
    try {
        res = map_aligned(layout.reservation(), geo_.pmd_table_span(), PROT_NONE,
                          MAP_PRIVATE | MAP_NORESERVE);
        for (const auto &range : layout.used_ranges()) {
            char *start = res.bytes() + range.first;
            const std::uint64_t len = range.second - range.first;
            if (retry_expected([&] { return ::mprotect(start, len, PROT_READ | PROT_WRITE); }) !=
                0) {
                throw SysError("mprotect(PROT_READ|PROT_WRITE)", errno);
            }
            const int advice = layout.name.level == Level::Pmd ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
            if (::madvise(start, len, advice) != 0) {
                throw SysError("madvise", errno);
            }
        }
    } catch (const SysError &e) {
        node.check("setup", false, e.what());
        return false;
    }
    return true;
}

// A fault that did not map a PMD measures small pages instead. Writes: each fault allocates
// a huge page (90%: a few other processes' THP faults may count too, none of this one's may
// fall back). Reads: the huge zero page, never a fallback.
void Bench::report_thp(TestNode &node, nlohmann::json &cj, Access access,
                       const std::vector<Rep> &reps,
                       const std::vector<std::optional<bool>> &probes) const {
    std::uint64_t faults = 0;
    std::uint64_t thp_alloc = 0;
    std::uint64_t thp_fallback = 0;
    for (const auto &r : reps) {
        faults += r.faults;
        thp_alloc += r.thp_fault_alloc;
        thp_fallback += r.thp_fault_fallback;
    }
    const std::string counts = "thp_fault_alloc " + std::to_string(thp_alloc) +
                               ", thp_fault_fallback " + std::to_string(thp_fallback) + " for " +
                               std::to_string(faults) + " faults";
    bool huge = faults > 0 && thp_fallback == 0;
    if (access == Access::Write) {
        huge = huge && thp_alloc * 10 >= faults * 9;
        cj["thp_share"] =
            faults > 0 ? static_cast<double>(thp_alloc) / static_cast<double>(faults) : 0.0;
    }
    node.check("huge-pages", huge, counts);
    std::string seen;
    bool mapped = true;
    for (const auto &p : probes) {
        seen += seen.empty() ? "" : ", ";
        seen += !p ? "unknown (getrusage failed)" : *p ? "PMD-mapped" : "not PMD-mapped";
        mapped = mapped && p.value_or(false);
    }
    cj["pmd_mapped"] = mapped;
    node.check("pmd-mapped", mapped,
               "probe before and after the repetitions: a " + bench::access_name(access) +
                   " fault at a PMD boundary, then the next page: " + seen);
}

void Bench::report_lock_stat(TestNode &node, nlohmann::json &cj,
                             const std::vector<Rep> &reps) const {
    std::vector<double> ptl_con;
    std::vector<double> ptl_acq;
    std::vector<double> ptlock_con;
    std::vector<double> ptlock_acq;
    bool debug_locks_off = false;
    for (const auto &r : reps) {
        if (r.locks) {
            ptl_con.push_back(static_cast<double>(r.locks->page_table_lock.contentions));
            ptl_acq.push_back(static_cast<double>(r.locks->page_table_lock.acquisitions));
            ptlock_con.push_back(static_cast<double>(r.locks->ptlock.contentions));
            ptlock_acq.push_back(static_cast<double>(r.locks->ptlock.acquisitions));
            debug_locks_off = debug_locks_off || r.locks->debug_locks_off;
        }
    }
    const auto c = bench::stats_of(ptl_con);
    const auto a = bench::stats_of(ptl_acq);
    const auto pc = bench::stats_of(ptlock_con);
    const auto pa = bench::stats_of(ptlock_acq);
    cj["lock_stat"] = {
        {"page_table_lock",
         {{"contentions", bench::to_json(c)}, {"acquisitions", bench::to_json(a)}}},
        {"ptlock", {{"contentions", bench::to_json(pc)}, {"acquisitions", bench::to_json(pa)}}}};
    node.diag("per rep (median): page_table_lock contentions " + fmt_double(c.median, 1) +
              " acquisitions " + fmt_double(a.median, 1) + "; ptlock contentions " +
              fmt_double(pc.median, 1) + " acquisitions " + fmt_double(pa.median, 1));
    node.check("lock-stat", !reps.empty() && ptl_acq.size() == reps.size() && !debug_locks_off,
               debug_locks_off ? "lock debugging disabled (a lockdep warning?)"
                               : std::to_string(ptl_acq.size()) + " of " +
                                     std::to_string(reps.size()) + " reps read");
}

nlohmann::json cell_json(const Layout &layout, Access access) {
    return {{"layout", layout.name.str()},
            {"level", layout.name.level == Level::Pmd ? "pmd" : "pte"},
            {"sharing", layout.name.sharing == Sharing::Private ? "private" : "shared"},
            {"access", bench::access_name(access)},
            {"threads", layout.threads},
            {"granule", layout.granule},
            {"chunk", layout.chunk},
            {"chunks_per_thread", layout.chunks_per_thread}};
}

/// Phases: check the layout, map it, probe its first PMD, run warm-up and measured
/// repetitions, probe again, report faults/s, huge pages and lock contention.
TestNode Bench::run_cell(const Layout &layout, Access access, nlohmann::json &cj) {
    TestNode node(cell_name(layout, access));
    cj = cell_json(layout, access);
    const std::string problem = layout.problem();
    node.check("layout", problem.empty(),
               problem.empty()
                   ? std::to_string(layout.chunks_per_thread) + " chunks of " +
                         std::to_string(layout.chunk >> 10) + " KiB per thread, " +
                         std::to_string(layout.reservation() >> 20) + " MiB of address space"
                   : problem);
    Mapping res;
    if (!problem.empty() || !map_cell(layout, res, node)) {
        node.settle();
        return node;
    }
    const bool thp = layout.name.level == Level::Pmd;
    // The cell's first PMD, faulted by this thread with the cell's access (see the top).
    std::vector<std::optional<bool>> probes;
    auto probe = [&] {
        probes.push_back(
            pmd_mapped_probe(res.bytes() + layout.offset(0, 0), geo_.pmd, geo_.page, access));
    };
    if (thp) {
        probe();
    }
    std::vector<Rep> reps;
    std::string error;
    for (unsigned i = 0; i < b_.warmup + b_.reps && error.empty(); ++i) {
        if (stop_requested().load()) {
            error = "stopped by a signal";
            break;
        }
        Rep r = run_rep(layout, access, res.bytes());
        error = r.error;
        if (i >= b_.warmup) {
            reps.push_back(std::move(r));
        }
    }
    if (thp) {
        probe();
    }
    std::vector<double> rates;
    std::uint64_t faults = 0;
    auto &jr = cj["reps"] = nlohmann::json::array();
    for (const auto &r : reps) {
        jr.push_back(r.to_json());
        rates.push_back(r.rate);
        faults += r.faults;
    }
    const auto st = bench::stats_of(rates);
    cj["faults_per_sec"] = bench::to_json(st);
    node.diag("faults/s median " + fmt_double(st.median, 1) + " min " + fmt_double(st.min, 1) +
              " max " + fmt_double(st.max, 1) + " over " + std::to_string(st.n) + " reps");
    node.check("faults", error.empty() && faults > 0,
               error.empty() ? std::to_string(faults) + " faults" : error);
    if (thp) {
        report_thp(node, cj, access, reps, probes);
    }
    if (lock_stat_) {
        report_lock_stat(node, cj, reps);
    }
    node.settle();
    return node;
}

/// What this guest offers the benchmark: geometry, CPUs, THP, lock_stat, memory.
struct BenchHost {
    Geometry geo;
    unsigned cpus = 1;
    std::string no_thp; ///< why THP cells cannot run here, empty when they can
    std::string thp_enabled;
    bool use_zero_page = false;
    bool lock_stat = false;
    std::string lock_stat_note;
    std::uint64_t avail_kb = 0;
    unsigned percent = 50;
    std::uint64_t budget = 0;
};

BenchHost probe_host(const Options &opts) {
    BenchHost h;
    const auto online = ::sysconf(_SC_NPROCESSORS_ONLN);
    h.cpus = online > 0 ? static_cast<unsigned>(online) : 1U;
    h.geo = Geometry::for_page_size(page_size());
    const std::uint64_t pmd = read_u64_file(kThpDir + "/hpage_pmd_size");
    if (pmd != 0) {
        h.geo.pmd = pmd;
    }
    const auto enabled = try_read_file(kThpDir + "/enabled");
    if (pmd == 0 || !enabled) {
        h.no_thp = "no " + kThpDir + "/hpage_pmd_size (kernel without THP)";
    } else if (sysfs_choice(*enabled) == "never") {
        h.no_thp = "THP disabled (" + kThpDir + "/enabled is never)";
    }
    h.thp_enabled = enabled ? sysfs_choice(*enabled) : "";
    const auto zero_page = try_read_file(kThpDir + "/use_zero_page");
    h.use_zero_page = zero_page && trim(*zero_page) == "1";
    if (opts.bench.lock_stat != "off") {
        const auto f = read_lock_stat();
        h.lock_stat = f && f->valid;
        h.lock_stat_note = h.lock_stat ? "on" : "no /proc/lock_stat (kernel without LOCK_STAT)";
    } else {
        h.lock_stat_note = "off (--lock-stat off)";
    }
    const auto meminfo_text = read_file_patiently("/proc/meminfo");
    const Meminfo mi = meminfo_text ? parse_meminfo(*meminfo_text) : Meminfo{};
    const auto avail_it = mi.find("MemAvailable");
    h.avail_kb = avail_it != mi.end() ? avail_it->second : 0;
    h.percent = opts.mem_percent != 0 ? opts.mem_percent : 50;
    h.budget = h.avail_kb * 1024 / 100 * h.percent;
    return h;
}

std::vector<std::string> bench_header(const BenchHost &h, const Options &opts) {
    return {"ptlab-stress " + std::string(PTLAB_STRESS_VERSION) + ": bench page=" +
                std::to_string(h.geo.page >> 10) + "kB pmd=" + std::to_string(h.geo.pmd >> 10) +
                "kB pmd_table_span=" + std::to_string(h.geo.pmd_table_span() >> 20) + "MiB cpus=" +
                std::to_string(h.cpus) + " MemAvailable=" + std::to_string(h.avail_kb >> 10) +
                "MiB budget=" + std::to_string(h.budget >> 20) + "MiB",
            "lock_stat: " + h.lock_stat_note,
            h.no_thp.empty() ? "THP: enabled " + h.thp_enabled + ", read faults map " +
                                   (h.use_zero_page ? "the huge zero page" : "a huge page")
                             : "THP: " + h.no_thp,
            "reproduce: " + opts.reproduce_command(),
            "kernel: " + timing_options(kconfig_values(running_kernel_config()))};
}

// One cell: a layout, an access, a thread count, or why it cannot run here.
struct Cell {
    LayoutName name;
    Access access;
    unsigned threads;
    std::uint64_t chunks;
    std::string skip;
};

/// The cells, in the order they run: layout, access, thread count.
std::vector<Cell> plan_cells(const BenchOptions &b, const BenchHost &h,
                             const std::vector<unsigned> &counts) {
    std::vector<LayoutName> layouts;
    if (b.layouts.empty()) {
        layouts = bench::all_layouts();
    } else {
        for (const auto &l : b.layouts) {
            layouts.push_back(*bench::parse_layout(l));
        }
    }
    std::vector<Access> accesses;
    for (const auto &a : b.access) {
        accesses.push_back(*bench::parse_access(a));
    }
    const unsigned max_threads = *std::max_element(counts.begin(), counts.end());
    std::vector<Cell> cells;
    for (const auto &l : layouts) {
        const std::uint64_t k = bench::chunks_per_thread(l, h.geo, max_threads, h.budget);
        for (const auto a : accesses) {
            for (const unsigned t : counts) {
                std::string skip;
                if (l.level == Level::Pmd && !h.no_thp.empty()) {
                    skip = h.no_thp;
                } else if (k == 0) {
                    skip = "one chunk per thread does not fit in " +
                           std::to_string(h.budget >> 20) + " MiB (" + std::to_string(h.percent) +
                           "% of MemAvailable)";
                }
                cells.push_back({l, a, t, k, skip});
            }
        }
    }
    return cells;
}

nlohmann::json bench_json(const BenchHost &h, const Options &opts,
                          const std::vector<unsigned> &counts) {
    const BenchOptions &b = opts.bench;
    nlohmann::json j;
    j["tool"] = "ptlab-stress";
    j["version"] = PTLAB_STRESS_VERSION;
    j["command"] = "bench";
    j["page_size"] = h.geo.page;
    j["pmd_size"] = h.geo.pmd;
    j["pmd_table_span"] = h.geo.pmd_table_span();
    j["cpus"] = h.cpus;
    j["mem_available_kb"] = h.avail_kb;
    j["budget_bytes"] = h.budget;
    j["lock_stat"] = h.lock_stat;
    j["thp_use_zero_page"] = h.use_zero_page;
    j["lock_classes"] = {{"page_table_lock", std::string(bench::kPageTableLockClass)},
                         {"ptlock", std::string(bench::kPtlockClass)}};
    j["reps"] = b.reps;
    j["warmup"] = b.warmup;
    j["rep_seconds"] = b.rep_seconds;
    j["min_faults"] = b.min_faults;
    j["thread_counts"] = counts;
    j["reproduce"] = opts.reproduce_command();
    j["cells"] = nlohmann::json::array();
    return j;
}

TestNode run_one_cell(Bench &bench, const Cell &c, const Geometry &geo, nlohmann::json &cells) {
    const Layout layout = bench::make_layout(c.name, geo, c.threads, c.chunks);
    if (!c.skip.empty()) {
        TestNode node(cell_name(layout, c.access));
        node.result = Result::Skip;
        node.skip_reason = c.skip;
        cells.push_back({{"layout", c.name.str()},
                         {"access", bench::access_name(c.access)},
                         {"threads", c.threads},
                         {"skip", c.skip}});
        return node;
    }
    if (stop_requested().load()) {
        TestNode node(cell_name(layout, c.access));
        node.result = Result::Fail;
        node.diag("stopped by a signal before it ran");
        return node;
    }
    nlohmann::json cj;
    TestNode node = bench.run_cell(layout, c.access, cj);
    cells.push_back(cj);
    return node;
}

} // namespace

/// Phases: probe the guest, plan the cells, announce them, run each (KTAP as it goes),
/// report JSON.
int run_bench(const Options &opts) {
    const BenchOptions &b = opts.bench;
    const BenchHost host = probe_host(opts);
    const std::vector<unsigned> counts =
        b.thread_counts.empty() ? bench::default_thread_counts(host.cpus) : b.thread_counts;
    const std::vector<Cell> cells = plan_cells(b, host, counts);
    std::ostream &out = std::cout;
    if (!opts.json) {
        out << "KTAP version 1\n";
        for (const auto &h : bench_header(host, opts)) {
            out << "# " << h << '\n';
        }
        out << "1.." << cells.size() << '\n' << std::flush;
    }
    Bench bench(b, host.geo, host.cpus, host.lock_stat);
    nlohmann::json j = bench_json(host, opts, counts);
    std::vector<TestNode> results;
    int n = 0;
    for (const auto &c : cells) {
        TestNode node = run_one_cell(bench, c, host.geo, j["cells"]);
        if (!opts.json) {
            write_ktap_test(out, node, ++n, 0);
            out << std::flush;
        } else {
            std::cerr << node.name << ": " << result_name(node.result) << '\n';
        }
        results.push_back(std::move(node));
    }
    int rc = exit_code_for(results);
    j["exit_code"] = rc;
    j["result"] = rc == kExitPass ? "pass" : rc == kExitSkip ? "skip" : "fail";
    if (opts.json) {
        out << j.dump(2) << '\n' << std::flush;
    }
    if (b.json_line) {
        // After the last repetition (each one clears the statistics first): the page-table
        // lock classes and where they were contended, as the kernel prints them.
        for (const auto &row :
             bench::lock_stat_excerpt(try_read_file("/proc/lock_stat").value_or(""))) {
            out << "# lock_stat: " << row << '\n';
        }
        out << "# PTLAB-BENCH-JSON " << j.dump() << '\n' << std::flush;
    }
    if (!b.json_file.empty()) {
        std::ofstream f(b.json_file);
        f << j.dump() << '\n';
        if (!f) {
            std::cerr << "ptlab-stress bench: cannot write " << b.json_file << '\n';
            rc = kExitFail;
        }
    }
    return rc;
}

} // namespace ptlab
