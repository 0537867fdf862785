// bench: geometry and layouts, the /proc/lock_stat and /proc/vmstat parsers, statistics.
#include "bench_core.hpp"
#include "cli.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace ptlab;
using namespace ptlab::bench;

namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kTiB = 1024 * kGiB;

const Geometry k4K = Geometry::for_page_size(4 * kKiB);
const Geometry k64K = Geometry::for_page_size(64 * kKiB);

// Two classes as Linux 6.1 prints them (LOCK_STAT, no PROVE_LOCKING), with a contention
// point block, a second ptlock class from another compilation unit, and a rwsem with -W/-R
// rows.
const char *const kLockStat =
    "lock_stat version 0.4\n"
    "-------------------------------------------------------------------------------------------"
    "\n"
    "                              class name    con-bounces    contentions   waittime-min   "
    "waittime-max waittime-total   waittime-avg    acq-bounces   acquisitions   holdtime-min   "
    "holdtime-max holdtime-total   holdtime-avg\n"
    "-------------------------------------------------------------------------------------------"
    "\n"
    "\n"
    "                    &mm->page_table_lock:            37             41           0.48"
    "          10.88          93.20           2.27           5120          20480           0.16"
    "          30.56        8100.45           0.39\n"
    "                    --------------------\n"
    "                    &mm->page_table_lock             41          [<000000002c4d7f56>] "
    "do_huge_pmd_anonymous_page+0x1d4/0x5b0\n"
    "                    --------------------\n"
    "                    &mm->page_table_lock             40          [<000000002c4d7f56>] "
    "zap_huge_pmd+0x40/0x2d0\n"
    "\n"
    "..........................................................................................."
    "\n"
    "\n"
    "                        ptlock_ptr(page):             0              0           0.00"
    "           0.00           0.00           0.00             12            300           0.10"
    "           2.00          60.00           0.20\n"
    "                      ptlock_ptr(page)#2:             2              3           1.00"
    "           5.00           9.00           3.00             20            100           0.20"
    "           4.00          40.00           0.40\n"
    "                       &mm->mmap_lock-W:             1              1           3.00"
    "           3.00           3.00           3.00             10             50           1.00"
    "           9.00         100.00           2.00\n"
    "                       &mm->mmap_lock-R:             4              5           1.00"
    "           2.00           6.00           1.20             90            400           0.50"
    "           8.00         600.00           1.50\n";

} // namespace

TEST(BenchGeometry, TableSpans) {
    EXPECT_EQ(k4K.pmd, 2 * kMiB);
    EXPECT_EQ(k4K.entries_per_table(), 512U);
    EXPECT_EQ(k4K.pte_table_span(), 2 * kMiB);
    EXPECT_EQ(k4K.pmd_table_span(), 1 * kGiB);
    EXPECT_EQ(k64K.pmd, 512 * kMiB);
    EXPECT_EQ(k64K.entries_per_table(), 8192U);
    EXPECT_EQ(k64K.pmd_table_span(), 4 * kTiB);
}

TEST(BenchLayout, NamesRoundTrip) {
    for (const auto &l : all_layouts()) {
        const auto p = parse_layout(l.str());
        ASSERT_TRUE(p) << l.str();
        EXPECT_EQ(p->str(), l.str());
    }
    EXPECT_FALSE(parse_layout("thp"));
    EXPECT_EQ(all_layouts().front().str(), "thp-private");
    EXPECT_EQ(access_name(*parse_access("read")), "read");
    EXPECT_FALSE(parse_access("exec"));
}

TEST(BenchLayout, PrivateThpThreadsEachStartAPmdTable) {
    const LayoutName name{Level::Pmd, Sharing::Private};
    for (const auto &geo : {k4K, k64K}) {
        const Layout l = make_layout(name, geo, 4, 8);
        EXPECT_EQ(l.granule, geo.pmd);
        EXPECT_EQ(l.faults_per_chunk(), 1U);
        EXPECT_EQ(l.reservation(), 4 * geo.pmd_table_span());
        for (unsigned t = 0; t < 4; ++t) {
            EXPECT_EQ(l.offset(t, 0), t * geo.pmd_table_span());
            EXPECT_EQ(l.pmd_table_of(l.offset(t, 7)), t);
        }
        EXPECT_EQ(l.problem(), "");
        EXPECT_EQ(l.used_ranges().size(), 4U);
        EXPECT_EQ(l.footprint(), 32 * geo.pmd);
    }
    // On 4K pages: each thread in its own 1 GiB-aligned region.
    EXPECT_EQ(make_layout(name, k4K, 2, 8).offset(1, 3), 1 * kGiB + 6 * kMiB);
}

