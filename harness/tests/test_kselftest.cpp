// The upstream selftests' known results: chosen by the facts of the config and step, applied
// on the host as XFAIL (with the reason) or as an unexpected pass, and carried through KTAP.
#include "ptlab/kselftest.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/report.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace ptlab {
namespace {

using json = nlohmann::json;

const json table = json::parse(R"({
  "tests": [],
  "known_failures": [
    {"test": "mremap_test", "reason": "2 GiB regions in a 2 GiB guest"},
    {"test": "hugepage-shm", "when": {"page_size": "65536"}, "reason": "one 512 MiB page"},
    {"test": "khugepaged", "when": {"step": ["series-base", "series-head~1"]}, "reason": "x"}
  ]})");

TEST(Kselftest, KnownFailuresFollowTheFactsOfTheConfigAndStep) {
    const auto on_4k = known_failures(table, {{"page_size", "4096"}, {"step", "series-head"}});
    EXPECT_EQ(on_4k.size(), 1U);
    EXPECT_EQ(on_4k.at("mremap_test").reason, "2 GiB regions in a 2 GiB guest");
    const auto on_64k_base =
        known_failures(table, {{"page_size", "65536"}, {"step", "series-base"}});
    EXPECT_EQ(on_64k_base.size(), 3U);
    EXPECT_EQ(on_64k_base.at("hugepage-shm").reason, "one 512 MiB page");
}

KtapLog plan_log(const std::string &plan, const std::string &results) {
    return parse_ktap(split_lines("KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n" + results +
                                  "not ok 1 " + plan + "\n"));
}

void expect_counts(const KtapLog &log, int passed, int failed, int xfailed) {
    const Counts counts = count_results(log.root.subtests);
    EXPECT_EQ(counts.passed, passed);
    EXPECT_EQ(counts.failed, failed);
    EXPECT_EQ(counts.xfailed, xfailed);
}

TEST(Kselftest, AKnownFailureIsAnXfailAndThePlanPasses) {
    KtapLog log = plan_log("kselftest-vm", "    not ok 1 mremap_test\n    ok 2 madv_populate\n");
    apply_known_failures(log, {{"mremap_test", {"2 GiB regions"}}});
    const TestResult &plan = log.root.subtests.at(0);
    EXPECT_EQ(plan.status, Status::Pass);
    EXPECT_EQ(plan.subtests.at(0).status, Status::XFail);
    EXPECT_EQ(plan.subtests.at(0).skip_reason, "2 GiB regions");
    expect_counts(log, 1, 0, 1);
}

TEST(Kselftest, AKnownFailuresOwnFailedChecksAreExpectedWithIt) {
    KtapLog log = parse_ktap(split_lines("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n"
                                         "        KTAP version 1\n        1..2\n"
                                         "        ok 1 small\n        not ok 2 2GB mremap\n"
                                         "    not ok 1 mremap_test\nnot ok 1 kselftest-vm\n"));
    apply_known_failures(log, {{"mremap_test", {"2 GiB regions"}}});
    expect_counts(log, 1, 0, 1);
    EXPECT_EQ(log.root.subtests.at(0).status, Status::Pass);
}

TEST(Kselftest, AKnownFailureThatPassesFailsTheRun) {
    KtapLog log = plan_log("kselftest-vm", "    ok 1 mremap_test\n    ok 2 madv_populate\n");
    apply_known_failures(log, {{"mremap_test", {"2 GiB regions"}}});
    const TestResult &plan = log.root.subtests.at(0);
    EXPECT_EQ(plan.status, Status::Fail);
    EXPECT_EQ(plan.subtests.at(0).status, Status::Fail);
    EXPECT_NE(join_words(plan.subtests.at(0).diagnostics, " ").find("unexpected pass"),
              std::string::npos);
}

TEST(Kselftest, AFlakyKnownFailureMayPass) {
    KtapLog passed = plan_log("kselftest-kvm", "    ok 1 arch_timer\n    ok 2 x\n");
    apply_known_failures(passed, {{"arch_timer", {"timing under TCG", true}}});
    EXPECT_EQ(passed.root.subtests.at(0).subtests.at(0).status, Status::Pass);
    KtapLog failed = plan_log("kselftest-kvm", "    not ok 1 arch_timer\n    ok 2 x\n");
    apply_known_failures(failed, {{"arch_timer", {"timing under TCG", true}}});
    EXPECT_EQ(failed.root.subtests.at(0).subtests.at(0).status, Status::XFail);
    EXPECT_EQ(failed.root.subtests.at(0).subtests.at(0).skip_reason, "flaky: timing under TCG");
}

TEST(Kselftest, OtherPlansAndUnknownFailuresAreLeftAlone) {
    KtapLog log = plan_log("audit", "    not ok 1 mremap_test\n    ok 2 x\n");
    apply_known_failures(log, {{"mremap_test", {"r"}}});
    EXPECT_EQ(log.root.subtests.at(0).subtests.at(0).status, Status::Fail);
    KtapLog unknown = plan_log("kselftest-vm", "    not ok 1 other\n    ok 2 x\n");
    apply_known_failures(unknown, {{"mremap_test", {"r"}}});
    EXPECT_EQ(unknown.root.subtests.at(0).status, Status::Fail);
}

TEST(Kselftest, AnXfailRoundTripsThroughKtap) {
    TestResult t;
    t.name = "mremap_test";
    t.status = Status::XFail;
    t.skip_reason = "2 GiB regions # in a 2 GiB guest";
    std::ostringstream out;
    write_ktap_results(out, {t});
    EXPECT_EQ(out.str(), "ok 1 mremap_test # XFAIL 2 GiB regions \\# in a 2 GiB guest\n");
    const KtapLog back = parse_ktap(split_lines("KTAP version 1\n1..1\n" + out.str()));
    ASSERT_EQ(back.root.subtests.size(), 1U);
    EXPECT_EQ(back.root.subtests[0].status, Status::XFail);
    EXPECT_EQ(back.root.subtests[0].skip_reason, "2 GiB regions # in a 2 GiB guest");
}

TEST(Kselftest, OnlyKselftestPlansBringTheSelftests) {
    EXPECT_TRUE(wants_kselftests({"boot", "kselftest-kvm"}));
    EXPECT_TRUE(wants_kselftests({"kselftest"}));
    EXPECT_FALSE(wants_kselftests({"boot", "audit"}));
}

} // namespace
} // namespace ptlab
