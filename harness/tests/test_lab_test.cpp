// make test as data (ptlab test): the table is checked before anything runs, a row with
// "configs": "all" follows each fragment's folding, and each kind judges what it ran, on
// the fake kernel tree booted by the fake QEMU.
#include "fake_tree.hpp"
#include "fixture.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/lab_test.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ptlab {
namespace {

using testing::FakeLab;
using testing::fixture_path;
using json = nlohmann::json;

class LabTest : public ::testing::Test {
protected:
    void SetUp() override {
        lab_ = std::make_unique<FakeLab>();
        (void)lab_->commit("fake: the baseline", "real-4k48-head-boot.log");
        lab_->tag("series-base");
        (void)lab_->commit("fake: the series", "real-4k48-head-boot.log");
        lab_->tag("series-head");
        setenv("FAKE_QEMU_MODE", "kernel", 1);
        places_ = {lab_->layout(), lab_->root() / "results", PTLAB_BINARY};
    }
    void TearDown() override { unsetenv("FAKE_QEMU_MODE"); }

    /// A row's env with the fake machine and a short timeout.
    json fake_env(json env) const {
        env["PTLAB_MACHINE"] = lab_->machine().string();
        env["TIMEOUT"] = "30";
        return env;
    }
    TestResult run(json row) const {
        const auto checks = load_checks(json{{"checks", json::array({std::move(row)})}}, places_);
        return run_check(checks.at(0), places_);
    }
    static std::string all(const TestResult &r) { return join_words(r.diagnostics, "\n"); }
    std::string table_error(const json &rows) const {
        try {
            (void)load_checks(json{{"checks", rows}}, places_);
        } catch (const CheckTableError &e) {
            return e.what();
        }
        return "(accepted)";
    }