TEST(BenchLayout, SharedThpThreadsInterleaveUnderOnePmdTable) {
    const LayoutName name{Level::Pmd, Sharing::Shared};
    for (const auto &geo : {k4K, k64K}) {
        const Layout l = make_layout(name, geo, 2, 8);
        EXPECT_EQ(l.offset(0, 0), 0U);
        EXPECT_EQ(l.offset(1, 0), geo.pmd);
        EXPECT_EQ(l.offset(0, 1), 2 * geo.pmd);
        EXPECT_EQ(l.offset(1, 7), 15 * geo.pmd);
        EXPECT_EQ(l.reservation(), geo.pmd_table_span());
        EXPECT_EQ(l.problem(), "");
        ASSERT_EQ(l.used_ranges().size(), 1U);
        EXPECT_EQ(l.used_ranges()[0].second, 16 * geo.pmd);
    }
    // 8 threads x 65 PMDs do not fit in one 512-entry PMD table.
    EXPECT_NE(make_layout(name, k4K, 8, 65).problem(), "");
}

TEST(BenchLayout, PteLayouts) {
    const Layout priv = make_layout({Level::Pte, Sharing::Private}, k4K, 2, 64);
    EXPECT_EQ(priv.granule, 4 * kKiB);
    EXPECT_EQ(priv.chunk, 64 * kKiB);
    EXPECT_EQ(priv.faults_per_chunk(), kPteChunkPages);
    EXPECT_EQ(priv.problem(), "");
    EXPECT_NE(priv.pte_table_of(priv.offset(0, 63)), priv.pte_table_of(priv.offset(1, 0)));
    const Layout shared = make_layout({Level::Pte, Sharing::Shared}, k64K, 2, 64);
    EXPECT_EQ(shared.chunk, 1 * kMiB);
    EXPECT_EQ(shared.problem(), "");
    EXPECT_EQ(shared.pte_table_of(shared.offset(0, 0)), shared.pte_table_of(shared.offset(1, 0)));
}

TEST(BenchLayout, ProblemNamesABrokenPromise) {
    // 513 PMDs per thread overflow a 512-entry PMD table into the next thread's.
    const Layout l = make_layout({Level::Pmd, Sharing::Private}, k4K, 2, 513);
    EXPECT_NE(l.problem().find("private layout: table 1 has 2 threads"), std::string::npos)
        << l.problem();
    EXPECT_EQ(make_layout({Level::Pmd, Sharing::Private}, k4K, 2, 0).problem(), "empty layout");
}

TEST(BenchLayout, ChunksFromTheMemoryBudget) {
    const LayoutName thp{Level::Pmd, Sharing::Private};
    EXPECT_EQ(chunks_per_thread(thp, k4K, 2, 1 * kGiB), 8U);
    EXPECT_EQ(chunks_per_thread(thp, k4K, 2, 20 * kMiB), 5U);
    // The 64K guest: 4 GiB, about half of MemAvailable: one 512 MiB PMD per thread.
    EXPECT_EQ(chunks_per_thread(thp, k64K, 2, 1800 * kMiB), 1U);
    EXPECT_EQ(chunks_per_thread(thp, k64K, 4, 1800 * kMiB), 0U);
    EXPECT_EQ(chunks_per_thread({Level::Pte, Sharing::Shared}, k64K, 2, 1800 * kMiB), 64U);
    EXPECT_EQ(chunks_per_thread({Level::Pmd, Sharing::Shared}, k4K, 64, 64 * kGiB), 8U);
    EXPECT_EQ(chunks_per_thread(thp, k4K, 0, kGiB), 0U);
}

TEST(BenchLayout, DefaultThreadCounts) {
    EXPECT_EQ(default_thread_counts(1), (std::vector<unsigned>{1}));
    EXPECT_EQ(default_thread_counts(2), (std::vector<unsigned>{1, 2}));
    EXPECT_EQ(default_thread_counts(6), (std::vector<unsigned>{1, 2, 4, 6}));
    EXPECT_EQ(default_thread_counts(8), (std::vector<unsigned>{1, 2, 4, 8}));
}

