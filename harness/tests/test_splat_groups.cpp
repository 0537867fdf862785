#include "fixture.hpp"
#include "ptlab/splat_groups.hpp"

#include <gtest/gtest.h>

namespace ptlab {
namespace {

using testing::fixture_lines;

// A real run of the upstream hugetlb-madvise: lockdep's i_mmap_assert_write_locked() WARNs
// 4 times from the same task: one group, timed from the first to the last.
TEST(SplatGroups, TheRealRepeatedWarningIsOneGroup) {
    const auto groups =
        group_splats(find_splats(fixture_lines("real-4k48-kselftest-hugetlb-warn.log")));
    ASSERT_EQ(groups.size(), 2U); // gup_test's dump_pages() first
    EXPECT_EQ(groups[0].count, 1U);
    EXPECT_EQ(groups[1].count, 4U);
    EXPECT_EQ(groups[1].first_process, "hugetlb-madvise");
    EXPECT_EQ(group_heading(groups[1]),
              "[warning] line 82: WARNING: CPU: 1 PID: 105 at "
              "../../../linux/include/linux/fs.h:509 i_mmap_assert_write_locked+0x24/0x34 x4, "
              "96.8 s to 96.8 s, first in hugetlb-madvise");
}

Splat bad_page(const std::string &time, const std::string &process, const std::string &pfn) {
    return {"bad_page",
            1,
            "BUG: Bad page state in process " + process + "  pfn:" + pfn,
            {"[" + time + "] BUG: Bad page state in process " + process + "  pfn:" + pfn},
            ""};
}

// The same report from other tasks and pages is one group; another message is another.
TEST(SplatGroups, NumbersAndTasksDoNotSplitAGroup) {
    std::vector<Splat> splats;
    splats.push_back(bad_page("    5.200000", "ksoftirqd/1", "4a3f2"));
    for (int i = 0; i < 122; ++i) {
        splats.push_back(bad_page("   30.000000", "ptlab-stress", "4b" + std::to_string(i)));
    }
    splats.push_back({"warning", 9, "WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2", {}, ""});
    splats.push_back(bad_page("   61.000000", "kworker/0:1", "5"));
    const auto groups = group_splats(splats);
    ASSERT_EQ(groups.size(), 2U);
    EXPECT_EQ(groups[0].count, 124U);
    EXPECT_EQ(group_heading(groups[0]),
              "[bad_page] line 1: BUG: Bad page state in process ksoftirqd/1  pfn:4a3f2 x124, "
              "5.2 s to 61.0 s, first in ksoftirqd/1");
    EXPECT_EQ(groups[1].count, 1U);
    EXPECT_EQ(group_heading(groups[1]),
              "[warning] line 9: WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2");
}

TEST(SplatGroups, SignatureMasksNumbersNotWords) {
    EXPECT_EQ(splat_signature(bad_page("1.0", "sh", "4a3f2")),
              "bad_page: BUG: Bad page state in process #  pfn:#");
    EXPECT_EQ(console_time("[   12.345678] x"), 12.345678);
    EXPECT_FALSE(console_time("no stamp").has_value());
}

// The first report is shown with its call trace, the register dump between left out.
TEST(SplatGroups, TheCallTraceIsShown) {
    const auto splats = find_splats(fixture_lines("real-4k48-kselftest-hugetlb-warn.log"));
    ASSERT_EQ(splats.size(), 5U);
    const auto shown = splat_shown_lines(splats[1], 20);
    ASSERT_LE(shown.size(), 22U);
    EXPECT_NE(shown[0].find("WARNING: CPU: 1 PID: 105"), std::string::npos);
    bool trace = false;
    bool frame = false;
    for (const auto &line : shown) {
        trace = trace || line.find("Call trace:") != std::string::npos;
        frame = frame || line.find("hugetlb_split") != std::string::npos ||
                line.find("__vma_adjust") != std::string::npos;
    }
    EXPECT_TRUE(trace);
    EXPECT_TRUE(frame) << "the frames that name the culprit";
}

} // namespace
} // namespace ptlab
