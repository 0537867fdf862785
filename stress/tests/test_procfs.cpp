// The /proc/meminfo and smaps parsers, sysfs choice parsing.
#include "procfs.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace ptlab;

namespace {

const char *const kMeminfo = "MemTotal:        2011504 kB\n"
                             "MemFree:         1935268 kB\n"
                             "MemAvailable:    1948172 kB\n"
                             "AnonHugePages:     24576 kB\n"
                             "ShmemPmdMapped:        0 kB\n"
                             "PageTables:          172 kB\n"
                             "SecPageTables:        48 kB\n"
                             "HugePages_Total:       0\n"
                             "Hugepagesize:       2048 kB\n";

// Two mappings as Linux 6.1 prints them (the second one truncated to the fields we read).
const char *const kSmaps = "ffff8da00000-ffff8ea00000 rw-p 00000000 00:00 0 \n"
                           "Size:              16384 kB\n"
                           "KernelPageSize:        4 kB\n"
                           "MMUPageSize:           4 kB\n"
                           "Rss:                8200 kB\n"
                           "Pss:                8200 kB\n"
                           "Anonymous:          8200 kB\n"
                           "AnonHugePages:      8192 kB\n"
                           "ShmemPmdMapped:        0 kB\n"
                           "FilePmdMapped:         0 kB\n"
                           "Swap:                  0 kB\n"
                           "Locked:                0 kB\n"
                           "THPeligible:    1\n"
                           "VmFlags: rd wr mr mw me ac hg \n"
                           "aaaab2f30000-aaaab2f51000 r-xp 00010000 00:02 1234                     "
                           "  /usr/bin/ptlab stress\n"
                           "Size:                132 kB\n"
                           "Rss:                 132 kB\n"
                           "AnonHugePages:         0 kB\n"
                           "THPeligible:    0\n"
                           "VmFlags: rd ex mr mw me \n";

} // namespace

TEST(Meminfo, Parses) {
    const auto m = parse_meminfo(kMeminfo);
    EXPECT_EQ(m.at("MemTotal"), 2011504U);
    EXPECT_EQ(m.at("AnonHugePages"), 24576U);
    EXPECT_EQ(m.at("PageTables"), 172U);
    EXPECT_EQ(m.at("SecPageTables"), 48U);
    EXPECT_EQ(m.at("HugePages_Total"), 0U);
    EXPECT_EQ(m.count("Missing"), 0U);
}

TEST(Meminfo, IgnoresGarbage) {
    const auto m = parse_meminfo("bogus line\nKey: notanumber kB\nGood: 5 kB\n:7\n");
    EXPECT_EQ(m.size(), 1U);
    EXPECT_EQ(m.at("Good"), 5U);
}

TEST(Meminfo, ReadsTheRealFile) {
    const auto m = read_meminfo();
    EXPECT_GT(m.at("MemTotal"), 0U);
}

TEST(Smaps, ParsesEntries) {
    const auto e = parse_smaps(kSmaps);
    ASSERT_EQ(e.size(), 2U);
    EXPECT_EQ(e[0].start, 0xffff8da00000U);
    EXPECT_EQ(e[0].end, 0xffff8ea00000U);
    EXPECT_EQ(e[0].perms, "rw-p");
    EXPECT_EQ(e[0].name, "");
    EXPECT_EQ(e[0].field("AnonHugePages"), 8192U);
    EXPECT_EQ(e[0].field("Rss"), 8200U);
    EXPECT_EQ(e[0].field("NoSuchField"), 0U);
    EXPECT_EQ(e[0].thp_eligible, 1);
    EXPECT_TRUE(e[0].has_flag("hg"));
    EXPECT_FALSE(e[0].has_flag("nh"));
    EXPECT_EQ(e[1].offset, 0x10000U);
    EXPECT_EQ(e[1].name, "/usr/bin/ptlab stress");
    EXPECT_EQ(e[1].thp_eligible, 0);
    EXPECT_EQ(e[1].vm_flags.size(), 5U);
}

TEST(Smaps, SumsOverARange) {
    const auto e = parse_smaps(kSmaps);
    EXPECT_EQ(smaps_sum(e, "Rss"), 8332U);
    EXPECT_EQ(smaps_sum(e, "AnonHugePages", 0xffff8da00000, 0xffff8da01000), 8192U);
    EXPECT_EQ(smaps_sum(e, "AnonHugePages", 0, 0xaaaab2f30000), 0U);
}

