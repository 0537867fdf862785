#include "fixture.hpp"
#include "ptlab/gtest_import.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ptlab {
namespace {

TEST(GtestImport, ConvertsReportToLeaves) {
    const std::string text = testing::fixture_text("synthetic-gtest.json");
    ASSERT_TRUE(looks_like_gtest_json(text));
    const auto results = import_gtest_json(text);
    ASSERT_EQ(results.size(), 6U);
    EXPECT_EQ(results[0].name, "PageTableModel.WalkFourLevels");
    EXPECT_EQ(results[0].status, Status::Pass);
    EXPECT_DOUBLE_EQ(results[0].seconds, 0.004);
    EXPECT_TRUE(results[0].subtests.empty());

    const TestResult &failed = results[4];
    EXPECT_EQ(failed.name, "PageTableModel.CtorCountsTables");
    EXPECT_EQ(failed.status, Status::Fail);
    ASSERT_GE(failed.diagnostics.size(), 2U);
    EXPECT_EQ(failed.diagnostics[0], "tests/pt_model_test.cpp:81");
    EXPECT_EQ(failed.diagnostics[1], "Expected equality of these values:");

    EXPECT_EQ(results[5].status, Status::Skip);
    EXPECT_EQ(results[5].skip_reason, "disabled");
}

TEST(GtestImport, SkippedTests) {
    const auto results = import_gtest_json(R"({"testsuites": [{"name": "S", "testsuite": [
        {"name": "Skip", "status": "RUN", "result": "SKIPPED", "time": "0s"}]}]})");
    ASSERT_EQ(results.size(), 1U);
    EXPECT_EQ(results[0].status, Status::Skip);
    EXPECT_DOUBLE_EQ(results[0].seconds, 0.0);
}

TEST(GtestImport, RejectsOtherInput) {
    EXPECT_FALSE(looks_like_gtest_json("KTAP version 1\n"));
    EXPECT_FALSE(looks_like_gtest_json(R"({"tests": []})"));
    EXPECT_FALSE(looks_like_gtest_json("{ broken"));
    EXPECT_THROW(import_gtest_json("[]"), std::runtime_error);
    EXPECT_THROW(import_gtest_json("not json"), std::runtime_error);
}

} // namespace
} // namespace ptlab
