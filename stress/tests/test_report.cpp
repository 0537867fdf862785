// The KTAP and JSON writers.
#include "ktap_writer.hpp"
#include "report.hpp"

#include <gtest/gtest.h>

#include <sstream>

using namespace ptlab;

namespace {

TestNode sample() {
    TestNode w("thp");
    w.check("setup", true, "regions: 2");
    TestNode &ops = w.check("operations", true);
    ops.diag("ops=10 ops/s=5.0");
    ops.diag("two\nlines");
    w.check("pattern_integrity", false, "mismatch at 0x1000: expected 0x1, found 0x0");
    w.skip("madv_collapse", "MADV_COLLAPSE not supported");
    w.settle();
    return w;
}

} // namespace

TEST(Report, SettleTakesTheWorstChild) {
    TestNode t = sample();
    EXPECT_EQ(t.result, Result::Fail);
    TestNode ok("x");
    ok.check("a", true);
    ok.skip("b", "why");
    EXPECT_EQ(ok.settle(), Result::Pass);
    TestNode skipped("y");
    skipped.skip("a", "no /dev/kvm");
    EXPECT_EQ(skipped.settle(), Result::Skip);
    EXPECT_EQ(skipped.skip_reason, "no /dev/kvm");
    TestNode leaf("z");
    leaf.result = Result::Skip;
    EXPECT_EQ(leaf.settle(), Result::Skip);
}

TEST(Report, KtapDocument) {
    std::ostringstream out;
    TestNode teardown("teardown");
    teardown.check("pagetables", true, "PageTables before=1 kB, after=1 kB");
    teardown.settle();
    write_ktap(out, {sample(), teardown}, {"ptlab-stress 1.0: thp seed=1"});
    EXPECT_EQ(out.str(), "KTAP version 1\n"
                         "# ptlab-stress 1.0: thp seed=1\n"
                         "1..2\n"
                         "    KTAP version 1\n"
                         "    # Subtest: thp\n"
                         "    1..4\n"
                         "    # regions: 2\n"
                         "    ok 1 setup\n"
                         "    # ops=10 ops/s=5.0\n"
                         "    # two\n"
                         "    # lines\n"
                         "    ok 2 operations\n"
                         "    # mismatch at 0x1000: expected 0x1, found 0x0\n"
                         "    not ok 3 pattern_integrity\n"
                         "    ok 4 madv_collapse # SKIP MADV_COLLAPSE not supported\n"
                         "not ok 1 thp\n"
                         "    KTAP version 1\n"
                         "    # Subtest: teardown\n"
                         "    1..1\n"
                         "    # PageTables before=1 kB, after=1 kB\n"
                         "    ok 1 pagetables\n"
                         "ok 2 teardown\n");
}

TEST(Report, SkippedWorkloadIsOneLine) {
    TestNode t("efi");
    t.result = Result::Skip;
    t.skip_reason = "no efivarfs\nmounted";
    std::ostringstream out;
    write_ktap_test(out, t, 3, 1);
    EXPECT_EQ(out.str(), "    ok 3 efi # SKIP no efivarfs mounted\n");
}

TEST(Report, NamesCannotBreakKtap) {
    EXPECT_EQ(ktap::escape("a # b"), "a \\# b");
    EXPECT_EQ(ktap::escape(""), "(unnamed)");
}

TEST(Report, ExitCodes) {
    TestNode pass("a");
    TestNode skip("b");
    skip.result = Result::Skip;
    TestNode fail("c");
    fail.result = Result::Fail;
    EXPECT_EQ(exit_code_for({pass, skip}), 0);
    EXPECT_EQ(exit_code_for({skip, skip}), 4);
    EXPECT_EQ(exit_code_for({pass, fail, skip}), 1);
    EXPECT_EQ(exit_code_for({}), 4);
}

TEST(Report, Json) {
    TestNode t = sample();
    t.metrics = {{"ops", 10}, {"errors", {{"ENOMEM", 1}, {"EFAULT", 0}, {"EAGAIN", 2}}}};
    const auto j = to_json(t);
    EXPECT_EQ(j["name"], "thp");
    EXPECT_EQ(j["result"], "fail");
    EXPECT_EQ(j["metrics"]["errors"]["EAGAIN"], 2);
    ASSERT_EQ(j["tests"].size(), 4U);
    EXPECT_EQ(j["tests"][1]["diagnostics"][1], "two\nlines");
    EXPECT_EQ(j["tests"][3]["result"], "skip");
    EXPECT_EQ(j["tests"][3]["skip_reason"], "MADV_COLLAPSE not supported");
    EXPECT_FALSE(j["tests"][0].contains("tests"));
    // Round trip through text.
    EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}
