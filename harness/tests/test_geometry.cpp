#include "fixture.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/lines.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace ptlab {
namespace {

namespace fs = std::filesystem;

fs::path write_fragment(const std::string &name, const std::string &text) {
    const fs::path path = fs::temp_directory_path() / ("ptlab-geometry-" + name + ".config");
    std::ofstream(path) << text;
    return path;
}

Geometry of(const std::string &pages, unsigned va_bits) {
    return geometry_of_fragment(
        write_fragment(pages + std::to_string(va_bits), "CONFIG_ARM64_" + pages +
                                                            "_PAGES=y\nCONFIG_ARM64_VA_BITS_" +
                                                            std::to_string(va_bits) + "=y\n"));
}

// Every geometry arm64 6.1 can build, as arch/arm64/Kconfig's PGTABLE_LEVELS derives it.
TEST(Geometry, LevelsFollowFromPageSizeAndVaBits) {
    EXPECT_EQ(of("4K", 39).levels, 3U);
    EXPECT_EQ(of("4K", 48).levels, 4U);
    EXPECT_EQ(of("16K", 36).levels, 2U);
    EXPECT_EQ(of("16K", 47).levels, 3U);
    EXPECT_EQ(of("16K", 48).levels, 4U);
    EXPECT_EQ(of("64K", 42).levels, 2U);
    EXPECT_EQ(of("64K", 48).levels, 3U);
    EXPECT_EQ(of("64K", 52).levels, 3U);
}

TEST(Geometry, FoldedLevelsAndTheSplitPmdLock) {
    const Geometry two = of("64K", 42);
    EXPECT_EQ(two.folded_levels(), (std::vector<std::string>{"p4d", "pud", "pmd"}));
    EXPECT_FALSE(two.split_pmd_possible());
    EXPECT_EQ(two.facts().at("pmd"), "pmd_folded");
    const Geometry four = of("4K", 48);
    EXPECT_EQ(four.folded_levels(), (std::vector<std::string>{"p4d"}));
    EXPECT_TRUE(four.split_pmd_possible());
    EXPECT_FALSE(four.folded("pgd"));
    EXPECT_FALSE(four.folded("pte"));
}

TEST(Geometry, PmdSizeIsAFullPteTable) {
    EXPECT_EQ(of("4K", 48).pmd_size(), 2U << 20);
    EXPECT_EQ(of("16K", 47).pmd_size(), 32U << 20);
    EXPECT_EQ(of("64K", 42).pmd_size(), 512U << 20);
    EXPECT_EQ(of("64K", 48).page_size_name(), "64K");
}

TEST(Geometry, StatedLevelsMustAgree) {
    const auto path =
        write_fragment("contradiction", "CONFIG_ARM64_64K_PAGES=y\nCONFIG_ARM64_VA_BITS_42=y\n"
                                        "CONFIG_PGTABLE_LEVELS=3\n");
    try {
        (void)geometry_of_fragment(path);
        FAIL() << "accepted";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find("CONFIG_PGTABLE_LEVELS=3, but 64K pages with "
                                             "42-bit VA have 2 levels"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Geometry, MissingOrDoubleSelectionsAreNamed) {
    EXPECT_THROW(geometry_of_fragment(write_fragment("none", "CONFIG_ARM64_VA_BITS_48=y\n")),
                 std::runtime_error);
    EXPECT_THROW(geometry_of_fragment(write_fragment("nova", "CONFIG_ARM64_4K_PAGES=y\n")),
                 std::runtime_error);
    EXPECT_THROW(geometry_of_fragment(
                     write_fragment("two", "CONFIG_ARM64_4K_PAGES=y\nCONFIG_ARM64_64K_PAGES=y\n"
                                           "CONFIG_ARM64_VA_BITS_48=y\n")),
                 std::runtime_error);
    // A later "is not set" undoes an earlier selection, as merge_config does.
    EXPECT_THROW(geometry_of_fragment(
                     write_fragment("unset", "CONFIG_ARM64_4K_PAGES=y\nCONFIG_ARM64_VA_BITS_48=y\n"
                                             "# CONFIG_ARM64_4K_PAGES is not set\n")),
                 std::runtime_error);
}

TEST(Geometry, ConfigFactsIncludeTheSplitPmdLock) {
    DotConfig c{{"CONFIG_ARM64_4K_PAGES", "y"}, {"CONFIG_ARM64_VA_BITS_48", "y"},
                {"CONFIG_ARM64_VA_BITS", "48"}, {"CONFIG_PGTABLE_LEVELS", "4"},
                {"CONFIG_NR_CPUS", "256"},      {"CONFIG_SPLIT_PTLOCK_CPUS", "4"}};
    EXPECT_EQ(config_facts(c).at("split_pmd"), "off");
    c["CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK"] = "y";
    EXPECT_EQ(config_facts(c).at("split_pmd"), "on");
    EXPECT_EQ(config_facts(c).at("levels"), "4");
    EXPECT_EQ(config_facts(c).count("pmd_size"), 0U);
    c["CONFIG_NR_CPUS"] = "2"; // fewer CPUs than SPLIT_PTLOCK_CPUS: no split locks at all
    EXPECT_EQ(config_facts(c).at("split_pmd"), "off");
}

// The lab's own fragments: each states a geometry, and the folding follows from it.
TEST(Geometry, EveryLabFragmentIsAGeometry) {
    int n = 0;
    for (const auto &entry : fs::directory_iterator(PTLAB_GEOMETRY_DIR)) {
        SCOPED_TRACE(entry.path().string());
        const Geometry g = geometry_of_fragment(entry.path());
        EXPECT_EQ(g.split_pmd_possible(), g.levels > 2);
        ++n;
    }
    EXPECT_GE(n, 4);
}

} // namespace
} // namespace ptlab
