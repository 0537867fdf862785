#include "fixture.hpp"
#include "ptlab/kconfig.hpp"

#include <gtest/gtest.h>

namespace ptlab {
namespace {

using testing::fixture_lines;
using testing::lines_of;

std::vector<std::string> messages(const std::vector<ConfigMismatch> &mismatches) {
    std::vector<std::string> out;
    out.reserve(mismatches.size());
    for (const auto &m : mismatches) {
        out.push_back(m.message());
    }
    return out;
}

TEST(Kconfig, ParsesFragmentLines) {
    const auto fragment = parse_config_fragment(lines_of(R"(# a comment

CONFIG_FOO=y
CONFIG_BAR="some string"
CONFIG_N=123
# CONFIG_BAZ is not set
CONFIG_OFF=n
  CONFIG_SPACED=m  
garbage here
CONFIG_EMPTY=
)"));
    ASSERT_EQ(fragment.entries.size(), 6U);
    EXPECT_EQ(fragment.entries[0].symbol, "CONFIG_FOO");
    EXPECT_EQ(fragment.entries[0].value, "y");
    EXPECT_EQ(fragment.entries[0].line, 3);
    EXPECT_EQ(fragment.entries[1].value, "\"some string\"");
    EXPECT_EQ(fragment.entries[2].value, "123");
    EXPECT_EQ(fragment.entries[3].symbol, "CONFIG_BAZ");
    EXPECT_FALSE(fragment.entries[3].value.has_value());
    EXPECT_FALSE(fragment.entries[4].value.has_value()); // =n means not set
    EXPECT_EQ(fragment.entries[5].value, "m");
    ASSERT_EQ(fragment.errors.size(), 2U);
    EXPECT_EQ(fragment.errors[0], "line 9: cannot parse 'garbage here'");
}

TEST(Kconfig, DotConfigNotSetMeansAbsent) {
    const DotConfig config = parse_dotconfig(fixture_lines("synthetic.config"));
    EXPECT_EQ(config.at("CONFIG_PAGE_TABLE_CHECK"), "y");
    EXPECT_EQ(config.count("CONFIG_KASAN"), 0U);
    EXPECT_EQ(config.count("CONFIG_LOCALVERSION_AUTO"), 0U);
    EXPECT_EQ(config.at("CONFIG_CMDLINE"), "\"console=ttyAMA0 page_table_check=on\"");
}

TEST(Kconfig, MatchingFragmentHasNoMismatches) {
    const DotConfig config = parse_dotconfig(fixture_lines("synthetic.config"));
    const auto fragment = parse_config_fragment(fixture_lines("synthetic-ok.fragment"));
    EXPECT_TRUE(fragment.errors.empty());
    EXPECT_TRUE(check_config(fragment, config).empty());
    EXPECT_EQ(distinct_symbols(fragment), 10U);
}

TEST(Kconfig, ReportsEveryMismatch) {
    const DotConfig config = parse_dotconfig(fixture_lines("synthetic.config"));
    const auto fragment = parse_config_fragment(fixture_lines("synthetic-bad.fragment"));
    EXPECT_EQ(messages(check_config(fragment, config)),
              (std::vector<std::string>{"CONFIG_TEST_KMOD: asked y, got m",
                                        "CONFIG_KASAN: asked y, got not set",
                                        "CONFIG_LOG_BUF_SHIFT: asked 18, got 17",
                                        "CONFIG_LOCKDEP: asked not set, got y"}));
}

TEST(Kconfig, LastOccurrenceInFragmentWins) {
    const DotConfig config = parse_dotconfig(lines_of("CONFIG_A=m\n"));
    const auto fragment = parse_config_fragment(lines_of("CONFIG_A=y\nCONFIG_A=m\n"));
    EXPECT_TRUE(check_config(fragment, config).empty());
    const auto unset = parse_config_fragment(lines_of("CONFIG_A=m\n# CONFIG_A is not set\n"));
    EXPECT_EQ(messages(check_config(unset, config)),
              std::vector<std::string>{"CONFIG_A: asked not set, got m"});
}

TEST(Kconfig, ConfigGet) {
    const DotConfig config = parse_dotconfig(fixture_lines("synthetic.config"));
    EXPECT_EQ(config_get(config, "CONFIG_TEST_KMOD"), "m");
    EXPECT_EQ(config_get(config, "PAGE_TABLE_CHECK"), "y");
    EXPECT_EQ(config_get(config, "CONFIG_KASAN"), "n");
    EXPECT_EQ(config_get(config, "CONFIG_NOT_THERE"), "n");
    EXPECT_EQ(config_get(config, "CONFIG_LOG_BUF_SHIFT"), "17");
    EXPECT_EQ(config_get(config, "CONFIG_CMDLINE"), "console=ttyAMA0 page_table_check=on");
    const DotConfig escaped = parse_dotconfig(lines_of(R"(CONFIG_S="a \"b\" \\c")"));
    EXPECT_EQ(config_get(escaped, "S"), R"(a "b" \c)");
}

TEST(Kconfig, ClosestConfigCountsDifferingOptions) {
    const DotConfig head = parse_dotconfig(lines_of("CONFIG_A=y\nCONFIG_SPLIT=y\nCONFIG_N=3\n"));
    const DotConfig base = parse_dotconfig(lines_of("CONFIG_A=y\nCONFIG_N=3\n"));
    const DotConfig other = parse_dotconfig(lines_of("CONFIG_A=m\nCONFIG_N=4\n"));
    EXPECT_EQ(config_distance(head, head), 0U);
    EXPECT_EQ(config_distance(head, base), 1U);
    EXPECT_EQ(config_distance(base, head), 1U);
    EXPECT_EQ(config_distance(head, other), 3U);
    // A step with the split lock off is seeded from a folder with it off, not the newest.
    EXPECT_EQ(closest_config(base, {head, other, base}), 2U);
    // Equals: the first, which callers make the newest.
    EXPECT_EQ(closest_config(base, {base, base}), 0U);
    EXPECT_THROW(closest_config(base, {}), std::runtime_error);
}

} // namespace
} // namespace ptlab
