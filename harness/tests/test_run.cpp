#include "fixture.hpp"
#include "ptlab/run.hpp"

#include <gtest/gtest.h>

namespace ptlab {
namespace {

using testing::fixture_lines;
using testing::lines_of;

Verdict judge(const char *fixture, const RunOptions &options = {}) {
    return judge_run(fixture_lines(fixture), options);
}

TEST(Run, CleanBootPasses) {
    const Verdict v = judge("synthetic-clean-nested.log");
    EXPECT_EQ(v.outcome, Outcome::Pass);
    EXPECT_EQ(v.reason, "");
    EXPECT_TRUE(v.start_marker_seen);
    EXPECT_EQ(v.start_fields.at("plan"), "pgtable-smoke");
    EXPECT_EQ(v.start_fields.at("config"), "defconfig+debug");
    EXPECT_EQ(v.start_fields.at("step"), "01-ctor");
    EXPECT_TRUE(v.end_marker_seen);
    EXPECT_EQ(v.guest_rc, 0);
    EXPECT_TRUE(v.tail.empty());
}

TEST(Run, LockdepSplatFails) {
    const Verdict v = judge("synthetic-lockdep-recursive.log");
    EXPECT_EQ(v.outcome, Outcome::Fail);
    EXPECT_EQ(v.reason, reason::splat);
    EXPECT_EQ(v.detail, "lockdep: WARNING: possible recursive locking detected");
}

TEST(Run, OopsAndPanicWithoutEndMarkerIsPanic) {
    const Verdict v = judge("synthetic-oops-panic.log");
    EXPECT_EQ(v.reason, reason::panic);
    EXPECT_EQ(v.detail, "Kernel panic - not syncing: Oops: Fatal exception");
    EXPECT_EQ(v.splats.size(), 2U);
    EXPECT_FALSE(v.tail.empty());
    EXPECT_NE(v.tail.back().find("---[ end Kernel panic"), std::string::npos);
    // A panic wins over a runner timeout (panic=0 guests spin until killed).
    RunOptions timed_out;
    timed_out.timed_out = true;
    EXPECT_EQ(judge("synthetic-oops-panic.log", timed_out).reason, reason::panic);
}

TEST(Run, SysrqCrashIsPanic) {
    EXPECT_EQ(judge("synthetic-sysrq-crash.log").reason, reason::panic);
}

TEST(Run, TimeoutNeedsTheRunnerFlag) {
    RunOptions options;
    options.timed_out = true;
    const Verdict v = judge("synthetic-timeout.log", options);
    EXPECT_EQ(v.reason, reason::timeout);
    EXPECT_TRUE(v.timed_out);
    ASSERT_EQ(v.splats.size(), 1U);
    EXPECT_EQ(v.splats[0].kind, "hung_task");
    EXPECT_EQ(judge("synthetic-timeout.log").reason, reason::no_end_marker);
}

TEST(Run, TailIsTheLastFiftyLines) {
    std::string text = "PTLAB-START plan=p config=c step=s\n";
    for (int i = 0; i < 80; ++i) {
        text += "[    1.0] line " + std::to_string(i) + "\n";
    }
    const Verdict v = judge_run(lines_of(text));
    EXPECT_EQ(v.reason, reason::no_end_marker);
    ASSERT_EQ(v.tail.size(), 50U);
    EXPECT_EQ(v.tail.front(), "[    1.0] line 30");
    EXPECT_EQ(v.tail.back(), "[    1.0] line 79");
}

TEST(Run, BadPageStateFails) {
    const Verdict v = judge("synthetic-bad-page.log");
    EXPECT_EQ(v.reason, reason::splat);
    EXPECT_EQ(v.splats.at(0).kind, "bad_page");
}

TEST(Run, WarnOnFailsEvenWhenEveryTestSaysOk) {
    const Verdict v = judge("synthetic-warn-all-ok.log");
    EXPECT_EQ(v.ktap.root.status, Status::Pass);
    EXPECT_EQ(v.outcome, Outcome::Fail);
    EXPECT_EQ(v.reason, reason::splat);
    EXPECT_EQ(v.splats.at(0).kind, "warning");
}

TEST(Run, AllocationFailureIsAllowedOnlyWhenAsked) {
    EXPECT_EQ(judge("synthetic-fault-injection.log").outcome, Outcome::Fail);
    RunOptions options;
    options.allowed_kinds = {"alloc_failure"};
    const Verdict v = judge("synthetic-fault-injection.log", options);
    EXPECT_EQ(v.outcome, Outcome::Pass);
    EXPECT_TRUE(v.splats.empty());
    ASSERT_EQ(v.allowed_splats.size(), 1U);
    EXPECT_EQ(v.allowed_splats[0].kind, "alloc_failure");
}

TEST(Run, PlanMismatchIsKtapError) {
    const Verdict v = judge("synthetic-plan-mismatch.log");
    EXPECT_EQ(v.reason, reason::ktap_error);
    EXPECT_EQ(v.detail, "ktap: expected 5 tests, got 3");
    EXPECT_EQ(v.guest_rc, 1);
}

TEST(Run, TestFailuresAreListed) {
    const Verdict v = judge_run(lines_of("KTAP version 1\n1..2\n    # Subtest: s\n    1..1\n"
                                         "    not ok 1 t\nnot ok 1 s\nok 2 u\nPTLAB-END rc=0\n"));
    EXPECT_EQ(v.reason, reason::test_failures);
    EXPECT_EQ(v.detail, "s.t");
}

TEST(Run, NoiseFixturePasses) {
    EXPECT_EQ(judge("synthetic-ktap-noise.log").outcome, Outcome::Pass);
}

TEST(Run, EndMarkerMustStartTheMessage) {
    EXPECT_FALSE(judge_run(lines_of("+ echo 'PTLAB-END rc=0'\n")).end_marker_seen);
    EXPECT_FALSE(judge_run(lines_of("PTLAB-ENDING\n")).end_marker_seen);
    const Verdict v = judge_run(lines_of("[    5.0] PTLAB-END rc=3\n"));
    EXPECT_TRUE(v.end_marker_seen);
    EXPECT_EQ(v.guest_rc, 3);
    EXPECT_EQ(v.outcome, Outcome::Pass); // rc is informational
    EXPECT_EQ(judge_run(lines_of("PTLAB-END\n")).guest_rc, -1);
}

TEST(Run, CustomMarkers) {
    RunOptions options;
    options.end_marker = "DONE";
    EXPECT_EQ(judge_run(lines_of("DONE rc=0\n"), options).outcome, Outcome::Pass);
    EXPECT_EQ(judge_run(lines_of("PTLAB-END rc=0\n"), options).reason, reason::no_end_marker);
}

TEST(Run, UncleanReasons) {
    EXPECT_TRUE(is_unclean_end(reason::panic));
    EXPECT_TRUE(is_unclean_end(reason::timeout));
    EXPECT_TRUE(is_unclean_end(reason::no_end_marker));
    EXPECT_FALSE(is_unclean_end(reason::splat));
    EXPECT_FALSE(is_unclean_end(""));
}

} // namespace
} // namespace ptlab
