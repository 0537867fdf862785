// A guest plan's KTAP as it streams: results numbered as they come, a nested block's result
// from its own results, the exit status from what ran against what was planned.
#include "plan_writer.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace ptlab {
namespace {

TEST(PlanWriter, ResultsAreNumberedAsTheyCome) {
    std::ostringstream out;
    PlanWriter plan(out, 3);
    plan.ok("load");
    plan.fail("reload", "rmmod: EBUSY");
    plan.skip("user_thp", "no THP # here");
    EXPECT_EQ(out.str(), "KTAP version 1\n1..3\nok 1 load\n# rmmod: EBUSY\nnot ok 2 reload\n"
                         "ok 3 user_thp # SKIP no THP \\# here\n");
    EXPECT_EQ(plan.exit_code(), 1);
}

TEST(PlanWriter, FewerTestsThanPlannedIsAFailure) {
    std::ostringstream out;
    PlanWriter plan(out, 2);
    plan.ok("one");
    EXPECT_EQ(plan.exit_code(), 1);
    plan.ok("two");
    EXPECT_EQ(plan.exit_code(), 0);
}

TEST(PlanWriter, ANestedBlockIsIndentedUnderItsResult) {
    std::ostringstream out;
    PlanWriter plan(out, 1);
    plan.nested("init_mm", "KTAP version 1\n1..2\nok 1 init_mm.walk\n    ok 1 deeper\nok 2 x\n");
    EXPECT_EQ(out.str(), "KTAP version 1\n1..1\n    # Subtest: init_mm\n    KTAP version 1\n"
                         "    1..2\n    ok 1 init_mm.walk\n        ok 1 deeper\n    ok 2 x\n"
                         "ok 1 init_mm\n");
}

TEST(PlanWriter, ABlocksOwnResultsDecideItsOutcome) {
    std::string reason;
    EXPECT_EQ(block_outcome("1..2\nok 1 a\nok 2 b\n", &reason), ktap::Outcome::Ok);
    EXPECT_EQ(block_outcome("1..2\nok 1 a\nnot ok 2 b\n", &reason), ktap::Outcome::NotOk);
    // A failing subtest's own result line decides, not its children's.
    EXPECT_EQ(block_outcome("1..1\n    not ok 1 leaf\nok 1 a\n", &reason), ktap::Outcome::Ok);
    EXPECT_EQ(block_outcome("", &reason), ktap::Outcome::NotOk);
    EXPECT_EQ(block_outcome("1..0 # SKIP no efi_mm\n", &reason), ktap::Outcome::Skip);
    EXPECT_EQ(reason, "no efi_mm");
}

TEST(PlanWriter, APlanThatCannotRunIsASkipWithItsReason) {
    std::ostringstream out;
    write_skipped_plan(out, "no LKDTM # here");
    EXPECT_EQ(out.str(), "KTAP version 1\n1..0 # SKIP no LKDTM \\# here\n");
    std::string reason;
    EXPECT_EQ(block_outcome(out.str(), &reason), ktap::Outcome::Skip);
}

TEST(PlanWriter, AChildsExitStatusIsItsResult) {
    std::ostringstream out;
    PlanWriter plan(out, 3);
    plan.nested_result("thp", 0);
    plan.nested_result("kvm", 4);
    plan.nested_result("efi", 1);
    EXPECT_NE(out.str().find("ok 2 kvm # SKIP"), std::string::npos);
    EXPECT_NE(out.str().find("# exit status 1\nnot ok 3 efi"), std::string::npos);
}

} // namespace
} // namespace ptlab
