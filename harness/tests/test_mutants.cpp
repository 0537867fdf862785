// The mutant catalogue: its checks, the cells make mutants runs, what real runs of two
// mutants found, the judgement of a cell, and a whole make mutants on the fake tree.
#include "fake_tree.hpp"
#include "fixture.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/mutants.hpp"
#include "ptlab/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ptlab {
namespace {

using nlohmann::json;
using testing::fixture_text;

Layout real_layout() {
    return Layout::at(std::filesystem::path(PTLAB_GEOMETRY_DIR).parent_path().parent_path());
}

json entry(const std::string &name) {
    return {{"name", name},
            {"patch", "some.patch"},
            {"defect", "a defect"},
            {"onto", "series-head"},
            {"configs", {"4k-48", "64k-48"}},
            {"plans", "audit"},
            {"expect", {{"reason", "test failures"}, {"by", "test:audit/efi_mm/efi_mm.pud"}}}};
}

class Catalogue : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ptlab-catalogue-" + std::to_string(getpid()));
        fs::create_directories(dir_);
        std::ofstream(dir_ / "some.patch") << "a patch\n";
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::vector<Mutant> load(const std::vector<json> &entries) const {
        std::ofstream(dir_ / "catalogue.json") << json{{"mutants", entries}}.dump();
        return load_catalogue(dir_ / "catalogue.json", real_layout());
    }
    std::string error_of(const std::vector<json> &entries) const {
        try {
            (void)load(entries);
        } catch (const std::exception &e) {
            return e.what();
        }
        return "";
    }

    fs::path dir_;
};

TEST_F(Catalogue, AnEntryIsReadWithItsPatchBesideTheCatalogue) {
    json e = entry("efi-pud");
    e["make_test"] = "64k-48";
    e["kernel_args"] = "oops=panic";
    e["timeout"] = 120;
    const auto mutants = load({e});
    ASSERT_EQ(mutants.size(), 1U);
    EXPECT_EQ(mutants[0].patch, dir_ / "some.patch");
    EXPECT_EQ(mutants[0].steps, std::vector<std::string>{"series-head"});
    EXPECT_EQ(mutants[0].plans, std::vector<std::string>{"audit"});
    EXPECT_EQ(mutants[0].fast_config, "64k-48");
    EXPECT_EQ(mutants[0].kernel_args, "oops=panic");
    EXPECT_EQ(mutants[0].timeout_seconds, 120);
}

TEST_F(Catalogue, ABadEntryIsNamedWithWhatIsValid) {
    json e = entry("efi-pud");
    e["configs"] = {"4k-47"};
    const std::string config = error_of({e});
    EXPECT_NE(config.find("mutant efi-pud: unknown CONFIG '4k-47'; valid names: "),
              std::string::npos)
        << config;
    EXPECT_NE(config.find("64k-52"), std::string::npos) << config;
    e = entry("efi-pud");
    e["plans"] = "audit no-such-plan";
    EXPECT_NE(error_of({e}).find("unknown plan 'no-such-plan'"), std::string::npos);
    e = entry("efi-pud");
    e["patch"] = "missing.patch";
    EXPECT_NE(error_of({e}).find("no patch " + (dir_ / "missing.patch").string()),
              std::string::npos);
    e = entry("efi-pud");
    e["make_test"] = "16k-36";
    EXPECT_NE(error_of({e}).find("make_test names 16k-36, not one of its configs"),
              std::string::npos);
    e = entry("efi-pud");
    e["expect"].erase("by");
    EXPECT_NE(error_of({e}).find("mutant efi-pud: "), std::string::npos);
    EXPECT_NE(error_of({entry("a"), entry("a")}).find("two mutants named a"), std::string::npos);
}

