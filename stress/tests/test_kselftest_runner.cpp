// The selftest runner on host programs: each outcome a real process (a shell script) gives,
// its output indented, a timeout, a test bounded by time, and a failure count.
#include "kselftest_runner.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace ptlab {
namespace {

namespace fs = std::filesystem;

class Runner : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("ptlab-kselftest-" + std::to_string(getpid()));
        fs::create_directories(root_ / "vm");
    }
    void TearDown() override { fs::remove_all(root_); }

    /// A test program: a shell script in root/vm.
    Selftest script(const std::string &name, const std::string &body) {
        const fs::path path = root_ / "vm" / name;
        std::ofstream(path) << "#!/bin/sh\n" << body << '\n';
        fs::permissions(path, fs::perms::owner_all);
        Selftest t;
        t.name = name;
        t.suite = "vm";
        t.argv = {"./" + name};
        t.timeout = 10;
        return t;
    }
    std::string result_of(const Selftest &t) {
        std::ostringstream nested;
        const Ran ran = run_test(t, root_, nested);
        std::ostringstream out;
        PlanWriter plan(out, 1);
        report(plan, t, ran);
        output_ = nested.str();
        return out.str().substr(std::string("KTAP version 1\n1..1\n").size());
    }

    fs::path root_;
    std::string output_;
};

TEST_F(Runner, ExitStatusesAreResults) {
    EXPECT_EQ(result_of(script("passes", "echo fine")), "ok 1 passes\n");
    EXPECT_EQ(output_, "    fine\n");
    EXPECT_EQ(result_of(script("skips", "echo detail; echo no KSM here; exit 4")),
              "ok 1 skips # SKIP no KSM here\n");
    EXPECT_EQ(result_of(script("fails", "exit 3")), "# exit status 3: ./fails\nnot ok 1 fails\n");
    EXPECT_EQ(result_of(script("crashes", "kill -SEGV $$")),
              "# killed by signal 11: ./crashes\nnot ok 1 crashes\n");
}

TEST_F(Runner, ATestThatOverrunsItsTimeoutFailsAndLeavesNothingBehind) {
    Selftest t = script("hangs", "echo started; sleep 30 & sleep 30");
    t.timeout = 1;
    EXPECT_EQ(result_of(t), "# timeout after 1 s: ./hangs\nnot ok 1 hangs\n");
    EXPECT_EQ(output_, "    started\n");
}

TEST_F(Runner, ATestKilledAtItsTimeoutKeepsTheLinesItsStdioBuffered) {
    // grep buffers a pipe's output fully and a terminal's by line: the line is seen only
    // when the runner gives the test a terminal.
    Selftest t = script("buffers", "(echo last words; sleep 30) | grep last");
    t.timeout = 2;
    EXPECT_EQ(result_of(t), "# timeout after 2 s: ./buffers\nnot ok 1 buffers\n");
    EXPECT_EQ(output_, "    last words\n");
}

TEST_F(Runner, ATestBoundedByTimePassesWhenStopped) {
    Selftest t = script("forever", "while :; do sleep 1; done");
    t.stop_after = 1;
    EXPECT_EQ(result_of(t), "# stopped after 1 s, as its table says\nok 1 forever\n");
}

TEST_F(Runner, AnExitStatusThatCountsFailuresIsNotASkip) {
    Selftest t = script("counts", "exit 4");
    t.exit_counts_failures = true;
    EXPECT_EQ(result_of(t), "# 4 of its checks failed: ./counts\nnot ok 1 counts\n");
}

TEST_F(Runner, ATestThatCannotStartSaysWhy) {
    Selftest t = script("absent", "");
    t.argv = {"./not-there"};
    EXPECT_EQ(result_of(t), "# exit status 127: ./not-there\nnot ok 1 absent\n");
    EXPECT_NE(output_.find("cannot run"), std::string::npos) << output_;
}

TEST_F(Runner, ATestRunsAsTheUserItsRowNames) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "changing user needs root";
    }
    Selftest t = script("whoami", "id -u; id -G");
    fs::permissions(root_ / "vm" / "whoami", fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::add);
    t.uid = 65534;
    EXPECT_EQ(result_of(t), "ok 1 whoami\n");
    EXPECT_EQ(output_, "    65534\n    65534\n") << "no group of root's left";
}

TEST(HugetlbPages, EnoughForItsMemoryAndAtLeastItsCount) {
    Selftest t;
    EXPECT_EQ(hugetlb_pages_needed(t, 2048), 0U);
    t.hugetlb_mib = 256;
    EXPECT_EQ(hugetlb_pages_needed(t, 2048), 128U);
    EXPECT_EQ(hugetlb_pages_needed(t, 524288), 1U) << "one 512 MiB page holds 256 MiB";
    EXPECT_EQ(hugetlb_pages_needed(t, 0), 0U) << "no hugetlb support";
    t.hugetlb_mib = 10;
    t.hugetlb_pages = 20;
    EXPECT_EQ(hugetlb_pages_needed(t, 2048), 20U);
    EXPECT_EQ(hugetlb_pages_needed(t, 32), 320U);
}

TEST_F(Runner, TheTableGivesTheSuitesTestsInOrder) {
    const auto table = nlohmann::json::parse(R"({"tests": [
        {"suite": "vm", "name": "a", "timeout": 5},
        {"suite": "kvm", "name": "aarch64/b", "argv": ["aarch64/b", "-v", "1"]},
        {"suite": "vm", "name": "c", "left_out": "why", "hugetlb_mib": 256, "hugetlb_pages": 2}]})");
    const auto vm = tests_of(table, "vm");
    ASSERT_EQ(vm.size(), 2U);
    EXPECT_EQ(vm[0].timeout, 5);
    EXPECT_EQ(vm[1].left_out, "why");
    EXPECT_EQ(vm[1].hugetlb_mib, 256);
    EXPECT_EQ(vm[1].hugetlb_pages, 2);
    const auto all = tests_of(table, "all");
    ASSERT_EQ(all.size(), 3U);
    EXPECT_EQ(all[1].argv, (std::vector<std::string>{"aarch64/b", "-v", "1"}));
    EXPECT_EQ(all[1].timeout, 120);
}

} // namespace
} // namespace ptlab
