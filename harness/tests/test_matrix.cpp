#include "fixture.hpp"
#include "ptlab/matrix.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab {
namespace {

std::string write_result(const std::string &name, const std::string &json) {
    const auto path = std::filesystem::temp_directory_path() / ("ptlab-matrix-" + name + ".json");
    std::ofstream(path) << json;
    return path.string();
}

std::vector<MatrixCell> sample() {
    const auto pass = write_result(
        "pass", R"({"outcome":"pass","reason":"","detail":"","counts":{"passed":12,"failed":0,
        "skipped":1},"tests":[{"name":"boot","status":"pass"},{"name":"audit","status":"skip"}]})");
    const auto fail = write_result(
        "fail", R"({"outcome":"fail","reason":"splat","detail":"bad_page: BUG: Bad page state",
        "counts":{"passed":9,"failed":2,"skipped":0},"tests":[{"name":"boot","status":"fail"}]})");
    return {cell_from_result("series-base", "4k-48", pass, 61.5),
            cell_from_result("series-base", "64k-42", fail, 70),
            stopped_cell("series-head", "4k-48", "build failed", 12)};
}

TEST(Matrix, CellsComeFromResultsOrWhatStoppedThem) {
    const auto cells = sample();
    ASSERT_EQ(cells.size(), 3U);
    EXPECT_EQ(cells[0].outcome, "pass");
    EXPECT_EQ(cells[0].passed, 12);
    EXPECT_EQ(cells[0].skipped, 1);
    EXPECT_DOUBLE_EQ(cells[0].seconds, 61.5);
    EXPECT_EQ(cells[1].reason, "splat: bad_page: BUG: Bad page state");
    EXPECT_EQ(cells[2].outcome, "build failed");
}

TEST(Matrix, TableHasStepsAsRowsConfigsAsColumnsAndCountsLast) {
    std::ostringstream out;
    print_matrix(out, sample());
    const std::string text = out.str();
    EXPECT_NE(text.find("STEP"), std::string::npos);
    EXPECT_NE(text.find("PASS 12/0/1"), std::string::npos);
    EXPECT_NE(text.find("FAIL 9/2/0"), std::string::npos);
    EXPECT_NE(text.find("build failed"), std::string::npos);
    EXPECT_NE(text.find("series-head x 4k-48: build failed"), std::string::npos);
    EXPECT_TRUE(text.ends_with("1 cells passed, 2 failed\n")) << text;
}

TEST(Matrix, JsonAndJunitCarryEveryCell) {
    const auto cells = sample();
    const auto j = nlohmann::json::parse(matrix_to_json(cells));
    ASSERT_EQ(j.at("cells").size(), 3U);
    EXPECT_EQ(j["cells"][1]["plans"]["boot"], "fail");
    std::ostringstream xml;
    write_matrix_junit(xml, cells);
    EXPECT_NE(xml.str().find("<testsuite name=\"series-base/64k-42\""), std::string::npos);
    EXPECT_NE(xml.str().find("<skipped/>"), std::string::npos);
    EXPECT_NE(xml.str().find("build failed"), std::string::npos);
}

} // namespace
} // namespace ptlab

namespace ptlab {
namespace {

TEST(Matrix, ATestWhoseResultDiffersBetweenTheEndsOfTheSeriesIsNamed) {
    const auto at = [](const std::string &name, const std::string &khugepaged) {
        return write_result(name, R"({"outcome":"pass","counts":{"passed":2,"failed":0},
            "tests":[{"name":"kselftest-vm","status":"pass","subtests":[
            {"name":"khugepaged","status":")" +
                                      khugepaged + R"("},
            {"name":"mremap_test","status":"xfail"}]}]})");
    };
    const std::vector<MatrixCell> cells = {
        cell_from_result("series-base", "4k-48", at("base", "pass"), 1),
        cell_from_result("series-head~1", "4k-48", at("mid", "fail"), 1),
        cell_from_result("series-head", "4k-48", at("head", "fail"), 1),
        cell_from_result("series-base", "64k-48", at("base64", "pass"), 1),
        cell_from_result("series-head", "64k-48", at("head64", "pass"), 1)};
    EXPECT_EQ(matrix_differences(cells),
              std::vector<std::string>{
                  "4k-48: kselftest-vm/khugepaged: series-base pass, series-head fail"});
    std::ostringstream out;
    print_matrix(out, cells);
    EXPECT_NE(out.str().find("tests whose result differs between the first and the last step:\n"
                             "  4k-48: kselftest-vm/khugepaged"),
              std::string::npos)
        << out.str();
}

} // namespace
} // namespace ptlab