    std::unique_ptr<FakeLab> lab_;
    CheckPlaces places_;
};

json command(const std::string &name, const std::string &script) {
    return {{"name", name}, {"kind", "command"}, {"argv", {"sh", "-c", script}}};
}

TEST_F(LabTest, TheTableIsCheckedBeforeAnythingRuns) {
    EXPECT_NE(table_error({{{"name", "x"}, {"kind", "nope"}}})
                  .find("check 'x': unknown kind 'nope'; kinds: command, refused,"),
              std::string::npos);
    EXPECT_EQ(table_error({{{"name", "x"}, {"kind", "commits"}, {"range", "a..b"}}}),
              "check 'x': kind commits needs 'count'");
    EXPECT_EQ(table_error({{{"name", "x"}, {"kind", "kernel"}, {"patch", "p"}}}),
              "check 'x': kind kernel has no field 'patch'");
    EXPECT_EQ(table_error({command("x", "true"), command("x", "false")}),
              "two checks are named 'x'");
    EXPECT_EQ(table_error(json::array({command("x", "{tmp}/a")})),
              "unknown place {tmp} in '{tmp}/a'; places: {top} {build} {src} {results} {ptlab}");
    EXPECT_EQ(table_error({{{"name", "x"}, {"kind", "kernel"}, {"suite", "nightly"}}}),
              "check 'x': unknown suite 'nightly'; suites: host, guest, full");
}

TEST_F(LabTest, PlacesAreFilledInAndARegexKeepsItsBraces) {
    EXPECT_EQ(expand_places("{src}/x", places_), (lab_->layout().src() / "x").string());
    EXPECT_EQ(expand_places("^[0-9]{2} {results}", places_),
              "^[0-9]{2} " + places_.results.string());
}

TEST_F(LabTest, EveryGeometryGetsTheStepsItsFoldingCalls) {
    const json row = {{"name", "config: {config} @ {step}"},
                      {"kind", "config-promises"},
                      {"configs", "all"},
                      {"steps", {"series-base", "series-head"}},
                      {"steps_when_pmd_folded", {"series-base", "series-head~1", "series-head"}},
                      {"env", {{"CONFIG", "{config}"}, {"STEP", "{step}"}}}};
    std::vector<std::string> names;
    for (const auto &check : load_checks(json{{"checks", {row}}}, places_)) {
        names.push_back(check.name);
        EXPECT_EQ(check.fields["env"]["CONFIG"], check.name.substr(8, check.name.find(' ', 8) - 8));
    }
    const auto has = [&](const std::string &name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    // 64k-42 and 16k-36 are 2-level: their PMD is folded. Each folded geometry gets one step
    // more, read from its fragment.
    EXPECT_TRUE(has("config: 64k-42 @ series-head~1"));
    EXPECT_TRUE(has("config: 16k-36 @ series-head~1"));
    EXPECT_FALSE(has("config: 4k-48 @ series-head~1"));
    EXPECT_TRUE(has("config: 4k-48 @ series-head"));
    std::size_t folded = 0;
    for (const auto &config : lab_->layout().config_names()) {
        folded += geometry_of_fragment(lab_->layout().geometry_fragment(config)).folded("pmd");
    }
    EXPECT_EQ(folded, 2U);
    EXPECT_EQ(names.size(), 2 * lab_->layout().config_names().size() + folded);
}

TEST_F(LabTest, ACommandPassesFailsOrSkipsByItsExitStatus) {
    EXPECT_EQ(run(command("pass", "echo fine")).status, Status::Pass);
    const TestResult failed = run(command("fail", "echo broken; exit 3"));
    EXPECT_EQ(failed.status, Status::Fail);
    EXPECT_EQ(all(failed), "broken\nexit status 3");
    const TestResult skipped = run(command("skip", "echo detail; echo no KVM here; exit 4"));
    EXPECT_EQ(skipped.status, Status::Skip);
    EXPECT_EQ(skipped.skip_reason, "no KVM here");
    json mapped = command("mapped", "exit 3");
    mapped["skip_status"] = {{"3", "Debian moved on"}};
    EXPECT_EQ(run(mapped).skip_reason, "Debian moved on");
}

TEST_F(LabTest, AnExpectedLineThatIsMissingFails) {
    json row = command("says", "echo 'source: BASE DRIFT: x'");
    row["output_matches"] = {"^source: BASE DRIFT: ", "^never"};
    const TestResult r = run(row);
    EXPECT_EQ(r.status, Status::Fail);
    EXPECT_NE(all(r).find("the output has no line matching '^never'"), std::string::npos);
}

TEST_F(LabTest, ADerivedFileIsMadeBeforeTheCheckAndMustChangeSomething) {
    json row = command("derived", "grep -q 'virt,no-such' {results}/m.json");
    row["derived_files"] = {
        {{"path", "{results}/m.json"},
         {"from", lab_->machine().string()},
         {"replace", {"\"machine\": \"virt,", "\"machine\": \"virt,no-such,"}}}};
    EXPECT_EQ(run(row).status, Status::Pass);
    row["derived_files"][0]["replace"] = {"absent", "x"};
    const TestResult r = run(row);
    EXPECT_EQ(r.status, Status::Fail);
    EXPECT_NE(all(r).find("'absent' changes nothing in"), std::string::npos);
}

TEST_F(LabTest, AGtestReportBecomesTheChecksSubtests) {
    json row = command("unit", "cp " + fixture_path("synthetic-gtest.json").string() +
                                   " {results}/unit.json");
    row["gtest_report"] = "{results}/unit.json";
    std::filesystem::create_directories(places_.results);
    const TestResult r = run(row);
    EXPECT_FALSE(r.subtests.empty());
    row["argv"] = {"true"};
    std::filesystem::remove(places_.results / "unit.json");
    EXPECT_NE(all(run(row)).find("no GoogleTest report"), std::string::npos);
}

TEST_F(LabTest, ACheckThatLeavesTheTreeElsewhereFails) {
    lab_->tree().checkout("series-head");
    json row = command("moves", "git -C {src} checkout -q series-base");
    const TestResult r = run(row);
    EXPECT_EQ(r.status, Status::Fail);
    EXPECT_NE(all(r).find("build/linux was left at"), std::string::npos);
    lab_->tree().checkout("series-head");
    row["moves_tree"] = true;
    EXPECT_EQ(run(row).status, Status::Pass);
}

TEST_F(LabTest, AGuestRunIsTheCheckWithItsKtapNested) {
    const TestResult r = run({{"name", "4k-48 @ series-head"},
                              {"kind", "guest"},
                              {"env", fake_env({{"CONFIG", "4k-48"}, {"PLANS", "boot"}})}});
    EXPECT_EQ(r.status, Status::Pass) << all(r);
    EXPECT_EQ(r.name, "4k-48 @ series-head");
    EXPECT_FALSE(r.subtests.empty());
}

TEST_F(LabTest, AGuestRunsOutputMustHaveTheLinesItsRowAsksFor) {
    json row = {{"name", "boot"},
                {"kind", "guest"},
                {"env", fake_env({{"CONFIG", "4k-48"}, {"PLANS", "boot"}})},
                {"output_matches", {"^boot 4k-48-debug @ series-head: plans boot"}}};
    EXPECT_EQ(run(row).status, Status::Pass) << all(run(row));
    row["output_matches"] = {"^kselftests @ series-head: reused"};
    const TestResult r = run(row);
    EXPECT_EQ(r.status, Status::Fail);
    EXPECT_NE(all(r).find("kselftests @ series-head: reused"), std::string::npos) << all(r);
}

TEST_F(LabTest, AnExpectedFailureMustFailForItsReason) {
    const std::string panics = lab_->commit("fake: panics", "synthetic-oops-panic.log");
    json row = {{"name", "panic"},
                {"kind", "expect-failure"},
                {"env", fake_env({{"STEP", panics}, {"PLANS", "boot"}})},
                {"reason", "panic"},
                {"report_matches", "Unable to handle kernel NULL pointer"}};
    EXPECT_EQ(run(row).status, Status::Pass) << all(run(row));
    row["reason"] = "timeout";
    EXPECT_NE(all(run(row)).find("expected a failure for 'timeout'"), std::string::npos);
    row["env"]["STEP"] = "series-head";
    EXPECT_NE(all(run(row)).find("the run passed; it should have failed"), std::string::npos);
}

TEST_F(LabTest, BadVariablesMustBeRefusedBeforeABuild) {
    json row = {{"name", "refused"},
                {"kind", "refused"},
                {"env", fake_env({{"PLANS", "boot no-such-plan"}})},
                {"message", "unknown plan 'no-such-plan'"}};
    EXPECT_EQ(run(row).status, Status::Pass) << all(run(row));
    row["env"]["PLANS"] = "boot";
    EXPECT_NE(all(run(row)).find("the run was accepted"), std::string::npos);
}

TEST_F(LabTest, MutantsAreOneSubtestEachCaughtAsTheCatalogueStates) {
    // The mutant: a patch that makes the kernel panic, never kept on the tree.
    const std::string panics = lab_->commit("fake: panics", "synthetic-oops-panic.log");
    const Captured patch = capture_process(
        {"git", "-C", lab_->layout().src().string(), "format-patch", "-1", "--stdout", panics});
    std::ofstream(lab_->root() / "panic.patch") << patch.out;
    lab_->tree().checkout("series-head");
    const std::string head = lab_->tree().head();
    json mutant = {{"name", "panics"},
                   {"patch", "panic.patch"},
                   {"defect", "a fake kernel that panics"},
                   {"onto", "series-head"},
                   {"configs", {"4k-48", "64k-48"}},
                   {"plans", "boot"},
                   {"make_test", "64k-48"},
                   {"expect",
                    {{"reason", "panic"},
                     {"by", "splat:oops"},
                     {"console_matches", {"Unable to handle kernel NULL pointer"}}}}};
    const auto catalogue = lab_->root() / "catalogue.json";
    std::ofstream(catalogue) << json{{"mutants", json::array({mutant})}}.dump();
    json row = {{"name", "mutants"},
                {"kind", "mutants"},
                {"catalogue", catalogue.string()},
                {"fast", true},
                {"env", fake_env({})}};
    const TestResult r = run(row);
    EXPECT_EQ(r.status, Status::Pass) << all(r);
    ASSERT_EQ(r.subtests.size(), 1U);
    EXPECT_EQ(r.subtests[0].name, "panics on 64k-48 @ series-head");
    EXPECT_EQ(lab_->tree().head(), head);
    mutant["expect"]["console_matches"] = {"a line no console has"};
    std::ofstream(catalogue) << json{{"mutants", json::array({mutant})}}.dump();
    row.erase("fast");
    const TestResult other = run(row);
    EXPECT_EQ(other.status, Status::Fail);
    ASSERT_EQ(other.subtests.size(), 2U);
    EXPECT_NE(join_words(other.subtests[1].diagnostics, "\n")
                  .find("the console has no line matching 'a line no console has'"),
              std::string::npos);
}

TEST_F(LabTest, ASeriesAsOneMboxAppliesInOrderOrIsRefusedNamingThePatch) {
    const fs::path src = lab_->layout().src();
    std::ofstream(src / "x.c") << "one\n";
    (void)lab_->commit("fake: add x", "real-4k48-head-boot.log");
    std::ofstream(src / "x.c") << "two\n";
    (void)lab_->commit("fake: change x", "real-4k48-head-boot.log");
    const fs::path folder = lab_->root() / "series";
    fs::create_directories(folder);
    (void)capture_process({"git", "-C", src.string(), "format-patch", "-q", "-o", folder.string(),
                           "series-head..HEAD"});
    lab_->tree().checkout("series-head");
    const std::string head = lab_->tree().head();
    json row = {
        {"name", "series"},
        {"kind", "series"},
        {"mbox_of", folder.string()},
        {"onto", "series-head"},
        {"output_matches", {": mbox: 2 patches$", "^SERIES applied on series-head: 2 commits"}}};
    TestResult r = run(row);
    EXPECT_EQ(r.status, Status::Pass) << all(r);
    EXPECT_EQ(lab_->tree().head(), head);
    // The second patch alone changes a file series-head does not have.
    ASSERT_TRUE(fs::remove(folder / "0001-fake-add-x.patch"));
    row.erase("output_matches");
    row["refused"] = "^that is patch 1/1 of SERIES=.*\\.mbox: \\[PATCH 2/2\\] fake: change x$";
    r = run(row);
    EXPECT_EQ(r.status, Status::Pass) << all(r);
    EXPECT_EQ(lab_->tree().head(), head);
    row["refused"] = "a message no refusal has";
    EXPECT_NE(all(run(row)).find("refused, but with no line matching"), std::string::npos);
}

TEST_F(LabTest, ChecksWriteOneKtapStreamAsTheyGo) {
    const auto checks =
        load_checks(json{{"checks", {command("one", "true"), command("two", "exit 1")}}}, places_);
    std::ostringstream progress;
    const auto results = run_checks(checks, places_, {}, progress);
    ASSERT_EQ(results.size(), 2U);
    const std::string ktap = read_text_file(places_.results / "checks.ktap");
    EXPECT_NE(ktap.find("KTAP version 1\n1..2\n"), std::string::npos);
    EXPECT_NE(ktap.find("ok 1 one"), std::string::npos);
    EXPECT_NE(ktap.find("not ok 2 two"), std::string::npos);
    EXPECT_NE(progress.str().find("FAILED"), std::string::npos);
    TestOptions only;
    only.only = "^two$";
    only.list = true;
    progress.str("");
    (void)run_checks(checks, places_, only, progress);
    EXPECT_EQ(progress.str(), "command\ttwo\n");
}

} // namespace
} // namespace ptlab
