#include "fixture.hpp"
#include "ptlab/splat.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace ptlab {
namespace {

using testing::fixture_lines;
using testing::lines_of;

std::vector<std::string> kinds_of(const std::vector<Splat> &splats) {
    std::vector<std::string> kinds;
    kinds.reserve(splats.size());
    for (const auto &s : splats) {
        kinds.push_back(s.kind);
    }
    return kinds;
}

using Kinds = std::vector<std::string>;

struct HeaderCase {
    const char *line;
    const char *kind;
};

TEST(Splat, ClassifiesHeaderLines) {
    const HeaderCase cases[] = {
        {"[    1.234567] BUG: sleeping function called from invalid context at mm/gup.c:1170",
         "bug"},
        {"BUG: KASAN: slab-out-of-bounds in pte_alloc_one+0x40/0x60", "kasan"},
        {"[    2.0] BUG: spinlock bad magic on CPU#0, swapper/0/1", "bug"},
        {"BUG: Bad page map in process sh  pte:00e800004a3f2f43 pmd:4a3f1003", "bug"},
        {"BUG: scheduling while atomic: ptlab/97/0x00000002", "bug"},
        {"BUG: soft lockup - CPU#0 stuck for 22s! [ptlab:97]", "soft_lockup"},
        {"[   44.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [ptlab:97]", "soft_lockup"},
        {"kernel BUG at mm/page_table_check.c:123!", "page_table_check"},
        {"kernel BUG at mm/huge_memory.c:2069!", "bug"},
        {"WARNING: CPU: 0 PID: 1 at mm/foo.c:12 func+0x10/0x20", "warning"},
        {"WARNING: possible recursive locking detected", "lockdep"},
        {"WARNING: inconsistent lock state", "lockdep"},
        {"WARNING: possible circular locking dependency detected", "lockdep"},
        {"WARNING: suspicious RCU usage", "lockdep"},
        {"WARNING: possible irq lock inversion dependency detected", "lockdep"},
        {"WARNING: bad unlock balance detected!", "lockdep"},
        {"WARNING: held lock freed!", "lockdep"},
        {"WARNING: lock held when returning to user space!", "lockdep"},
        {"WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected", "lockdep"},
        {"DEBUG_LOCKS_WARN_ON(1)", "lockdep"},
        {"Internal error: Oops: 0000000096000045 [#1] PREEMPT SMP", "oops"},
        {"Unable to handle kernel paging request at virtual address ffff800008000000", "oops"},
        {"Kernel panic - not syncing: sysrq triggered crash", "panic"},
        {"BUG: Bad page state in process swapper/0  pfn:4a3f2", "bad_page"},
        {"Bad page state in process kworker/0:1  pfn:41234", "bad_page"},
        {"page dumped because: VM_BUG_ON_PAGE(PageTail(page))", "debug_vm"},
        {"kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", "kmemleak"},
        {"unreferenced object 0xffff0000c1234000 (size 64):", "kmemleak"},
        {"UBSAN: shift-out-of-bounds in mm/pgtable.c:12:7", "ubsan"},
        {"rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", "rcu_stall"},
        {"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "rcu_stall"},
        {"rcu: INFO: rcu_preempt self-detected stall on CPU", "rcu_stall"},
        {"NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", "hard_lockup"},
        {"INFO: task kworker/0:1:123 blocked for more than 120 seconds.", "hung_task"},
        {"list_add corruption. prev->next should be next (ffff0000c0a1b2c8), but was "
         "0000000000000000. (prev=ffff0000c0a1b2c8).",
         "list_corruption"},
        {"list_del corruption, ffff0000c1a2b3c0->next is LIST_POISON1 (dead000000000100)",
         "list_corruption"},
        {"refcount_t: underflow; use-after-free.", "refcount"},
        {"ptlab-fi: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)", "alloc_failure"},
        {"CPU: 1 PID: 42 WARNING: CPU: 1 PID: 42 at mm/x.c:1 f+0x0/0x4", "warning"},
        // Not splats.
        {"FAULT_INJECTION: forcing a failure.", ""},
        {"# BUG: quoted by a test", ""},
        {"    # WARNING: CPU: 0 PID: 1 at mm/foo.c:1 quoted", ""},
        {"ok 1 - BUG: in a test name", ""},
        {"not ok 2 - Kernel panic - not syncing", ""},
        {"WARNING: something a userspace tool printed", ""},
        {"[    0.000000] Booting Linux on physical CPU 0x0000000000", ""},
        {"CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1", ""},
    };
    for (const auto &c : cases) {
        EXPECT_EQ(classify_splat_header(c.line), c.kind) << c.line;
    }
}

TEST(Splat, KindsListCoversEverything) {
    const auto &kinds = splat_kinds();
    for (const char *k : {"alloc_failure", "lockdep", "panic", "page_table_check", "debug_vm"}) {
        EXPECT_NE(std::find(kinds.begin(), kinds.end(), k), kinds.end()) << k;
    }
}

TEST(Splat, LockdepRecursiveLockingIsOneSplat) {
    const auto lines = fixture_lines("synthetic-lockdep-recursive.log");
    const auto splats = find_splats(lines);
    ASSERT_EQ(kinds_of(splats), Kinds{"lockdep"});
    EXPECT_EQ(splats[0].first_line, "WARNING: possible recursive locking detected");
    EXPECT_EQ(lines.at(splats[0].line_number - 1).find("WARNING: possible recursive"), 15U);
    // The block runs through the stack backtrace and stops before the next KTAP result.
    EXPECT_NE(splats[0].excerpt.back().find("el0t_64_sync+0x18c/0x190"), std::string::npos);
}

TEST(Splat, OopsThenPanicAreTwoSplats) {
    const auto splats = find_splats(fixture_lines("synthetic-oops-panic.log"));
    ASSERT_EQ(kinds_of(splats), (Kinds{"oops", "panic"}));
    EXPECT_EQ(splats[0].line_number, 7U);
    EXPECT_NE(splats[0].excerpt.back().find("---[ end trace"), std::string::npos);
    EXPECT_EQ(splats[1].first_line, "Kernel panic - not syncing: Oops: Fatal exception");
    EXPECT_NE(splats[1].excerpt.back().find("---[ end Kernel panic"), std::string::npos);
    EXPECT_EQ(splats[1].excerpt.size(), 6U);
}

TEST(Splat, SysrqCrashPanicKeepsItsCallTrace) {
    const auto splats = find_splats(fixture_lines("synthetic-sysrq-crash.log"));
    ASSERT_EQ(kinds_of(splats), Kinds{"panic"});
    EXPECT_EQ(splats[0].first_line, "Kernel panic - not syncing: sysrq triggered crash");
    EXPECT_NE(splats[0].excerpt.back().find("---[ end Kernel panic"), std::string::npos);
}

TEST(Splat, BadPageStateAbsorbsPageDump) {
    const auto splats = find_splats(fixture_lines("synthetic-bad-page.log"));
    ASSERT_EQ(kinds_of(splats), Kinds{"bad_page"});
    const auto &excerpt = splats[0].excerpt;
    EXPECT_TRUE(std::any_of(excerpt.begin(), excerpt.end(), [](const std::string &l) {
        return l.find("page dumped because: nonzero mapcount") != std::string::npos;
    }));
}

TEST(Splat, WarnOnBlockIncludesIrqStampsAndEndMarker) {
    const auto splats = find_splats(fixture_lines("synthetic-warn-all-ok.log"));
    ASSERT_EQ(kinds_of(splats), Kinds{"warning"});
    EXPECT_NE(splats[0].excerpt.back().find("---[ end trace"), std::string::npos);
}

TEST(Splat, PageTableCheckBugAbsorbsArm64BrkOops) {
    const auto splats = find_splats(fixture_lines("synthetic-page-table-check.log"));
    ASSERT_EQ(kinds_of(splats), Kinds{"page_table_check"});
    EXPECT_EQ(splats[0].first_line, "kernel BUG at mm/page_table_check.c:82!");
}

TEST(Splat, FaultInjectionIsNotASplatButAllocationFailureIs) {
    const auto splats = find_splats(fixture_lines("synthetic-fault-injection.log"));
    ASSERT_EQ(kinds_of(splats), Kinds{"alloc_failure"});
    EXPECT_NE(splats[0].excerpt.back().find("el0t_64_sync"), std::string::npos);
}

TEST(Splat, QuotedWordsInKtapNoiseAreIgnored) {
    EXPECT_TRUE(find_splats(fixture_lines("synthetic-ktap-noise.log")).empty());
    EXPECT_TRUE(find_splats(fixture_lines("synthetic-clean-nested.log")).empty());
}

TEST(Splat, VmBugOnPageIsOneDebugVmSplat) {
    const auto splats = find_splats(lines_of(
        R"([   3.0] page:0000000012345678 refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x41234
[   3.0] flags: 0x3fffc0000010000(head|node=0|zone=0|lastcpupid=0xffff)
[   3.0] page dumped because: VM_BUG_ON_PAGE(PageTail(page))
[   3.0] ------------[ cut here ]------------
[   3.0] kernel BUG at include/linux/mm.h:750!
[   3.0] Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP
[   3.0] Call trace:
[   3.0]  split_huge_pmd+0x20/0x30
[   3.0] ---[ end trace 0000000000000000 ]---
)"));
    ASSERT_EQ(kinds_of(splats), Kinds{"debug_vm"});
    EXPECT_EQ(splats[0].line_number, 3U);
    // Seen on its own, the same BUG line is classified by what precedes it.
    const auto lines =
        lines_of("page dumped because: VM_BUG_ON_PAGE(x)\nkernel BUG at mm/a.c:1!\n");
    EXPECT_EQ(classify_splat_header(lines[1], lines, 1), "debug_vm");
}

TEST(Splat, ListCorruptionWarningIsOneSplat) {
    const auto splats = find_splats(lines_of(R"(------------[ cut here ]------------
list_del corruption. prev->next should be ffff0000c1a2b3c0, but was 0000000000000000. (prev=ffff0000c1a2b000)
WARNING: CPU: 0 PID: 1 at lib/list_debug.c:59 __list_del_entry_valid+0xa8/0xd0
Modules linked in:
Call trace:
 __list_del_entry_valid+0xa8/0xd0
 pgtable_trans_huge_withdraw+0x40/0xa0
---[ end trace 0000000000000000 ]---
WARNING: CPU: 0 PID: 1 at mm/other.c:1 other+0x0/0x4
)"));
    EXPECT_EQ(kinds_of(splats), (Kinds{"list_corruption", "warning"}));
}

TEST(Splat, KasanReportEndsAtRuleLine) {
    const auto splats =
        find_splats(lines_of(R"(==================================================================
BUG: KASAN: use-after-free in ptlock_free+0x30/0x40
Read of size 8 at addr ffff0000c2f1a1d8 by task ptlab/97

CPU: 0 PID: 97 Comm: ptlab Not tainted 6.1.0 #1
Call trace:
 dump_backtrace+0xe0/0xf0
 kasan_report+0x90/0xd0

Allocated by task 97:
 kasan_save_stack+0x2c/0x60

The buggy address belongs to the physical page:
page:00000000deadbeef refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x42f1a
page dumped because: kasan: bad access detected

Memory state around the buggy address:
==================================================================
BUG: sleeping function called from invalid context at mm/memory.c:1
)"));
    ASSERT_EQ(kinds_of(splats), (Kinds{"kasan", "bug"}));
    EXPECT_EQ(splats[0].line_number, 2U);
}

TEST(Splat, BlockStopsAtKtapResultAndAtSixtyLines) {
    std::string text = "WARNING: possible circular locking dependency detected\n";
    for (int i = 0; i < 100; ++i) {
        text += "filler line " + std::to_string(i) + "\n";
    }
    text += "WARNING: suspicious RCU usage\n";
    auto splats = find_splats(lines_of(text));
    ASSERT_EQ(kinds_of(splats), (Kinds{"lockdep", "lockdep"}));
    EXPECT_EQ(splats[0].excerpt.size(), 60U);

    splats = find_splats(lines_of("BUG: scheduling while atomic: a/1/0x2\nmore\nok 1 - next\n"
                                  "BUG: scheduling while atomic: a/1/0x2\n"));
    ASSERT_EQ(splats.size(), 2U);
    EXPECT_EQ(splats[0].excerpt.size(), 2U);
}

TEST(Splat, KmemleakAndRcuStall) {
    const auto splats = find_splats(
        lines_of(R"([  60.0] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
unreferenced object 0xffff0000c1234000 (size 64):
  comm "ptlab", pid 97, jiffies 4294892296 (age 8.712s)
  backtrace:
    [<000000001234abcd>] kmem_cache_alloc+0x1d0/0x2c0
ok 1 - leak_check
[  80.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
[  80.0] rcu: 	0-....: (5249 ticks this GP) idle=ab4c/1/0x4000000000000000
[  80.0] 	(detected by 1, t=5252 jiffies, g=1189, q=25 ncpus=2)
[  80.0] Task dump for CPU 0:
[  80.0] task:ptlab           state:R  running task     stack:0     pid:97
[  80.0] Call trace:
[  80.0]  __switch_to+0xf0/0x170
[  80.0] rcu: INFO: rcu_preempt self-detected stall on CPU
)"));
    EXPECT_EQ(kinds_of(splats), (Kinds{"kmemleak", "rcu_stall", "rcu_stall"}));
}

TEST(Splat, LockdepFollowedByUnrelatedWarningIsTwoSplats) {
    const auto splats = find_splats(lines_of(R"(=============================
WARNING: suspicious RCU usage
6.1.0 #1 Not tainted
-----------------------------
mm/pgtable.c:10 suspicious rcu_dereference_check() usage!
stack backtrace:
CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1
Call trace:
 dump_backtrace+0xe0/0xf0
 lockdep_rcu_suspicious+0x110/0x160
------------[ cut here ]------------
WARNING: CPU: 0 PID: 1 at mm/pgtable.c:20 f+0x0/0x4
)"));
    EXPECT_EQ(kinds_of(splats), (Kinds{"lockdep", "warning"}));
}

} // namespace
} // namespace ptlab
