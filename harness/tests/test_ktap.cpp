#include "fixture.hpp"
#include "ptlab/ktap.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace ptlab {
namespace {

using testing::fixture_lines;
using testing::lines_of;

const TestResult &child(const TestResult &t, std::size_t i) {
    EXPECT_LT(i, t.subtests.size()) << "in " << t.name;
    return t.subtests.at(i);
}

bool has_diag_containing(const TestResult &t, std::string_view text) {
    for (const auto &d : t.diagnostics) {
        if (d.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

TEST(Ktap, CleanBootLogWithNestedKunitAndUserspace) {
    const KtapLog log = parse_ktap(fixture_lines("synthetic-clean-nested.log"));
    ASSERT_TRUE(log.found);
    EXPECT_EQ(log.documents, 2); // kunit (kernel stream) + /init's plan (console stream)
    const TestResult &root = log.root;
    EXPECT_EQ(root.status, Status::Pass);
    ASSERT_EQ(root.subtests.size(), 5U);

    const TestResult &ctor = child(root, 0);
    EXPECT_EQ(ctor.name, "pgtable_ctor");
    EXPECT_EQ(ctor.status, Status::Pass);
    EXPECT_EQ(ctor.expected_count, 3);
    ASSERT_EQ(ctor.subtests.size(), 3U);
    EXPECT_EQ(child(ctor, 0).name, "pte_ctor_counts_pages");
    EXPECT_EQ(child(ctor, 2).status, Status::Skip);
    EXPECT_EQ(child(ctor, 2).skip_reason, "PUD folding enabled");
    EXPECT_TRUE(has_diag_containing(child(ctor, 2), "PUD level folded"));
    // kunit's suite statistics (printed at the parent's indent) go to the suite's result.
    EXPECT_TRUE(has_diag_containing(ctor, "pgtable_ctor: pass:2 fail:0 skip:1 total:3"));

    const TestResult &split = child(root, 1);
    EXPECT_EQ(split.name, "pgtable_split");
    const TestResult &params = child(split, 0);
    EXPECT_EQ(params.name, "split_pmd_params");
    EXPECT_EQ(params.expected_count, -1);
    ASSERT_EQ(params.subtests.size(), 2U);
    EXPECT_EQ(child(params, 1).name, "64K");
    EXPECT_EQ(child(params, 1).status, Status::Skip);

    const TestResult &mmap = child(root, 2);
    EXPECT_EQ(mmap.name, "mmap_stress");
    EXPECT_DOUBLE_EQ(mmap.seconds, 0.42);
    EXPECT_TRUE(has_diag_containing(mmap, "running mmap stress"));
    const TestResult &thp = child(root, 3);
    EXPECT_DOUBLE_EQ(thp.seconds, 1.25);
    EXPECT_DOUBLE_EQ(child(thp, 0).seconds, 0.10);
    EXPECT_LT(child(thp, 1).seconds, 0);
    EXPECT_EQ(child(thp, 1).skip_reason, "THP disabled in this config");
    EXPECT_EQ(child(root, 4).status, Status::Skip);
    EXPECT_EQ(root.expected_count, 5);
}

TEST(Ktap, NotOkCarriesPrecedingDiagnosticsAndContinuationLines) {
    const auto log = parse_ktap(lines_of(R"(KTAP version 1
1..1
    KTAP version 1
    # Subtest: example
    1..2
    # example_simple_test: initializing
    ok 1 example_simple_test
    # example_failing_test: EXPECTATION FAILED at lib/kunit/kunit-example-test.c:52
        Expected 1 + 1 == 3, but
            1 + 1 == 2 (0x2)
    not ok 2 example_failing_test
# example: pass:1 fail:1 skip:0 total:2
not ok 1 example
)"));
    const TestResult &suite = child(log.root, 0);
    EXPECT_EQ(suite.status, Status::Fail);
    const TestResult &failing = child(suite, 1);
    EXPECT_EQ(failing.status, Status::Fail);
    ASSERT_EQ(failing.diagnostics.size(), 3U);
    EXPECT_EQ(failing.diagnostics[0],
              "example_failing_test: EXPECTATION FAILED at lib/kunit/kunit-example-test.c:52");
    EXPECT_EQ(failing.diagnostics[1], "Expected 1 + 1 == 3, but");
    EXPECT_EQ(failing.diagnostics[2], "1 + 1 == 2 (0x2)");
    EXPECT_EQ(child(suite, 0).diagnostics.size(), 1U);
    EXPECT_EQ(log.root.status, Status::Fail);
}

// The guest's /init prints "ok N plan # SKIP" for a plan that exited 4; the reason is in the
// plan's own stream, never in a side channel.
TEST(Ktap, SkipReasonComesFromTheBlocksOwnStream) {
    const KtapLog log = parse_ktap(lines_of("KTAP version 1\n1..3\n"
                                            "    # Subtest: audit\n"
                                            "    1..0 # SKIP no module for this kernel\n"
                                            "ok 1 audit # SKIP\n"
                                            "    # Subtest: kvm\n"
                                            "    1..1\n"
                                            "    ok 1 kvm # SKIP no /dev/kvm\n"
                                            "ok 2 kvm # SKIP\n"
                                            "    # Subtest: efi\n"
                                            "    1..0 # SKIP no efivarfs\n"
                                            "ok 3 efi\n"));
    ASSERT_EQ(log.root.subtests.size(), 3U);
    EXPECT_EQ(child(log.root, 0).status, Status::Skip);
    EXPECT_EQ(child(log.root, 0).skip_reason, "no module for this kernel");
    EXPECT_EQ(child(log.root, 1).skip_reason, "kvm: no /dev/kvm");
    EXPECT_EQ(child(log.root, 2).status, Status::Skip) << "1..0 # SKIP is the skip";
    EXPECT_EQ(child(log.root, 2).skip_reason, "no efivarfs");
}

TEST(Ktap, PlanMismatchAtTopLevelIsAnError) {
    const auto log = parse_ktap(fixture_lines("synthetic-plan-mismatch.log"));
    EXPECT_EQ(log.root.status, Status::Error);
    ASSERT_FALSE(log.root.diagnostics.empty());
    EXPECT_EQ(log.root.diagnostics[0], "expected 5 tests, got 3");
    EXPECT_EQ(log.root.subtests.size(), 3U);
    for (const auto &t : log.root.subtests) {
        EXPECT_EQ(t.status, Status::Pass);
    }
}

TEST(Ktap, PlanMismatchInSubtestMarksThatTest) {
    const auto log = parse_ktap(lines_of(R"(KTAP version 1
1..1
    # Subtest: suite
    1..3
    ok 1 a
    ok 2 b
ok 1 suite
)"));
    const TestResult &suite = child(log.root, 0);
    EXPECT_EQ(suite.status, Status::Error);
    EXPECT_EQ(suite.diagnostics.at(0), "expected 3 tests, got 2");
    EXPECT_EQ(log.root.status, Status::Fail); // no document-level error
}

TEST(Ktap, LogEndingInsideSubtestIsAnError) {
    const auto log = parse_ktap(lines_of(R"(KTAP version 1
1..2
ok 1 first
    KTAP version 1
    # Subtest: second
    1..3
    ok 1 a
[   30.000000] Kernel panic - not syncing: Fatal exception
)"));
    ASSERT_EQ(log.root.subtests.size(), 2U);
    const TestResult &second = child(log.root, 1);
    EXPECT_EQ(second.name, "second");
    EXPECT_EQ(second.status, Status::Error);
    EXPECT_TRUE(has_diag_containing(second, "log ended inside subtest 'second'"));
    EXPECT_TRUE(has_diag_containing(second, "expected 3 tests, got 1"));
    EXPECT_EQ(second.subtests.size(), 1U);
    EXPECT_EQ(log.root.status, Status::Fail); // 2 of 2 planned results are there
}

TEST(Ktap, OutOfOrderResultsAreErrors) {
    const auto log = parse_ktap(lines_of("KTAP version 1\n1..3\nok 1 a\nok 3 c\nok 2 b\n"));
    ASSERT_EQ(log.root.subtests.size(), 3U);
    EXPECT_EQ(child(log.root, 0).status, Status::Pass);
    EXPECT_EQ(child(log.root, 1).status, Status::Error);
    EXPECT_TRUE(has_diag_containing(child(log.root, 1), "numbered 3, expected 2"));
    EXPECT_EQ(child(log.root, 2).status, Status::Error);
}

TEST(Ktap, OkParentWithFailedSubtestIsFail) {
    const auto log = parse_ktap(lines_of(R"(TAP version 14
1..1
  # Subtest: parent
  1..2
  ok 1 - good
  not ok 2 - bad
ok 1 - parent
)"));
    const TestResult &parent = child(log.root, 0);
    EXPECT_EQ(parent.status, Status::Fail);
    EXPECT_EQ(parent.diagnostics.at(0), "reported ok but subtest 'bad' failed");
    EXPECT_EQ(child(parent, 1).status, Status::Fail);
}

TEST(Ktap, Tap13WithSubtestHeaderAtParentLevelAndTwoSpaceIndent) {
    const auto log = parse_ktap(lines_of(R"(TAP version 13
1..2
# Subtest: outer
  1..1
  # Subtest: inner
    1..2
    ok 1 - x
    ok 2 - y
  ok 1 - inner
ok 1 - outer
ok 2 - last
)"));
    ASSERT_EQ(log.root.subtests.size(), 2U);
    const TestResult &outer = child(log.root, 0);
    EXPECT_EQ(outer.status, Status::Pass);
    ASSERT_EQ(outer.subtests.size(), 1U);
    EXPECT_EQ(child(outer, 0).name, "inner");
    EXPECT_EQ(child(outer, 0).subtests.size(), 2U);
    EXPECT_EQ(log.root.status, Status::Pass);
}

TEST(Ktap, UnterminatedSubtestUsesSubtestHeaderNameWhenLogEnds) {
    const auto log = parse_ktap(lines_of("KTAP version 1\n1..1\n# Subtest: outer\n  1..1\n"));
    ASSERT_EQ(log.root.subtests.size(), 1U);
    EXPECT_EQ(child(log.root, 0).name, "outer");
    EXPECT_EQ(child(log.root, 0).status, Status::Error);
}

TEST(Ktap, DirectivesAndNames) {
    const auto log = parse_ktap(lines_of(R"(KTAP version 1
1..6
ok 1 - plain name
not ok 2 no dash # SKIP not supported here
ok 3 with\#hash # skip: lower case
not ok 4 - known bug # TODO fix later
ok 5 - done # TODO
not ok 6 - test#7
)"));
    ASSERT_EQ(log.root.subtests.size(), 6U);
    EXPECT_EQ(child(log.root, 0).name, "plain name");
    EXPECT_EQ(child(log.root, 1).name, "no dash");
    EXPECT_EQ(child(log.root, 1).status, Status::Skip);
    EXPECT_EQ(child(log.root, 1).skip_reason, "not supported here");
    EXPECT_EQ(child(log.root, 2).name, "with#hash");
    EXPECT_EQ(child(log.root, 2).skip_reason, "lower case");
    EXPECT_EQ(child(log.root, 3).status, Status::Skip);
    EXPECT_EQ(child(log.root, 3).skip_reason, "TODO: fix later");
    EXPECT_EQ(child(log.root, 4).status, Status::Pass);
    EXPECT_EQ(child(log.root, 5).name, "test#7");
    EXPECT_EQ(child(log.root, 5).status, Status::Fail);
}

TEST(Ktap, TimeOnlyAppliesDirectlyBeforeResult) {
    const auto log = parse_ktap(lines_of(R"(KTAP version 1
1..3
# time=1.5
[    3.000000] some printk noise does not break it
ok 1 a
# time=2.0
# another diagnostic in between
ok 2 b
# time=bogus
ok 3 c
)"));
    EXPECT_DOUBLE_EQ(child(log.root, 0).seconds, 1.5);
    EXPECT_LT(child(log.root, 1).seconds, 0);
    EXPECT_LT(child(log.root, 2).seconds, 0);
    EXPECT_TRUE(has_diag_containing(child(log.root, 2), "time=bogus"));
}

TEST(Ktap, NoiseAndKernelTimestampsInterleaved) {
    const auto log = parse_ktap(fixture_lines("synthetic-ktap-noise.log"));
    EXPECT_EQ(log.root.status, Status::Pass) << ::testing::PrintToString(log.root.diagnostics);
    ASSERT_EQ(log.root.subtests.size(), 5U);
    EXPECT_EQ(child(log.root, 0).name, "noisy_first");
    EXPECT_DOUBLE_EQ(child(log.root, 0).seconds, 0.5);
    EXPECT_EQ(child(log.root, 1).name, "nested_noise");
    EXPECT_EQ(child(log.root, 1).subtests.size(), 2U);
    EXPECT_EQ(child(log.root, 1).expected_count, 2);
    // The kunit document printed by the kernel in the middle is merged in line order.
    EXPECT_EQ(child(log.root, 2).name, "kunit_in_the_middle");
    EXPECT_EQ(child(log.root, 3).status, Status::Skip);
    EXPECT_EQ(child(log.root, 4).status, Status::Skip);
}

TEST(Ktap, SequentialDocumentsAreMergedWithPerDocumentPlans) {
    const auto log = parse_ktap(lines_of(R"(KTAP version 1
1..1
ok 1 a
KTAP version 1
1..2
ok 1 b
)"));
    EXPECT_EQ(log.documents, 2);
    ASSERT_EQ(log.root.subtests.size(), 2U);
    EXPECT_EQ(log.root.status, Status::Error);
    EXPECT_EQ(log.root.diagnostics.at(0), "document 2: expected 2 tests, got 1");
}

TEST(Ktap, NonKtapInputFindsNothing) {
    const auto log = parse_ktap(lines_of("hello\n[ 1.0] world\n#0: not a diagnostic\n"));
    EXPECT_FALSE(log.found);
    EXPECT_TRUE(log.root.subtests.empty());
    EXPECT_EQ(log.root.status, Status::Pass);
}

TEST(Ktap, HeaderlessResultsStillParse) {
    const auto log = parse_ktap(lines_of("ok 1 a\nnot ok 2 b\n"));
    EXPECT_TRUE(log.found);
    ASSERT_EQ(log.root.subtests.size(), 2U);
    EXPECT_EQ(log.root.status, Status::Fail);
}

void expect_same_tree(const TestResult &a, const TestResult &b) {
    EXPECT_EQ(a.name, b.name);
    const bool a_ok = a.status == Status::Pass || a.status == Status::Skip;
    const bool b_ok = b.status == Status::Pass || b.status == Status::Skip;
    EXPECT_EQ(a_ok, b_ok) << a.name;
    EXPECT_EQ(a.skip_reason, b.skip_reason) << a.name;
    EXPECT_DOUBLE_EQ(a.seconds, b.seconds) << a.name;
    ASSERT_EQ(a.subtests.size(), b.subtests.size()) << a.name;
    for (std::size_t i = 0; i < a.subtests.size(); ++i) {
        expect_same_tree(a.subtests[i], b.subtests[i]);
    }
}

TEST(Ktap, WriteThenParseRoundTrips) {
    for (const char *name : {"synthetic-clean-nested.log", "synthetic-ktap-noise.log"}) {
        SCOPED_TRACE(name);
        const auto first = parse_ktap(fixture_lines(name));
        std::ostringstream out;
        out << "KTAP version 1\n1.." << first.root.subtests.size() << '\n';
        write_ktap_results(out, first.root.subtests);
        const auto second = parse_ktap(lines_of(out.str()));
        EXPECT_EQ(second.root.status, Status::Pass) << out.str();
        expect_same_tree(first.root, second.root);
    }
}

TEST(Ktap, WriterEscapesHashAndProtectsReservedDiagnostics) {
    TestResult t;
    t.name = "splat: oops: Internal error: Oops: 96000045 [#1] SMP";
    t.status = Status::Fail;
    t.diagnostics = {"time=3", "Subtest: fake"};
    std::ostringstream out;
    write_ktap_results(out, {t});
    const auto log = parse_ktap(lines_of(out.str()));
    ASSERT_EQ(log.root.subtests.size(), 1U);
    EXPECT_EQ(child(log.root, 0).name, t.name);
    EXPECT_LT(child(log.root, 0).seconds, 0);
    EXPECT_EQ(child(log.root, 0).diagnostics.size(), 2U);
}

TEST(Ktap, ContainsStatus) {
    TestResult parent;
    parent.subtests.resize(1);
    parent.subtests[0].status = Status::Error;
    EXPECT_TRUE(contains_status(parent, Status::Error));
    EXPECT_FALSE(contains_status(parent, Status::Skip));
    EXPECT_EQ(status_name(Status::Skip), "SKIP");
}

} // namespace
} // namespace ptlab
