#include "ptlab/lines.hpp"

#include <gtest/gtest.h>

namespace ptlab {
namespace {

TEST(Lines, SplitHandlesCrLfAndTrailingNewline) {
    const auto lines = split_lines("a\r\nb\n\nc\n");
    ASSERT_EQ(lines.size(), 4U);
    EXPECT_EQ(lines[0], "a");
    EXPECT_EQ(lines[1], "b");
    EXPECT_EQ(lines[2], "");
    EXPECT_EQ(lines[3], "c");
    EXPECT_TRUE(split_lines("").empty());
}

TEST(Lines, StripConsolePrefixKeepsIndentation) {
    bool ts = false;
    EXPECT_EQ(strip_console_prefix("[   12.345678]     ok 1 foo", &ts), "    ok 1 foo");
    EXPECT_TRUE(ts);
    EXPECT_EQ(strip_console_prefix("[    0.000000][    T1] msg"), "msg");
    EXPECT_EQ(strip_console_prefix("<6>[    1.5] msg\r"), "msg");
    EXPECT_EQ(strip_console_prefix("[  245.126100] "), "");
    EXPECT_EQ(strip_console_prefix("plain line", &ts), "plain line");
    EXPECT_FALSE(ts);
    // Not a timestamp: the page-table dump line of an Oops.
    EXPECT_EQ(strip_console_prefix("[0000000000000000] pgd=0"), "[0000000000000000] pgd=0");
}

TEST(Lines, UntangleSplitsBeforeEachPrintkRecordInsideALine) {
    const auto c = untangle_console(
        {"[    3.759810] sysrq: Trigger a crash",
         "    KTAP version 1[    3.760534] Kernel panic - not syncing: sysrq triggered crash", "",
         "    ok 1 x[    3.762319]  dump_backtrace+0x98/0xc8[ 1234.000001] next"});
    const std::vector<std::string> want{"[    3.759810] sysrq: Trigger a crash",
                                        "    KTAP version 1",
                                        "[    3.760534] Kernel panic - not syncing: sysrq "
                                        "triggered crash",
                                        "",
                                        "    ok 1 x",
                                        "[    3.762319]  dump_backtrace+0x98/0xc8",
                                        "[ 1234.000001] next"};
    EXPECT_EQ(c.lines, want);
    EXPECT_EQ(c.source_line, (std::vector<std::size_t>{1, 2, 2, 3, 4, 4, 4}));
}

TEST(Lines, UntangleLeavesUserBracketsAlone) {
    const std::vector<std::string> raw{"# ratio [1.5] and [   1.5]", "x [12345.12345] y",
                                       "[0000000000000000] pgd=0", "a[    1.123456 ]"};
    EXPECT_EQ(untangle_console(raw).lines, raw);
}

TEST(Lines, KtapResultAndIndentation) {
    EXPECT_TRUE(is_ktap_result("ok 1 foo"));
    EXPECT_TRUE(is_ktap_result("not ok 12"));
    EXPECT_FALSE(is_ktap_result("ok foo"));
    EXPECT_FALSE(is_ktap_result("okay 1"));
    EXPECT_EQ(indentation_of("    x"), 4);
    EXPECT_EQ(indentation_of("\tx"), 8);
    EXPECT_EQ(indentation_of("  \tx"), 8);
}

TEST(Lines, SanitizeUtf8ReplacesInvalidBytes) {
    EXPECT_EQ(sanitize_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
    EXPECT_EQ(sanitize_utf8("a\xFF"
                            "b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(sanitize_utf8("\xC3"), "\xEF\xBF\xBD");
    EXPECT_EQ(sanitize_utf8("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD"); // overlong
}

TEST(Lines, APatternMatchesWithinOneLineAndAnchorsAtItsEnds) {
    const std::string text = "efi_mm.pud: level=pud found=table\nsecond line\n";
    EXPECT_TRUE(has_matching_line(text, "level=pud .*table$"));
    EXPECT_TRUE(has_matching_line(text, "^second"));
    EXPECT_FALSE(has_matching_line(text, "table.second"));
    EXPECT_FALSE(has_matching_line("", "."));
}

} // namespace
} // namespace ptlab
