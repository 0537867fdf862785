#include "fixture.hpp"
#include "ptlab/ktap.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <sstream>

namespace ptlab {
namespace {

using testing::fixture_lines;
using testing::lines_of;

Summary summary_of(const std::string &fixture, const RunOptions &options = {}) {
    return summary_from_verdict(judge_run(fixture_lines(fixture), options), "boot");
}

std::string report_of(const Summary &s) {
    std::ostringstream out;
    print_report(out, s);
    return out.str();
}

std::string last_line(const std::string &text) {
    const auto lines = split_lines(text);
    return lines.empty() ? std::string() : lines.back();
}

TEST(Report, CleanRunTableAndFinalLine) {
    const std::string text = report_of(summary_of("synthetic-clean-nested.log"));
    EXPECT_EQ(last_line(text), "6 passed, 0 failed");
    EXPECT_NE(text.find("\n4 skipped\n6 passed, 0 failed\n"), std::string::npos);
    EXPECT_TRUE(
        std::regex_search(text, std::regex("\n  pud_ctor_noop +SKIP +- +PUD folding enabled\n")))
        << text;
    EXPECT_TRUE(std::regex_search(text, std::regex("\nmmap_stress +PASS +0\\.4\n"))) << text;
    EXPECT_TRUE(std::regex_search(text, std::regex("\n    64K +SKIP"))) << text;
    EXPECT_EQ(text.find("last 50 console lines:"), std::string::npos);
}

TEST(Report, FailRowShowsFirstDiagnostic) {
    const auto verdict = judge_run(lines_of("KTAP version 1\n1..1\n# it broke: x != y\n"
                                            "# second line\nnot ok 1 broken\nPTLAB-END rc=0\n"));
    const std::string text = report_of(summary_from_verdict(verdict, ""));
    EXPECT_TRUE(std::regex_search(text, std::regex("\nbroken +FAIL +- +it broke: x != y\n")))
        << text;
    EXPECT_EQ(last_line(text), "0 passed, 1 failed");
}

TEST(Report, FailuresAreRepeatedBeforeTheVerdictWithTheirPath) {
    const auto verdict =
        judge_run(lines_of("KTAP version 1\n1..2\n    KTAP version 1\n    1..2\n    ok 1 fine\n"
                           "    # leaked 3 pages\n    not ok 2 leak\nnot ok 1 faults\nok 2 other\n"
                           "PTLAB-END rc=0\n"));
    const std::string text = report_of(summary_from_verdict(verdict, ""));
    EXPECT_NE(text.find("\nfailures:\n  faults / leak: leaked 3 pages\nverdict: FAIL"),
              std::string::npos)
        << text;
    EXPECT_EQ(report_of(summary_of("synthetic-clean-nested.log")).find("failures:"),
              std::string::npos);
}

// EXEC's command exits 0 while the kernel WARNs: its output is shown whole, and the run fails.
TEST(Report, ExecsOutputIsShownAndASplatFailsItsPass) {
    const std::string text = report_of(summary_of("synthetic-exec-warn.log"));
    EXPECT_NE(text.find("EXEC output:\n    6.1.192+\n    repro: 100 iterations, all data checked\n"
                        "    exit status 0\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("verdict: FAIL (splat"), std::string::npos) << text;
}

// A real audit of a kernel whose pgd_pgtable_alloc() skips efi_mm's PMD ctor (the mutant of
// tests/mutants, efi-pmd-no-ctor): the failure names the table pages, not only the test.
TEST(Report, AnAuditFailureShowsTheOffendingTables) {
    const std::string text = report_of(summary_of("real-4k48-mutant-efi-pmd-no-ctor.log"));
    const auto failures = text.substr(text.find("\nfailures:\n"));
    EXPECT_NE(failures.find("audit / efi_mm / efi_mm.pmd: efi_mm.pmd: 2 pages, rule table+ptl, 2 "
                            "break it\n"
                            "    efi_mm.pmd: level=pmd pfn=0x40264 va=0x0-0x3fffffff found=none "
                            "required=table+ptl\n"
                            "    efi_mm.pmd: level=pmd pfn=0x4025f va=0x80000000-0xbfffffff "
                            "found=none required=table+ptl\n"),
              std::string::npos)
        << failures;
}

// The upstream hugetlb-madvise WARNs 4 times the same way: one line with its count, then
// the first report with its call trace.
TEST(Report, ARepeatedSplatIsOneLineWithItsCount) {
    const std::string text = report_of(summary_of("real-4k48-kselftest-hugetlb-warn.log"));
    EXPECT_NE(text.find("splat [warning] line 82: WARNING: CPU: 1 PID: 105 at "
                        "../../../linux/include/linux/fs.h:509 i_mmap_assert_write_locked+0x24/"
                        "0x34 x4, 96.8 s to 96.8 s, first in hugetlb-madvise"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("Call trace:"), std::string::npos) << text;
    EXPECT_NE(text.find("hugetlb_split+0x28/0x80"), std::string::npos) << text;
    const auto failures = text.substr(text.find("\nfailures:\n"));
    EXPECT_EQ(failures.find("x4"), failures.rfind("x4")) << "once in the failures: " << failures;
}

TEST(Report, PanicShowsSplatsAndTail) {
    const std::string text = report_of(summary_of("synthetic-oops-panic.log"));
    EXPECT_NE(text.find("splat [oops] line 7: Unable to handle kernel NULL pointer"),
              std::string::npos);
    EXPECT_NE(text.find("splat [panic] line 46: Kernel panic - not syncing"), std::string::npos);
    EXPECT_NE(text.find("last 50 console lines:\n"), std::string::npos);
    // The oops is shown with its call trace; the register dump before it is left out.
    EXPECT_NE(text.find(" lines before the call trace)"), std::string::npos) << text;
    // 1 ktap error row + 2 splats + 1 for the unclean end.
    EXPECT_EQ(last_line(text), "1 passed, 4 failed");
}

TEST(Report, TimeoutCountsAndTail) {
    RunOptions options;
    options.timed_out = true;
    const Summary s = summary_of("synthetic-timeout.log", options);
    const Counts c = count_summary(s);
    EXPECT_EQ(c.passed, 2);
    EXPECT_EQ(c.failed, 4);
    const std::string text = report_of(s);
    EXPECT_NE(text.find("verdict: FAIL (timeout"), std::string::npos);
    EXPECT_NE(text.find("last 50 console lines:"), std::string::npos);
}

TEST(Report, AllowedSplatIsInformational) {
    RunOptions options;
    options.allowed_kinds = {"alloc_failure"};
    const std::string text = report_of(summary_of("synthetic-fault-injection.log", options));
    EXPECT_NE(text.find("allowed splat (informational) [alloc_failure]"), std::string::npos);
    EXPECT_EQ(last_line(text), "2 passed, 0 failed");
}

TEST(Report, CountingRules) {
    TestResult suite;
    suite.name = "suite";
    suite.status = Status::Error; // e.g. plan mismatch while every case passed
    suite.subtests.resize(2);
    suite.subtests[1].status = Status::Skip;
    TestResult failing_parent;
    failing_parent.status = Status::Fail;
    failing_parent.subtests.resize(2);
    failing_parent.subtests[0].status = Status::Fail;
    failing_parent.subtests[1].status = Status::Error;
    const Counts c = count_results({suite, failing_parent});
    EXPECT_EQ(c.passed, 1);
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(c.failed, 3); // suite itself + 2 failed leaves (the parent is not counted again)
}

TEST(Report, JsonHasTheWholeVerdict) {
    const auto j = nlohmann::json::parse(summary_to_json(summary_of("synthetic-oops-panic.log")));
    EXPECT_EQ(j["outcome"], "fail");
    EXPECT_EQ(j["reason"], "panic");
    EXPECT_EQ(j["counts"]["passed"], 1);
    EXPECT_EQ(j["counts"]["failed"], 4);
    ASSERT_EQ(j["splats"].size(), 2U);
    EXPECT_EQ(j["splats"][0]["kind"], "oops");
    EXPECT_EQ(j["splats"][0]["line_number"], 7);
    EXPECT_EQ(j["tests"][0]["name"], "mmap_stress");
    EXPECT_EQ(j["tests"][0]["status"], "pass");
    EXPECT_TRUE(j["tests"][0]["seconds"].is_null());
    EXPECT_EQ(j["run"]["start"]["step"], "02-split");
    EXPECT_FALSE(j["run"]["end_marker_seen"].get<bool>());
    EXPECT_FALSE(j["tail"].empty());
}

TEST(Report, JsonSurvivesInvalidUtf8) {
    const auto verdict = judge_run(lines_of("KTAP version 1\n1..1\nok 1 caf\xE9\nPTLAB-END\n"));
    const auto j = nlohmann::json::parse(summary_to_json(summary_from_verdict(verdict, "x")));
    EXPECT_EQ(j["tests"][0]["name"], "caf\xEF\xBF\xBD");
}

TEST(Report, JunitHasFailuresAndSkips) {
    std::ostringstream out;
    write_junit(out, summary_of("synthetic-oops-panic.log"));
    const std::string xml = out.str();
    EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0U);
    EXPECT_NE(xml.find("<testsuite name=\"boot\" tests=\"5\" failures=\"3\" errors=\"1\""),
              std::string::npos)
        << xml;
    EXPECT_NE(xml.find("<testcase classname=\"splat\" name=\"panic (line 46)\">"),
              std::string::npos);
    EXPECT_NE(xml.find("<testcase classname=\"boot\" name=\"panic\">"), std::string::npos);
    EXPECT_NE(xml.find("[#1] PREEMPT SMP"), std::string::npos);

    std::ostringstream clean;
    write_junit(clean, summary_of("synthetic-clean-nested.log"));
    EXPECT_NE(clean.str().find("<testcase classname=\"pgtable_ctor\" name=\"pud_ctor_noop\">\n"
                               "      <skipped message=\"PUD folding enabled\"/>"),
              std::string::npos)
        << clean.str();
    EXPECT_NE(clean.str().find("name=\"mmap_stress\" time=\"0.420\"/>"), std::string::npos);
}

TEST(Report, JunitEscapesMarkupAndControlCharacters) {
    Summary s;
    TestResult t;
    t.name = "a<b>&\"c\"";
    t.status = Status::Fail;
    t.diagnostics = {"bad \x1b[31mcolour"};
    s.tests.push_back(t);
    std::ostringstream out;
    write_junit(out, s);
    EXPECT_NE(out.str().find("name=\"a&lt;b&gt;&amp;&quot;c&quot;\""), std::string::npos);
    EXPECT_NE(out.str().find("bad ?[31mcolour"), std::string::npos);
}

/// The KTAP block written by --ktap-out, summarised again, gives the same counts.
TEST(Report, KtapBlockRoundTripKeepsCounts) {
    for (const auto &name : testing::fixture_names(".log")) {
        for (const bool timed_out : {false, true}) {
            SCOPED_TRACE(name + (timed_out ? " (timed out)" : ""));
            RunOptions options;
            options.timed_out = timed_out;
            const Summary s = summary_of(name, options);
            std::ostringstream out;
            write_ktap_block(out, s, "run: " + name + " #1");
            const KtapLog back = parse_ktap(lines_of(out.str()));
            ASSERT_EQ(back.root.subtests.size(), 1U) << out.str();
            const TestResult &block = back.root.subtests[0];
            EXPECT_EQ(block.name, "run: " + name + " #1");
            EXPECT_EQ(block.status == Status::Pass || block.status == Status::Skip, s.pass);
            EXPECT_NE(back.root.status, Status::Error) << out.str();
            const Counts a = count_summary(s);
            const Counts b = count_results(back.root.subtests);
            EXPECT_EQ(a.passed, b.passed) << out.str();
            EXPECT_EQ(a.failed, b.failed) << out.str();
            EXPECT_EQ(a.skipped + (s.tests.empty() && s.pass ? 1 : 0), b.skipped) << out.str();
        }
    }
}

TEST(Report, KtapBlockHasFindingLeaves) {
    const Summary s = summary_of("synthetic-oops-panic.log");
    const auto findings = summary_findings_as_results(s);
    ASSERT_EQ(findings.size(), 3U);
    EXPECT_EQ(findings[0].name, "splat: oops: Unable to handle kernel NULL pointer dereference at "
                                "virtual address 0000000000000000");
    EXPECT_EQ(findings[1].name, "splat: panic: Kernel panic - not syncing: Oops: Fatal exception");
    EXPECT_EQ(findings[2].name, "panic");
    std::ostringstream out;
    write_ktap_block(out, s, "boot");
    EXPECT_NE(out.str().find("    not ok 5 panic\n"), std::string::npos) << out.str();
    EXPECT_EQ(last_line(out.str()), "not ok 1 boot");
}

} // namespace
} // namespace ptlab