TEST_F(Catalogue, CellsAreEachStepTimesEachConfigOrMakeTestsOne) {
    json two_steps = entry("tlb");
    two_steps["onto"] = {"series-head", "series-base"};
    two_steps["make_test"] = "4k-48";
    const auto mutants = load({entry("efi-pud"), two_steps});
    const auto all = mutant_cells(mutants, {}, {}, false);
    ASSERT_EQ(all.size(), 6U);
    EXPECT_EQ(all[2].mutant->name, "tlb");
    EXPECT_EQ(all[2].config + " " + all[2].step, "4k-48 series-head");
    EXPECT_EQ(all[5].config + " " + all[5].step, "64k-48 series-base");
    EXPECT_EQ(mutant_cells(mutants, {"tlb"}, {"64k-48"}, false).size(), 2U);
    const auto fast = mutant_cells(mutants, {}, {}, true);
    ASSERT_EQ(fast.size(), 1U);
    EXPECT_EQ(fast[0].config + " " + fast[0].step, "4k-48 series-head");
    try {
        (void)mutant_cells(mutants, {"tbl"}, {}, false);
        ADD_FAILURE() << "an unknown mutant was accepted";
    } catch (const CatalogueError &e) {
        EXPECT_STREQ(e.what(), "unknown mutant 'tbl'; mutants: efi-pud tlb");
    }
}

TEST(MutantDetections, ARealAuditFailureIsItsFailingTestUnderItsPlan) {
    const json result =
        json::parse(fixture_text("real-4k48-mutant-efi-pud-gets-pmd-ctor.result.json"));
    const auto found = detections_of(result);
    ASSERT_EQ(found.size(), 1U);
    EXPECT_EQ(found[0].what, "test:audit/efi_mm/efi_mm.pud");
}

TEST(MutantDetections, ARealBootPanicIsItsSplatsAndWhatNeverRan) {
    const json result = json::parse(fixture_text("real-64k48-mutant-efi-pte-no-ctor.result.json"));
    const auto found = detections_of(result);
    ASSERT_GE(found.size(), 2U);
    EXPECT_EQ(found[0].what, "splat:oops");
    EXPECT_EQ(found[1].what, "splat:panic");
}

TEST(MutantDetections, RepeatsAreCountedAndBrokenPromisesNamedAsSuch) {
    const json result = {
        {"splats", {{{"kind", "bad_page"}}, {{"kind", "bad_page"}}, {{"kind", "warning"}}}},
        {"tests",
         {{{"name", "promises"},
           {"status", "fail"},
           {"subtests",
            {{{"name", "split_pmd (config)"}, {"status", "fail"}},
             {{"name", "page_size (config)"}, {"status", "pass"}}}}},
          {{"name", "thp"},
           {"status", "fail"},
           {"subtests",
            {{{"name", "teardown"},
              {"status", "fail"},
              {"subtests", {{{"name", "pagetables"}, {"status", "fail"}}}}}}}}}}};
    const auto found = detections_of(result);
    ASSERT_EQ(found.size(), 4U);
    EXPECT_EQ(found[0].what, "splat:bad_page");
    EXPECT_EQ(found[0].count, 2);
    EXPECT_EQ(found[1].what, "splat:warning");
    EXPECT_EQ(found[2].what, "promise:split_pmd (config)");
    EXPECT_EQ(found[3].what, "test:thp/teardown/pagetables");
}

MutantResult judged(const MutantExpectation &expect, const json &result,
                    const std::string &console = "") {
    MutantResult r;
    r.expect = expect;
    judge_mutant(result, console, r);
    return r;
}

