// The upstream selftests: their build from the step under test (on the fake tree: reused
// across steps with the same selftest sources, built again when they change, one suite's
// failure leaving the other), the archive that brings them into the guest, and their known
// results: chosen by the facts of the config and step, applied on the host as XFAIL (with the
// reason) or as an unexpected pass, and carried through KTAP.
#include "fake_tree.hpp"
#include "fixture.hpp"
#include "ptlab/kselftest.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"
#include "ptlab/splat.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab {
namespace {

using json = nlohmann::json;

const json table = json::parse(R"({
  "tests": [],
  "known_failures": [
    {"test": "mremap_test", "reason": "2 GiB regions in a 2 GiB guest"},
    {"test": "hugepage-shm", "when": {"page_size": "65536"}, "reason": "one 512 MiB page"},
    {"test": "khugepaged", "when": {"step": ["series-base", "series-head~1"]}, "reason": "x"},
    {"test": ["userfaultfd", "userfaultfd:shmem"], "reason": "UFFDIO_API"}
  ],
  "known_splats": [
    {"test": "hugetlb-madvise", "text": "i_mmap_assert_write_locked", "reason": "a 6.1 bug"},
    {"test": "map_hugetlb", "text": "x", "when": {"page_size": "65536"}, "reason": "y"}
  ]})");

TEST(Kselftest, KnownFailuresFollowTheFactsOfTheConfigAndStep) {
    const auto on_4k = known_failures(table, {{"page_size", "4096"}, {"step", "series-head"}});
    EXPECT_EQ(on_4k.size(), 3U);
    EXPECT_EQ(on_4k.at("mremap_test").reason, "2 GiB regions in a 2 GiB guest");
    EXPECT_EQ(on_4k.at("userfaultfd:shmem").reason, "UFFDIO_API") << "one row, several tests";
    const auto on_64k_base =
        known_failures(table, {{"page_size", "65536"}, {"step", "series-base"}});
    EXPECT_EQ(on_64k_base.size(), 5U);
    EXPECT_EQ(on_64k_base.at("hugepage-shm").reason, "one 512 MiB page");
    EXPECT_EQ(known_splats(table, {{"page_size", "4096"}}).size(), 1U);
    EXPECT_EQ(known_splats(table, {{"page_size", "65536"}}).size(), 2U);
}

/// A real console: the 4k-48 kselftest plan from mrelease_test to hugetlb-madvise's
/// result, where
/// gup_test -ct dumps struct pages on purpose and hugetlb-madvise's munmap() WARNs.
std::vector<std::string> hugetlb_console() {
    return read_lines(testing::fixture_path("real-4k48-kselftest-hugetlb-warn.log"));
}

TEST(Kselftest, ASplatIsExpectedOnlyWhileItsTestRunsAndWithItsText) {
    const auto lines = hugetlb_console();
    const KnownSplats known = {
        {"hugetlb-madvise", "i_mmap_assert_write_locked", "a 6.1 bug"},
        {"gup_test:dump_pages", "gup_test: dump_pages() test", "on purpose"}};
    const auto splats = find_splats(lines);
    ASSERT_EQ(splats.size(), 5U);
    EXPECT_EQ(selftest_running_at(lines, splats[0].line_number - 1), "gup_test:dump_pages");
    EXPECT_EQ(expected_splat(splats[0], lines, splats[0].line_number - 1, known),
              "known while gup_test:dump_pages runs: on purpose");
    for (std::size_t i = 1; i < splats.size(); ++i) {
        EXPECT_EQ(selftest_running_at(lines, splats[i].line_number - 1), "hugetlb-madvise");
        EXPECT_EQ(expected_splat(splats[i], lines, splats[i].line_number - 1, known),
                  "known while hugetlb-madvise runs: a 6.1 bug");
    }
    const KnownSplats other_test = {{"hugepage-mremap", "i_mmap_assert_write_locked", "r"}};
    EXPECT_EQ(expected_splat(splats[1], lines, splats[1].line_number - 1, other_test), "");
    const KnownSplats other_text = {{"hugetlb-madvise", "hugetlb_vmemmap", "r"}};
    EXPECT_EQ(expected_splat(splats[1], lines, splats[1].line_number - 1, other_text), "");
}

