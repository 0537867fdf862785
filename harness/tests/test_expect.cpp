#include "fixture.hpp"
#include "ptlab/expect.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

namespace ptlab {
namespace {

const nlohmann::json kData = nlohmann::json::parse(R"({
  "base": { "split_pmd": "off", "efi_mm.pud": "table+ptl" },
  "series": [
    { "patch": 1, "subject": "one", "changes": { "efi_mm.pud": "none" } },
    { "patch": 2, "subject": "two", "changes": {} },
    { "patch": 4, "subject": "four",
      "changes": { "split_pmd": { "pmd_present": "on", "pmd_folded": "off" } } }
  ]
})");

const Geometry k4k48{4096, 48, 4};
const Geometry k64k42{65536, 42, 2};

TEST(Expect, BaselineIsGeometryPlusBase) {
    const auto e = expect(kData, k4k48, {});
    EXPECT_EQ(e.values.at("page_size"), "4096");
    EXPECT_EQ(e.values.at("levels"), "4");
    EXPECT_EQ(e.values.at("pmd"), "pmd_present");
    EXPECT_EQ(e.values.at("split_pmd"), "off");
    EXPECT_EQ(e.values.at("efi_mm.pud"), "table+ptl");
    EXPECT_TRUE(e.patches.empty());
}

TEST(Expect, PatchesApplyInSeriesOrderWhateverTheLogOrder) {
    // git log prints newest first.
    const auto e = expect(kData, k4k48, {"four", "two", "one"});
    EXPECT_EQ(e.values.at("split_pmd"), "on");
    EXPECT_EQ(e.values.at("efi_mm.pud"), "none");
    EXPECT_EQ(e.patches, (std::vector<int>{1, 2, 4}));
}

TEST(Expect, ValueCanDependOnFoldedPmd) {
    EXPECT_EQ(expect(kData, k64k42, {"four"}).values.at("split_pmd"), "off");
}

TEST(Expect, MidSeriesStepOnlyHasItsPatches) {
    const auto e = expect(kData, k4k48, {"one"});
    EXPECT_EQ(e.values.at("split_pmd"), "off");
    EXPECT_EQ(e.values.at("efi_mm.pud"), "none");
}

TEST(Expect, UnknownSubjectsAreReported) {
    const auto e = expect(kData, k4k48, {"one", "a fifth patch"});
    EXPECT_EQ(e.unknown_subjects, (std::vector<std::string>{"a fifth patch"}));
}

TEST(Expect, ModuleRulesAreThePerTableOnes) {
    const auto e = expect(kData, k64k42, {});
    EXPECT_EQ(to_module_rules(e), "efi_mm.pud:table+ptl\n");
}

// The lab's own data: the four patches, and at series-head the split PMD lock is on exactly
// where the geometry has a PMD table to own it.
TEST(Expect, LabDataCoversEveryGeometryAndPatch) {
    const auto data =
        nlohmann::json::parse(testing::fixture_text("../../../configs/expectations.json"));
    EXPECT_EQ(data.count("geometry"), 0U) << "geometry facts live in configs/geometry/";
    EXPECT_EQ(data.at("series").size(), 4U);
    for (const auto &entry : std::filesystem::directory_iterator(PTLAB_GEOMETRY_DIR)) {
        SCOPED_TRACE(entry.path().string());
        const Geometry g = geometry_of_fragment(entry.path());
        const auto head = expect(data, g,
                                 {"arm64: mm: use appropriate ctors for page tables",
                                  "arm64: mm: don't call page table ctors for init_mm",
                                  "arm64: mm: call ctor for stage2 pmd page",
                                  "arm64: mm: enable per pmd page table lock"});
        EXPECT_TRUE(head.unknown_subjects.empty());
        EXPECT_EQ(head.values.at("split_pmd"), g.split_pmd_possible() ? "on" : "off");
        EXPECT_EQ(expect(data, g, {}).values.at("split_pmd"), "off");
    }
}

} // namespace
} // namespace ptlab