TEST(MutantJudgement, CaughtOnlyForTheStatedReasonByTheStatedDetection) {
    const json result = json::parse(fixture_text("real-64k48-mutant-efi-pte-no-ctor.result.json"));
    const std::string console = fixture_text("real-64k48-mutant-efi-pte-no-ctor.console");
    MutantExpectation expect{"panic", "splat:oops", {"__apply_to_page_range", "efi_set_mapping"}};
    MutantResult r = judged(expect, result, console);
    EXPECT_EQ(r.outcome, MutantOutcome::Caught) << join_words(r.problems, "\n");
    EXPECT_EQ(caught_by_text(r), "splat oops");

    expect.reason = "test failures";
    r = judged(expect, result, console);
    EXPECT_EQ(r.outcome, MutantOutcome::Other);
    EXPECT_EQ(r.problems.at(0), "caught as 'panic', the catalogue says 'test failures'");

    expect = {"panic", "splat:bad_page", {}};
    r = judged(expect, result, console);
    EXPECT_EQ(r.outcome, MutantOutcome::Other);
    EXPECT_EQ(r.problems.at(0), "no splat:bad_page among what the run found");
    EXPECT_EQ(caught_by_text(r), "splat oops, splat panic");

    expect = {"panic", "splat:oops", {"pmd_free_tlb"}};
    r = judged(expect, result, console);
    EXPECT_EQ(r.problems.at(0), "the console has no line matching 'pmd_free_tlb'");
}

TEST(MutantJudgement, ARunThatPassedMissedTheMutant) {
    const MutantResult r = judged({"splat", "splat:bad_page", {}},
                                  {{"outcome", "pass"}, {"reason", ""}, {"tests", json::array()}});
    EXPECT_EQ(r.outcome, MutantOutcome::Missed);
    EXPECT_STREQ(outcome_name(r.outcome), "NO");
}

