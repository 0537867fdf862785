#include "fixture.hpp"
#include "ptlab/cli.hpp"
#include "ptlab/lines.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include <unistd.h>

namespace ptlab {
namespace {

using testing::fixture_path;

struct CliResult {
    int rc;
    std::string out;
    std::string err;
    [[nodiscard]] std::string last_line() const {
        const auto lines = split_lines(out);
        return lines.empty() ? std::string() : lines.back();
    }
};

CliResult run(std::vector<std::string> args) {
    args.insert(args.begin(), "ptlab");
    std::vector<const char *> argv;
    argv.reserve(args.size());
    for (const auto &a : args) {
        argv.push_back(a.c_str());
    }
    std::ostringstream out;
    std::ostringstream err;
    const int rc = run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
    return {rc, out.str(), err.str()};
}

std::string fix(const char *name) { return fixture_path(name).string(); }

class CliFiles : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("ptlab-cli-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    [[nodiscard]] std::string file(const char *name) const { return (dir_ / name).string(); }

private:
    std::filesystem::path dir_;
};

TEST(Cli, CheckLogPassAndFail) {
    auto r = run({"check-log", fix("synthetic-clean-nested.log")});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(r.last_line(), "6 passed, 0 failed");
    r = run({"check-log", fix("synthetic-lockdep-recursive.log")});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.last_line(), "2 passed, 1 failed");
    r = run({"check-log", "--timed-out", fix("synthetic-timeout.log")});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.out.find("verdict: FAIL (timeout"), std::string::npos);
}

TEST(Cli, AllowOptionForms) {
    EXPECT_EQ(run({"check-log", fix("synthetic-fault-injection.log")}).rc, 1);
    EXPECT_EQ(
        run({"check-log", "--allow", "alloc_failure", fix("synthetic-fault-injection.log")}).rc, 0);
    EXPECT_EQ(run({"check-log", fix("synthetic-fault-injection.log"), "--allow",
                   "kmemleak,alloc_failure"})
                  .rc,
              0);
    EXPECT_EQ(run({"check-log", fix("synthetic-fault-injection.log"), "--allow", "kmemleak",
                   "--allow", "alloc_failure"})
                  .rc,
              0);
    const auto bad = run({"check-log", "--allow", "nonsense", fix("synthetic-clean-nested.log")});
    EXPECT_EQ(bad.rc, 2);
    EXPECT_NE(bad.err.find("nonsense"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwo) {
    EXPECT_EQ(run({}).rc, 2);
    EXPECT_EQ(run({"check-log"}).rc, 2);
    EXPECT_EQ(run({"check-log", "/does/not/exist.log"}).rc, 2);
    EXPECT_EQ(run({"frobnicate"}).rc, 2);
    EXPECT_EQ(run({"config-get", "CONFIG_X"}).rc, 2);
    const auto help = run({"--help"});
    EXPECT_EQ(help.rc, 0);
    EXPECT_NE(help.out.find("check-log"), std::string::npos);
}

TEST_F(CliFiles, CheckLogWritesJsonJunitAndKtap) {
    const auto r =
        run({"check-log", fix("synthetic-oops-panic.log"), "--json", file("v.json"), "--junit",
             file("v.xml"), "--ktap-out", file("v.ktap"), "--label", "qemu-defconfig"});
    EXPECT_EQ(r.rc, 1);
    const auto j = nlohmann::json::parse(read_text_file(file("v.json")));
    EXPECT_EQ(j["reason"], "panic");
    EXPECT_EQ(j["title"], "qemu-defconfig");
    EXPECT_NE(read_text_file(file("v.xml")).find("<testsuite name=\"qemu-defconfig\""),
              std::string::npos);
    const std::string ktap = read_text_file(file("v.ktap"));
    EXPECT_NE(ktap.find("# Subtest: qemu-defconfig"), std::string::npos);
    EXPECT_NE(ktap.find("not ok 1 qemu-defconfig\n"), std::string::npos);

    // Merging several runs' blocks: counts add up.
    const auto clean =
        run({"check-log", fix("synthetic-clean-nested.log"), "--ktap-out", file("clean.ktap")});
    EXPECT_EQ(clean.rc, 0);
    const auto merged =
        run({"summarize", file("v.ktap"), file("clean.ktap"), fix("synthetic-gtest.json"), "--json",
             file("sum.json"), "--junit", file("sum.xml")});
    EXPECT_EQ(merged.rc, 1);
    EXPECT_EQ(merged.last_line(), "11 passed, 5 failed") << merged.out;
    EXPECT_EQ(nlohmann::json::parse(read_text_file(file("sum.json")))["counts"]["failed"], 5);
}

TEST_F(CliFiles, WriteFailureIsReported) {
    const auto r =
        run({"check-log", fix("synthetic-clean-nested.log"), "--json", file("missing-dir/v.json")});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("cannot write"), std::string::npos);
}

TEST(Cli, SummarizeKtapAndGtest) {
    const auto r =
        run({"summarize", fix("synthetic-host-checks.ktap"), fix("synthetic-gtest.json")});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.last_line(), "7 passed, 1 failed");
    EXPECT_NE(r.out.find("\n2 skipped\n"), std::string::npos);
    EXPECT_NE(r.out.find("PageTableModel.CtorCountsTables"), std::string::npos);
    const auto ok = run({"summarize", fix("synthetic-host-checks.ktap")});
    EXPECT_EQ(ok.rc, 0);
    EXPECT_EQ(ok.last_line(), "3 passed, 0 failed");
}

TEST(Cli, SummarizeFlagsFilesWithoutKtap) {
    const auto r = run({"summarize", fix("synthetic.config")});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.out.find("no KTAP output found"), std::string::npos);
    EXPECT_EQ(r.last_line(), "0 passed, 1 failed");
}

TEST(Cli, ConfigCheckAndGet) {
    auto r =
        run({"config-check", "--config", fix("synthetic.config"), fix("synthetic-ok.fragment")});
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out, "config-check: 10 options checked, all set as asked\n");
    r = run({"config-check", "--config", fix("synthetic.config"), fix("synthetic-ok.fragment"),
             fix("synthetic-bad.fragment")});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.out.find(fix("synthetic-bad.fragment") + ": CONFIG_KASAN: asked y, got not set\n"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(": CONFIG_TEST_KMOD: asked y, got m\n"), std::string::npos);
    // Symbols named by both fragments count once: the later fragment decides.
    EXPECT_EQ(r.last_line(), "config-check: 12 options checked, 4 not set as asked");

    EXPECT_EQ(run({"config-get", "--config", fix("synthetic.config"), "CONFIG_TEST_KMOD"}).out,
              "m\n");
    EXPECT_EQ(run({"config-get", "--config", fix("synthetic.config"), "KASAN"}).out, "n\n");
    EXPECT_EQ(run({"config-get", "--config", fix("synthetic.config"), "CONFIG_CMDLINE"}).out,
              "console=ttyAMA0 page_table_check=on\n");
}

} // namespace
} // namespace ptlab