TEST(Smaps, MapsFormatHasNoFields) {
    const auto e = parse_smaps("00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus\n"
                               "7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]\n");
    ASSERT_EQ(e.size(), 2U);
    EXPECT_EQ(e[1].name, "[stack]");
    EXPECT_TRUE(e[1].kb.empty());
}

TEST(Smaps, PageTablePagesBound) {
    // 4K pages: a PTE table maps 2 MiB, a PMD table 1 GiB, a PUD table 512 GiB.
    const auto one = parse_smaps("400000-401000 r-xp 00000000 08:02 1 /bin/x\n");
    EXPECT_EQ(page_table_pages_bound(one, 4096), 3U);
    // Two VMAs in the same 2 MiB share every table; a third 4 MiB away needs one more PTE table.
    const auto three = parse_smaps("400000-401000 r-xp 00000000 08:02 1 /bin/x\n"
                                   "401000-402000 rw-p 00000000 08:02 1 /bin/x\n"
                                   "800000-a00000 rw-p 00000000 00:00 0\n");
    EXPECT_EQ(page_table_pages_bound(three, 4096), 4U);
    // A 4 MiB VMA straddling a 1 GiB boundary: 2 PTE tables, 2 PMD tables, 1 PUD table.
    const auto straddle = parse_smaps("3ff00000-40100000 rw-p 00000000 00:00 0\n");
    EXPECT_EQ(page_table_pages_bound(straddle, 4096), 5U);
    // 64K pages: a PTE table maps 512 MiB, so the three VMAs above need one table per level.
    EXPECT_EQ(page_table_pages_bound(three, 65536), 3U);
    EXPECT_EQ(page_table_pages_bound({}, 4096), 0U);
}

TEST(Smaps, RejectsMalformedInput) {
    EXPECT_THROW(parse_smaps("Rss: 4 kB\n"), std::runtime_error);
    EXPECT_THROW(parse_smaps("2000-1000 rw-p 0 00:00 0\n"), std::runtime_error);
    EXPECT_THROW(parse_smaps("1000-2000 rw-p zz 00:00 0\n"), std::runtime_error);
}

TEST(Smaps, ReadsTheRealFile) {
    const auto e = parse_smaps(read_file("/proc/self/smaps"));
    ASSERT_FALSE(e.empty());
    for (const auto &x : e) {
        EXPECT_EQ(smaps_entry_problem(x, 0), "") << x.name;
    }
}

TEST(Smaps, ConsistencyChecks) {
    auto e = parse_smaps(kSmaps);
    EXPECT_EQ(smaps_entry_problem(e[0], 2048), "");
    e[0].kb["AnonHugePages"] = 9000;
    EXPECT_NE(smaps_entry_problem(e[0], 2048).find("> Rss"), std::string::npos);
    e[0].kb["AnonHugePages"] = 1024;
    EXPECT_NE(smaps_entry_problem(e[0], 2048).find("multiple"), std::string::npos);
    e[0].kb["AnonHugePages"] = 0;
    e[0].kb["Rss"] = 20000;
    EXPECT_NE(smaps_entry_problem(e[0], 2048).find("Size"), std::string::npos);
    e[0].kb["Size"] = 4;
    EXPECT_NE(smaps_entry_problem(e[0], 2048).find("range"), std::string::npos);
}

TEST(Sysfs, Choice) {
    EXPECT_EQ(sysfs_choice("always [madvise] never\n"), "madvise");
    EXPECT_EQ(sysfs_choice("[always] madvise never"), "always");
    EXPECT_EQ(sysfs_choice("10000\n"), "10000");
    EXPECT_EQ(trim("  x y \n"), "x y");
}

TEST(Files, MissingFile) {
    int err = 0;
    EXPECT_FALSE(try_read_file("/nonexistent/ptlab", &err));
    EXPECT_EQ(err, ENOENT);
    EXPECT_THROW(read_file("/nonexistent/ptlab"), std::runtime_error);
    SettingOverride s;
    std::string why;
    EXPECT_FALSE(s.set("/nonexistent/ptlab", "1", &why));
    EXPECT_NE(why.find("ENOENT"), std::string::npos);
}