TEST(BenchLockStat, ParsesClassRowsAndSkipsContentionPoints) {
    const auto f = parse_lock_stat(kLockStat);
    EXPECT_TRUE(f.valid);
    EXPECT_FALSE(f.debug_locks_off);
    ASSERT_EQ(f.classes.size(), 5U);
    const auto &ptl = f.classes.at("&mm->page_table_lock");
    EXPECT_EQ(ptl.con_bounces, 37U);
    EXPECT_EQ(ptl.contentions, 41U);
    EXPECT_DOUBLE_EQ(ptl.waittime_min, 0.48);
    EXPECT_DOUBLE_EQ(ptl.waittime_max, 10.88);
    EXPECT_DOUBLE_EQ(ptl.waittime_total, 93.20);
    EXPECT_EQ(ptl.acq_bounces, 5120U);
    EXPECT_EQ(ptl.acquisitions, 20480U);
    EXPECT_DOUBLE_EQ(ptl.holdtime_max, 30.56);
    EXPECT_DOUBLE_EQ(ptl.holdtime_total, 8100.45);
    EXPECT_EQ(f.classes.count("&mm->mmap_lock-R"), 1U);
}

// /proc/lock_stat of the lockstat flavour of 4k-48 at series-base (Debian's 6.1.192), read
// right after `ptlab-stress bench --layouts thp-shared --thread-counts 2 --access write`:
// the THP faults and zaps of two threads contend on the mm's page_table_lock.
TEST(BenchLockStat, ParsesARealLinux61File) {
    std::ifstream in(std::string(PTLAB_STRESS_FIXTURES_DIR) + "/real-4k48-lockstat-base.lock_stat");
    ASSERT_TRUE(in) << "fixture missing";
    std::stringstream text;
    text << in.rdbuf();
    const auto f = parse_lock_stat(text.str());
    EXPECT_TRUE(f.valid);
    EXPECT_FALSE(f.debug_locks_off);
    // Every class row (names with spaces and ':' included), no contention point.
    EXPECT_EQ(f.classes.size(), 110U);
    EXPECT_EQ(f.classes.count("&mm->mmap_lock-R"), 1U);
    EXPECT_EQ(f.classes.count("&(({ do { const void *__vpp_verify ="), 1U);
    const LockStat ptl = lock_family(f, kPageTableLockClass);
    EXPECT_EQ(ptl.con_bounces, 61U);
    EXPECT_EQ(ptl.contentions, 184U);
    EXPECT_DOUBLE_EQ(ptl.waittime_total, 886861.95);
    EXPECT_EQ(ptl.acquisitions, 2751U);
    // init_mm's lock is another class; ptlock_ptr(page)#2 and its subclass /1 are one family.
    EXPECT_EQ(f.classes.at("init_mm.page_table_lock").acquisitions, 3U);
    const LockStat ptlock = lock_family(f, kPtlockClass);
    EXPECT_EQ(ptlock.contentions, 0U);
    EXPECT_EQ(ptlock.acquisitions, 130U);
}

TEST(BenchLockStat, FamiliesSumEveryVersionOfAClass) {
    const auto f = parse_lock_stat(kLockStat);
    const LockStat p = lock_family(f, kPtlockClass);
    EXPECT_EQ(p.contentions, 3U);
    EXPECT_EQ(p.acquisitions, 400U);
    EXPECT_DOUBLE_EQ(p.waittime_min, 1.00); // the class without contentions has no minimum
    EXPECT_DOUBLE_EQ(p.holdtime_min, 0.10);
    EXPECT_DOUBLE_EQ(p.holdtime_max, 4.00);
    EXPECT_DOUBLE_EQ(p.waittime_total, 9.00);
    const LockStat m = lock_family(f, "&mm->mmap_lock");
    EXPECT_EQ(m.acquisitions, 450U);
    EXPECT_EQ(m.contentions, 6U);
    EXPECT_EQ(lock_family(f, "no such class").acquisitions, 0U);
}

TEST(BenchLockStat, ClassBaseNames) {
    EXPECT_EQ(lock_class_base("ptlock_ptr(page)#2"), "ptlock_ptr(page)");
    EXPECT_EQ(lock_class_base("&mm->page_table_lock"), "&mm->page_table_lock");
    EXPECT_EQ(lock_class_base("&mm->mmap_lock/1-W"), "&mm->mmap_lock");
    EXPECT_EQ(lock_class_base("  &rq->__lock#3  "), "&rq->__lock");
}

