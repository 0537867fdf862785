#include "ptlab/compare.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace ptlab {
namespace {

using nlohmann::json;

json test_summary(const std::string &boot, const std::string &thp, double seconds) {
    return json{{"tests",
                 {{{"name", "4k-48 @ series-head"},
                   {"status", boot == "fail" || thp == "fail" ? "fail" : "pass"},
                   {"seconds", seconds},
                   {"subtests",
                    {{{"name", "boot"}, {"status", boot}, {"subtests", json::array()}},
                     {{"name", "thp"}, {"status", thp}, {"subtests", json::array()}}}}}}}};
}

TEST(Compare, TestsAreNamedByTheirPath) {
    const FlatResults r = flatten_results(test_summary("pass", "skip", 61));
    ASSERT_EQ(r.size(), 3U);
    EXPECT_EQ(r.at("4k-48 @ series-head / thp").status, "skip");
    EXPECT_EQ(*r.at("4k-48 @ series-head").seconds, 61);
}

TEST(Compare, ANewFailureComesFirstAndFails) {
    const auto changes = compare_results(flatten_results(test_summary("pass", "skip", 60)),
                                         flatten_results(test_summary("fail", "pass", 62)));
    ASSERT_EQ(changes.size(), 3U);
    EXPECT_EQ(changes[0].kind, "new failure");
    EXPECT_EQ(changes[0].path, "4k-48 @ series-head");
    EXPECT_EQ(changes[1].kind, "new failure");
    EXPECT_EQ(changes[1].path, "4k-48 @ series-head / boot");
    EXPECT_EQ(changes[2].kind, "unskipped");
    EXPECT_TRUE(has_new_failure(changes));
    std::ostringstream out;
    print_comparison(out, changes, {});
    EXPECT_NE(out.str().find("new failure   4k-48 @ series-head / boot  pass -> fail\n"),
              std::string::npos)
        << out.str();
    EXPECT_TRUE(out.str().ends_with("2 new failure, 1 unskipped\n")) << out.str();
}

TEST(Compare, FixedSkippedAppearedVanished) {
    FlatResults a{{"x", {"fail", {}}}, {"y", {"pass", {}}}, {"gone", {"pass", {}}}};
    FlatResults b{
        {"x", {"pass", {}}}, {"y", {"skip", {}}}, {"new", {"pass", {}}}, {"new-bad", {"fail", {}}}};
    const auto changes = compare_results(a, b);
    std::map<std::string, std::string> kind;
    for (const auto &c : changes) {
        kind[c.path] = c.kind;
    }
    EXPECT_EQ(kind["x"], "fixed");
    EXPECT_EQ(kind["y"], "new skip");
    EXPECT_EQ(kind["gone"], "vanished");
    EXPECT_EQ(kind["new"], "appeared");
    EXPECT_EQ(kind["new-bad"], "new failure"); // a test that appears failing is a new failure
    EXPECT_TRUE(has_new_failure(changes));
    EXPECT_FALSE(has_new_failure(compare_results(a, a)));
}

// A duration is reported when it moved by the factor and by the floor: 60 s -> 95 s
// is (1.58x, 35 s); 4 s -> 9 s is not (2.25x, but only 5 s).
TEST(Compare, DurationsThatMovedPastTheThreshold) {
    FlatResults a{{"slow", {"pass", 60.0}}, {"tiny", {"pass", 4.0}}, {"fast", {"pass", 100.0}}};
    FlatResults b{{"slow", {"pass", 95.0}}, {"tiny", {"pass", 9.0}}, {"fast", {"pass", 30.0}}};
    const auto changes = compare_results(a, b);
    ASSERT_EQ(changes.size(), 2U);
    EXPECT_EQ(changes[0].kind, "faster");
    EXPECT_EQ(changes[0].before, "100.0 s");
    EXPECT_EQ(changes[1].kind, "slower");
    EXPECT_EQ(changes[1].after, "95.0 s");
    EXPECT_FALSE(has_new_failure(changes));
}

TEST(Compare, MatrixCellsAndTheirPlans) {
    const json cell = {{"step", "series-base"},
                       {"config", "16k-36"},
                       {"outcome", "pass"},
                       {"seconds", 168.0},
                       {"plans", {{"boot", "pass"}, {"audit", "pass"}}}};
    const json m = {{"cells", json::array({cell})}};
    const FlatResults r = flatten_results(m);
    EXPECT_EQ(r.at("series-base x 16k-36").status, "pass");
    EXPECT_EQ(r.at("series-base x 16k-36 / audit").status, "pass");
    EXPECT_THROW(flatten_results(json{{"other", 1}}), std::runtime_error);
}

TEST(Compare, MetadataThatDiffersIsNamed) {
    const json a = {{"qemu", "QEMU emulator version 7.2.19"},
                    {"tree", {{"series-head", "37b20fe"}}},
                    {"finished", "20261206-120000"}};
    const json b = {{"qemu", "QEMU emulator version 7.2.19"},
                    {"tree", {{"series-head", "deadbee"}}},
                    {"finished", "20261206-130000"}};
    EXPECT_EQ(meta_differences(a, b),
              std::vector<std::string>{"tree/series-head: 37b20fe -> deadbee"});
    std::ostringstream out;
    print_comparison(out, {}, meta_differences(a, b));
    EXPECT_EQ(out.str(),
              "not like with like:\n  tree/series-head: 37b20fe -> deadbee\nno change\n");
}

// "make compare" alone compares like with like where it can: the last run with the one
// before it of its kind.
TEST(Compare, TheLastTwoRunsOfTheSameKind) {
    using P = std::filesystem::path;
    const std::vector<P> kept = {"h/test-20261206-100000", "h/check-20261206-110000",
                                 "h/matrix-20261206-120000", "h/test-20261206-130000"};
    EXPECT_EQ(last_two_alike(kept), std::make_pair(kept[0], kept[3]));
    const std::vector<P> unlike = {"h/check-20261206-110000", "h/test-20261206-130000"};
    EXPECT_EQ(last_two_alike(unlike), std::make_pair(unlike[0], unlike[1]));
    const std::vector<P> full = {"h/test-full-20261206-090000", "h/test-20261206-100000",
                                 "h/test-full-20261206-110000"};
    EXPECT_EQ(last_two_alike(full), std::make_pair(full[0], full[2]));
    EXPECT_THROW(last_two_alike({kept[0]}), std::runtime_error);
}

} // namespace
} // namespace ptlab