TEST(Kselftest, AKnownSplatIsReportedWithItsReasonAndDoesNotFailTheRun) {
    std::vector<std::string> lines = {"PTLAB-START plan=kselftest", "KTAP version 1", "1..1",
                                      "    KTAP version 1", "    1..1"};
    const auto real = hugetlb_console();
    const auto from = std::find_if(real.begin(), real.end(), [](const std::string &l) {
        return l.find("# Subtest: hugetlb-madvise") != std::string::npos;
    });
    lines.insert(lines.end(), from, real.end() - 1); // up to its "not ok"
    lines.insert(lines.end(), {"    ok 1 hugetlb-madvise", "ok 1 kselftest", "PTLAB-END rc=0"});
    RunOptions options;
    EXPECT_EQ(judge_run(lines, options).reason, reason::splat);
    options.known_splats = {{"hugetlb-madvise", "i_mmap_assert_write_locked", "a 6.1 bug"}};
    const Verdict v = judge_run(lines, options);
    EXPECT_EQ(v.outcome, Outcome::Pass) << v.detail;
    ASSERT_EQ(v.allowed_splats.size(), 4U);
    EXPECT_EQ(v.allowed_splats[0].expected, "known while hugetlb-madvise runs: a 6.1 bug");
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

namespace fs = std::filesystem;

class KselftestBuildTest : public ::testing::Test {
protected:
    KselftestBuild build(const std::string &step) {
        return build_kselftests(lab_.layout(), lab_.tree().head(), step, progress_);
    }
    /// A commit that changes one file of the fake tree.
    void commit_file(const std::string &path, const std::string &text) {
        std::ofstream(lab_.layout().src() / path) << text;
        lab_.commit("change " + path, "real-4k48-head-boot.log");
    }
    bool said(const std::string &text) const { return said_.str().find(text) != std::string::npos; }

    testing::FakeLab lab_;
    std::ostringstream said_;
    Progress progress_{said_, false};
};

TEST_F(KselftestBuildTest, OneBuildServesEveryStepWithTheSameSelftestSources) {
    const KselftestBuild first = build("series-head");
    EXPECT_FALSE(first.reused);
    EXPECT_TRUE(fs::exists(first.dir / "vm/fake_vm_test"))
        << "built for arm64 with the uapi headers";
    EXPECT_TRUE(fs::exists(first.dir / "kvm/aarch64/fake_kvm_test"));
    commit_file("Makefile", read_text_file(lab_.layout().src() / "Makefile") + "# mm change\n");
    const KselftestBuild again = build("series-head~1");
    EXPECT_TRUE(again.reused);
    EXPECT_EQ(again.key, first.key);
    EXPECT_TRUE(
        said("kselftests @ series-head~1: reused " + first.key + " (built for series-head)"))
        << said_.str();
}

TEST_F(KselftestBuildTest, AChangeToTheSelftestsOrTheUapiIsBuiltAgain) {
    const KselftestBuild first = build("series-base");
    commit_file("tools/testing/selftests/vm/new_test.c", "int main(void) { return 0; }\n");
    const KselftestBuild vm = build("series-head");
    EXPECT_FALSE(vm.reused);
    EXPECT_NE(vm.key, first.key);
    commit_file("include/uapi/fake.h", "#define FAKE 2\n");
    EXPECT_NE(build("series-head+1").key, vm.key);
}

TEST_F(KselftestBuildTest, ASuiteThatDoesNotBuildLeavesTheOthersTests) {
    commit_file("tools/testing/selftests/kvm/broken", "\n");
    const KselftestBuild b = build("series-head");
    EXPECT_TRUE(fs::exists(b.dir / "vm/fake_vm_test"));
    EXPECT_FALSE(fs::exists(b.dir / "kvm/aarch64/fake_kvm_test"));
    EXPECT_NE(read_text_file(b.dir / "kvm.log").find("make exited 2"), std::string::npos);
}

TEST_F(KselftestBuildTest, TheArchiveHoldsTheTestsTheirTableAndBash) {
    const KselftestBuild b = build("series-head");
    EXPECT_THROW(
        {
            try {
                (void)kselftest_cpio_list(lab_.layout(), b);
            } catch (const std::runtime_error &e) {
                EXPECT_NE(std::string(e.what()).find("make deps"), std::string::npos) << e.what();
                throw;
            }
        },
        std::runtime_error);
    const fs::path bash = lab_.layout().guest_bash();
    fs::create_directories(bash.parent_path());
    std::ofstream(bash) << "bash";
    const std::string list = kselftest_cpio_list(lab_.layout(), b);
    EXPECT_NE(list.find("file /kselftest/tests.json " + lab_.layout().kselftest_table().string()),
              std::string::npos);
    EXPECT_NE(list.find("file /bin/bash " + bash.string()), std::string::npos);
    EXPECT_NE(list.find("file /kselftest/vm/fake_vm_test "), std::string::npos);
    EXPECT_NE(list.find("dir /kselftest/kvm/aarch64 "), std::string::npos);
    EXPECT_NE(list.find("file /kselftest/kvm/aarch64/fake_kvm_test "), std::string::npos);
    EXPECT_EQ(list.find(".o "), std::string::npos) << "objects stay on the host";
}

TEST(Kselftest, OnlyKselftestPlansBringTheSelftests) {
    EXPECT_TRUE(wants_kselftests({"boot", "kselftest-kvm"}));
    EXPECT_TRUE(wants_kselftests({"kselftest"}));
    EXPECT_FALSE(wants_kselftests({"boot", "audit"}));
}

} // namespace
} // namespace ptlab