TEST(BenchLockStat, DeltaAndWarnings) {
    LockStat before;
    before.contentions = 5;
    before.acquisitions = 100;
    before.waittime_total = 10;
    LockStat after = before;
    after.contentions = 9;
    after.acquisitions = 160;
    after.waittime_total = 12.5;
    after.waittime_max = 3;
    const LockStat d = lock_delta(before, after);
    EXPECT_EQ(d.contentions, 4U);
    EXPECT_EQ(d.acquisitions, 60U);
    EXPECT_DOUBLE_EQ(d.waittime_total, 2.5);
    EXPECT_DOUBLE_EQ(d.waittime_max, 3);
    // Cleared in between: no negative counts.
    EXPECT_EQ(lock_delta(after, before).contentions, 0U);

    const auto w = parse_lock_stat("lock_stat version 0.4\n*WARNING* lock debugging disabled!! - "
                                   "possibly due to a lockdep warning\n");
    EXPECT_TRUE(w.valid);
    EXPECT_TRUE(w.debug_locks_off);
    EXPECT_FALSE(parse_lock_stat("no such file\n").valid);
}

TEST(BenchVmstat, Parses) {
    const auto v = parse_vmstat("nr_free_pages 12345\nthp_fault_alloc 7\nbogus\npgfault 99\n");
    EXPECT_EQ(v.at("thp_fault_alloc"), 7U);
    EXPECT_EQ(v.at("pgfault"), 99U);
    EXPECT_EQ(v.count("bogus"), 0U);
}

TEST(BenchStats, MedianMinMax) {
    const auto odd = stats_of({5, 1, 3});
    EXPECT_EQ(odd.n, 3U);
    EXPECT_DOUBLE_EQ(odd.median, 3);
    EXPECT_DOUBLE_EQ(odd.min, 1);
    EXPECT_DOUBLE_EQ(odd.max, 5);
    EXPECT_DOUBLE_EQ(odd.mean, 3);
    EXPECT_DOUBLE_EQ(stats_of({4, 1, 2, 3}).median, 2.5);
    EXPECT_EQ(stats_of({}).n, 0U);
    const auto j = to_json(odd);
    EXPECT_EQ(j.at("median"), 3.0);
}

TEST(BenchCli, OptionsAndReproduceCommand) {
    std::ostringstream out;
    std::ostringstream err;
    const auto res =
        parse_cli({"bench", "--thread-counts", "1,2", "--layouts", "thp-private,thp-shared",
                   "--access", "write,read", "--reps", "3", "--warmup", "0", "--rep-seconds", "0.5",
                   "--lock-stat", "off", "--json-file", "/tmp/b.json"},
                  out, err);
    ASSERT_FALSE(res.exit_code) << err.str();
    const auto &b = res.options.bench;
    EXPECT_EQ(res.options.command, "bench");
    EXPECT_EQ(b.thread_counts, (std::vector<unsigned>{1, 2}));
    EXPECT_EQ(b.layouts.size(), 2U);
    EXPECT_EQ(b.access, (std::vector<std::string>{"write", "read"}));
    EXPECT_EQ(b.reps, 3U);
    EXPECT_EQ(b.warmup, 0U);
    EXPECT_DOUBLE_EQ(b.rep_seconds, 0.5);
    EXPECT_EQ(b.lock_stat, "off");
    EXPECT_EQ(b.json_file, "/tmp/b.json");
    const std::string cmd = res.options.reproduce_command();
    EXPECT_EQ(cmd.rfind("ptlab-stress bench", 0), 0U) << cmd;
    EXPECT_NE(cmd.find("--thread-counts 1,2"), std::string::npos) << cmd;
    EXPECT_NE(cmd.find("--access write,read"), std::string::npos) << cmd;

    const auto d = parse_cli({"bench"}, out, err);
    ASSERT_FALSE(d.exit_code);
    EXPECT_EQ(d.options.bench.access, (std::vector<std::string>{"write"}));
    EXPECT_TRUE(d.options.bench.layouts.empty());

    std::ostringstream e2;
    EXPECT_EQ(parse_cli({"bench", "--layouts", "thp"}, out, e2).exit_code, kExitUsage);
}

namespace ptlab::bench {
namespace {

TEST(LockStat, TheExcerptKeepsTheHeaderAndThePageTableLockClasses) {
    std::ifstream in(std::string(PTLAB_STRESS_FIXTURES_DIR) + "/real-4k48-lockstat-base.lock_stat");
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    const auto rows = lock_stat_excerpt(text);
    ASSERT_GE(rows.size(), 3U);
    EXPECT_NE(rows[0].find("class name"), std::string::npos);
    EXPECT_NE(rows[1].find("&mm->page_table_lock:"), std::string::npos);
    for (const auto &row : rows) {
        EXPECT_EQ(row.find("...."), std::string::npos) << row;
    }
    EXPECT_TRUE(lock_stat_excerpt("lock_stat version 0.4\n").empty());
}

} // namespace
} // namespace ptlab::bench
