// Data-driven checks over tests/fixtures/*.expect. Each NAME.expect judges NAME.log (or the
// log named by "log=") and lists what the verdict must be; drop a real-*.log with a
// real-*.expect next to it to add a captured boot log. Keys (all optional):
//   log=FILE  timed_out=1  allow=KIND[,KIND]  outcome=pass|fail  reason=TEXT
//   splats=KIND,KIND  allowed_splats=KIND  passed=N  failed=N  skipped=N
#include "fixture.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace ptlab {
namespace {

std::vector<std::string> split_commas(const std::string &s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (!trim(item).empty()) {
            out.emplace_back(trim(item));
        }
    }
    return out;
}

std::string kinds(const std::vector<Splat> &splats) {
    std::string out;
    for (const auto &s : splats) {
        out += (out.empty() ? "" : ",") + s.kind;
    }
    return out;
}

std::string joined(const std::vector<std::string> &items) {
    std::string out;
    for (const auto &s : items) {
        out += (out.empty() ? "" : ",") + s;
    }
    return out;
}

TEST(FixtureExpectations, EveryExpectFileHolds) {
    const auto expects = testing::fixture_names(".expect");
    EXPECT_FALSE(expects.empty());
    for (const auto &name : expects) {
        SCOPED_TRACE(name);
        std::map<std::string, std::string> want;
        for (const auto &line : testing::fixture_lines(name)) {
            const std::string_view t = trim(line);
            if (t.empty() || t[0] == '#') {
                continue;
            }
            const auto eq = t.find('=');
            ASSERT_NE(eq, std::string_view::npos) << line;
            want[std::string(trim(t.substr(0, eq)))] = std::string(trim(t.substr(eq + 1)));
        }
        const std::string log =
            want.count("log") ? want["log"] : name.substr(0, name.size() - 7) + ".log";
        RunOptions options;
        options.timed_out = want["timed_out"] == "1";
        for (const auto &kind : split_commas(want["allow"])) {
            options.allowed_kinds.insert(kind);
        }
        const Verdict v = judge_run(testing::fixture_lines(log), options);
        const Counts c = count_summary(summary_from_verdict(v, log));
        if (want.count("outcome")) {
            EXPECT_EQ(v.outcome == Outcome::Pass ? "pass" : "fail", want["outcome"]);
        }
        if (want.count("reason")) {
            EXPECT_EQ(v.reason, want["reason"]);
        }
        if (want.count("splats")) {
            EXPECT_EQ(kinds(v.splats), joined(split_commas(want["splats"])));
        }
        if (want.count("allowed_splats")) {
            EXPECT_EQ(kinds(v.allowed_splats), joined(split_commas(want["allowed_splats"])));
        }
        if (want.count("passed")) {
            EXPECT_EQ(std::to_string(c.passed), want["passed"]);
        }
        if (want.count("failed")) {
            EXPECT_EQ(std::to_string(c.failed), want["failed"]);
        }
        if (want.count("skipped")) {
            EXPECT_EQ(std::to_string(c.skipped), want["skipped"]);
        }
    }
}

TEST(FixtureExpectations, EveryLogParsesWithoutSurprises) {
    for (const auto &name : testing::fixture_names(".log")) {
        SCOPED_TRACE(name);
        const auto lines = testing::fixture_lines(name);
        const Verdict v = judge_run(lines);
        for (const auto &splat : v.splats) {
            ASSERT_GE(splat.line_number, 1U);
            ASSERT_LE(splat.line_number, lines.size());
            EXPECT_FALSE(splat.excerpt.empty());
            EXPECT_LE(splat.excerpt.size(), 60U);
        }
        EXPECT_EQ(v.outcome == Outcome::Pass, v.reason.empty());
    }
}

} // namespace
} // namespace ptlab