TEST(MutantTable, OneRowPerCellItsProblemsUnderItAndTheCountsLast) {
    MutantResult caught;
    caught.name = "pte-free-tlb-no-dtor";
    caught.config = "4k-48";
    caught.step = "series-head";
    caught.outcome = MutantOutcome::Caught;
    caught.expect.by = "splat:bad_page";
    caught.detections = {{"splat:bad_page", 55}, {"test:thp/teardown/pagetables", 1}};
    caught.seconds = 108;
    MutantResult missed = caught;
    missed.name = "pte-free-no-dtor";
    missed.outcome = MutantOutcome::Missed;
    missed.detections.clear();
    missed.problems = {"the run passed: the lab did not see the defect"};
    std::ostringstream out;
    print_mutant_table(out, {caught, missed});
    const auto lines = split_lines(out.str());
    ASSERT_EQ(lines.size(), 5U) << out.str();
    EXPECT_TRUE(lines[0].starts_with("MUTANT ")) << lines[0];
    EXPECT_NE(lines[1].find("yes     splat bad_page x55"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("pte-free-no-dtor"), std::string::npos);
    EXPECT_NE(lines[2].find(" NO "), std::string::npos) << out.str();
    EXPECT_EQ(lines[3], "    the run passed: the lab did not see the defect");
    EXPECT_EQ(lines[4], "1 caught as stated, 1 missed, 0 caught otherwise, 0 errors");
    const json j = json::parse(mutant_results_json({caught, missed}));
    EXPECT_EQ(j["cells"][0]["by"], "splat bad_page x55");
    EXPECT_EQ(j["cells"][1]["caught"], "NO");
}

// make mutants on the fake tree: one mutant that panics the fake kernel (caught), one that
// changes nothing the guest shows (missed), one that does not apply (an error).
class Mutants : public ::testing::Test {
protected:
    void SetUp() override {
        lab_ = std::make_unique<testing::FakeLab>();
        (void)lab_->commit("fake: the baseline", "real-4k48-head-boot.log");
        lab_->tag("series-base");
        (void)lab_->commit("fake: the series", "real-4k48-head-boot.log");
        lab_->tag("series-head");
        patch("panics.patch", lab_->commit("fake: panics", "synthetic-oops-panic.log"));
        // Written on top of another change to the same file: it cannot apply on series-head.
        patch("conflicts.patch", lab_->commit("fake: conflicts", "synthetic-timeout.log"));
        lab_->tree().checkout("series-head");
        std::ofstream(lab_->layout().src() / "harmless.c") << "/* nothing the guest sees */\n";
        patch("harmless.patch", lab_->commit("fake: harmless", "real-4k48-head-boot.log"));
        lab_->tree().checkout("series-head");
        setenv("FAKE_QEMU_MODE", "kernel", 1);
    }
    void TearDown() override { unsetenv("FAKE_QEMU_MODE"); }

    void patch(const std::string &name, const std::string &sha) const {
        const Captured p = capture_process(
            {"git", "-C", lab_->layout().src().string(), "format-patch", "-1", "--stdout", sha});
        std::ofstream(lab_->root() / name) << p.out;
    }
    MutantsRequest request(const std::vector<json> &entries) const {
        std::ofstream(lab_->root() / "catalogue.json") << json{{"mutants", entries}}.dump();
        const std::map<std::string, std::string> values = {
            {"PTLAB_MACHINE", lab_->machine().string()}, {"TIMEOUT", "30"}};
        MutantsRequest m = mutants_request_from(
            [values](const std::string &name) -> std::optional<std::string> {
                const auto it = values.find(name);
                return it == values.end() ? std::nullopt : std::optional(it->second);
            },
            lab_->layout());
        m.catalogue = lab_->root() / "catalogue.json";
        return m;
    }
    static json mutant(const std::string &name, const std::string &patch) {
        return {{"name", name},
                {"patch", patch},
                {"defect", "fake"},
                {"onto", "series-head"},
                {"configs", "4k-48"},
                {"plans", "boot"},
                {"expect",
                 {{"reason", "panic"},
                  {"by", "splat:oops"},
                  {"console_matches", {"Unable to handle kernel NULL pointer"}}}}};
    }

    std::unique_ptr<testing::FakeLab> lab_;
    std::ostringstream progress_;
};

TEST_F(Mutants, EachIsAThrowawayCommitCaughtMissedOrNotApplied) {
    const std::string head = lab_->tree().head();
    std::ostringstream out;
    const int status =
        run_mutants(lab_->layout(),
                    request({mutant("panics", "panics.patch"), mutant("harmless", "harmless.patch"),
                             mutant("conflicts", "conflicts.patch")}),
                    out, Progress(progress_, false));
    EXPECT_EQ(status, 1);
    EXPECT_EQ(lab_->tree().head(), head);
    const auto lines = split_lines(out.str());
    ASSERT_GE(lines.size(), 6U) << out.str();
    EXPECT_NE(lines[1].find("panics"), std::string::npos);
    EXPECT_NE(lines[1].find("yes     splat oops"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find(" NO "), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("ERROR"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("conflicts.patch does not apply on series-head"), std::string::npos)
        << out.str();
    EXPECT_EQ(lines.back(), "1 caught as stated, 1 missed, 0 caught otherwise, 1 errors");
    const json j = json::parse(read_text_file(lab_->layout().mutants_results() / "mutants.json"));
    ASSERT_EQ(j["cells"].size(), 3U);
    EXPECT_EQ(j["cells"][0]["sha"].get<std::string>().size(), 40U);
    EXPECT_TRUE(fs::exists(fs::path(j["cells"][0]["run_dir"].get<std::string>()) / "console.log"));
}

TEST_F(Mutants, AllCaughtAsStatedIsAPassAndTheSameMutantIsNotBuiltTwice) {
    std::ostringstream out;
    const MutantsRequest m = request({mutant("panics", "panics.patch")});
    EXPECT_EQ(run_mutants(lab_->layout(), m, out, Progress(progress_, false)), 0) << out.str();
    const std::string first = read_text_file(lab_->layout().mutants_results() / "mutants.json");
    progress_.str("");
    EXPECT_EQ(run_mutants(lab_->layout(), m, out, Progress(progress_, false)), 0);
    EXPECT_EQ(progress_.str().find(": build"), std::string::npos) << progress_.str();
    const auto sha = [](const std::string &text) {
        return json::parse(text)["cells"][0]["sha"].get<std::string>();
    };
    EXPECT_EQ(sha(first), sha(read_text_file(lab_->layout().mutants_results() / "mutants.json")));
}

} // namespace
} // namespace ptlab
