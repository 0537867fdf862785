#include "fixture.hpp"
#include "ptlab/promises.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace ptlab {
namespace {

TEST(Promises, FactLinesParseIndentedAndAsDiagnostics) {
    const auto facts = parse_facts({"    # ptlab-fact boot page_size=4096 levels=4",
                                    "ptlab-fact audit split_pmd=on bad-word =x",
                                    "# an ordinary diagnostic page_size=1"});
    ASSERT_EQ(facts.size(), 3U);
    EXPECT_EQ(facts[0].source, "boot");
    EXPECT_EQ(facts[0].key, "page_size");
    EXPECT_EQ(facts[0].value, "4096");
    EXPECT_EQ(facts[2].source, "audit");
    EXPECT_EQ(facts[2].key, "split_pmd");
}

TEST(Promises, OnlyPromisedKeysAreCheckedAndAlternativesCount) {
    const std::map<std::string, std::string> promised{{"split_pmd", "off"},
                                                      {"init_mm.pmd", "none|table+ptl"}};
    const auto checks = check_promises(promised, {{"config", "split_pmd", "on"},
                                                  {"audit", "init_mm.pmd", "table+ptl"},
                                                  {"boot", "kvm", "yes"}});
    ASSERT_EQ(checks.size(), 2U);
    EXPECT_FALSE(checks[0].kept());
    EXPECT_EQ(checks[0].message(), "split_pmd (config): on, expected off");
    EXPECT_TRUE(checks[1].kept());
    EXPECT_EQ(broken(checks).size(), 1U);
}

// 64k-52 on a CPU without FEAT_LVA boots with a 48-bit VA: the failure says why.
TEST(Promises, A52BitVaFallingBackTo48NamesFeatLva) {
    const auto checks = check_promises({{"va_bits", "52"}}, {{"boot", "va_bits", "48"}});
    ASSERT_EQ(checks.size(), 1U);
    EXPECT_FALSE(checks[0].kept());
    EXPECT_NE(checks[0].message().find("va_bits (boot): 48, expected 52 (the kernel fell back "
                                       "to 48-bit VA: the CPU has no FEAT_LVA"),
              std::string::npos)
        << checks[0].message();
    const auto other = check_promises({{"va_bits", "48"}}, {{"boot", "va_bits", "47"}});
    EXPECT_EQ(other[0].message(), "va_bits (boot): 47, expected 48");
}

// A real boot + audit of 4k-48 at series-head: the boot plan and the module each report the
// geometry and the split PMD lock.
TEST(Promises, RealConsoleReportsFactsFromBootAndAudit) {
    const auto facts = parse_facts(testing::fixture_lines("real-4k48-head-boot-audit-facts.log"));
    std::map<std::string, std::string> boot;
    std::map<std::string, std::string> audit;
    for (const auto &f : facts) {
        (f.source == "boot" ? boot : audit)[f.key] = f.value;
    }
    EXPECT_EQ(boot.at("page_size"), "4096");
    EXPECT_EQ(boot.at("levels"), "4");
    EXPECT_EQ(boot.at("split_pmd"), "on");
    EXPECT_EQ(audit.at("pmd"), "pmd_present");
    EXPECT_EQ(audit.at("pmd_size"), "2097152");
    EXPECT_EQ(audit.at("split_pmd"), "on");
}

const std::vector<std::string> kCleanRun = {"PTLAB-START plans=boot",
                                            "KTAP version 1",
                                            "1..1",
                                            "    # ptlab-fact boot split_pmd=on",
                                            "ok 1 boot",
                                            "PTLAB-END rc=0"};

TEST(Promises, ABrokenPromiseFailsAnOtherwiseCleanRun) {
    RunOptions options;
    options.promised = {{"split_pmd", "off"}};
    const Verdict v = judge_run(kCleanRun, options);
    EXPECT_EQ(v.outcome, Outcome::Fail);
    EXPECT_EQ(v.reason, reason::broken_promise);
    EXPECT_EQ(v.detail, "split_pmd (boot): on, expected off");
    options.promised = {{"split_pmd", "on"}};
    EXPECT_EQ(judge_run(kCleanRun, options).outcome, Outcome::Pass);
}

// The .config is known before the boot: a kernel that then dies still shows the promise it
// broke beside the panic.
TEST(Promises, ConfigFactsAreNamedBesideAPanic) {
    RunOptions options;
    options.promised = {{"split_pmd", "off"}};
    options.host_facts = {{"config", "split_pmd", "on"}};
    const Verdict v = judge_run(
        {"[    1.0] Kernel panic - not syncing: Oops: Fatal exception", "[    1.1] ---[ end"},
        options);
    EXPECT_EQ(v.reason, reason::panic);
    EXPECT_NE(v.detail.find("broken promise: split_pmd (config): on, expected off"),
              std::string::npos)
        << v.detail;
    std::ostringstream report;
    print_report(report, summary_from_verdict(v, "t"));
    EXPECT_NE(report.str().find("promises / split_pmd (config): found on, expected off"),
              std::string::npos)
        << report.str();
}

} // namespace
} // namespace ptlab
