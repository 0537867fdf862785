#include "fixture.hpp"
#include "ptlab/expect.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

namespace ptlab {
namespace {

const nlohmann::json kData = nlohmann::json::parse(R"({
  "geometry": {
    "4k-48":  { "page_size": 4096, "levels": 4, "pmd": "pmd_present" },
    "64k-42": { "page_size": 65536, "levels": 2, "pmd": "pmd_folded" }
  },
  "base": { "split_pmd": "off", "efi_mm.pud": "table+ptl" },
  "series": [
    { "patch": 1, "subject": "one", "changes": { "efi_mm.pud": "none" } },
    { "patch": 2, "subject": "two", "changes": {} },
    { "patch": 4, "subject": "four",
      "changes": { "split_pmd": { "pmd_present": "on", "pmd_folded": "off" } } }
  ]
})");

TEST(Expect, BaselineIsGeometryPlusBase) {
    const auto e = expect(kData, "4k-48", {});
    EXPECT_EQ(e.values.at("page_size"), "4096");
    EXPECT_EQ(e.values.at("levels"), "4");
    EXPECT_EQ(e.values.at("split_pmd"), "off");
    EXPECT_EQ(e.values.at("efi_mm.pud"), "table+ptl");
    EXPECT_TRUE(e.patches.empty());
}

TEST(Expect, PatchesApplyInSeriesOrderWhateverTheLogOrder) {
    // git log prints newest first.
    const auto e = expect(kData, "4k-48", {"four", "two", "one"});
    EXPECT_EQ(e.values.at("split_pmd"), "on");
    EXPECT_EQ(e.values.at("efi_mm.pud"), "none");
    EXPECT_EQ(e.patches, (std::vector<int>{1, 2, 4}));
}

TEST(Expect, ValueCanDependOnFoldedPmd) {
    EXPECT_EQ(expect(kData, "64k-42", {"four"}).values.at("split_pmd"), "off");
}

TEST(Expect, MidSeriesStepOnlyHasItsPatches) {
    const auto e = expect(kData, "4k-48", {"one"});
    EXPECT_EQ(e.values.at("split_pmd"), "off");
    EXPECT_EQ(e.values.at("efi_mm.pud"), "none");
}

TEST(Expect, UnknownSubjectsAreReported) {
    const auto e = expect(kData, "4k-48", {"one", "a fifth patch"});
    EXPECT_EQ(e.unknown_subjects, (std::vector<std::string>{"a fifth patch"}));
}

TEST(Expect, UnknownConfigNamesTheValidOnes) {
    try {
        (void)expect(kData, "16k-47", {});
        FAIL() << "no exception";
    } catch (const std::invalid_argument &ex) {
        EXPECT_NE(std::string(ex.what()).find("4k-48 64k-42"), std::string::npos) << ex.what();
    }
}

TEST(Expect, CmdlineValueIsSortedKeyColonValue) {
    const auto e = expect(kData, "64k-42", {});
    EXPECT_EQ(to_cmdline_value(e),
              "efi_mm.pud:table+ptl,levels:2,page_size:65536,pmd:pmd_folded,split_pmd:off");
}

// The lab's own data must describe every named config and the four patches.
TEST(Expect, LabDataCoversEveryConfigAndPatch) {
    const auto data =
        nlohmann::json::parse(testing::fixture_text("../../../configs/expectations.json"));
    EXPECT_EQ(expectation_configs(data),
              (std::vector<std::string>{"4k-39", "4k-48", "64k-42", "64k-48"}));
    EXPECT_EQ(data.at("series").size(), 4U);
    for (const auto &config : expectation_configs(data)) {
        const auto head = expect(data, config,
                                 {"arm64: mm: use appropriate ctors for page tables",
                                  "arm64: mm: don't call page table ctors for init_mm",
                                  "arm64: mm: call ctor for stage2 pmd page",
                                  "arm64: mm: enable per pmd page table lock"});
        EXPECT_TRUE(head.unknown_subjects.empty());
        EXPECT_EQ(head.values.at("split_pmd"), config == "64k-42" ? "off" : "on") << config;
        EXPECT_EQ(expect(data, config, {}).values.at("split_pmd"), "off") << config;
    }
}

} // namespace
} // namespace ptlab
