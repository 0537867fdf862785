// The facts the guest reports, from the text of the files it reads.
#include "guest_facts.hpp"

#include <gtest/gtest.h>

namespace ptlab {
namespace {

TEST(GuestFacts, AddressBitsAreTheVaSize) {
    EXPECT_EQ(address_bits(0xffff'ffff'ffffULL), 48U);
    EXPECT_EQ(address_bits(0x7f'ffff'ffffULL), 39U);
    EXPECT_EQ(address_bits(std::uint64_t{1} << 50), 51U);
    EXPECT_EQ(address_bits(0x000f'ffff'ffff'ffffULL), 52U);
    EXPECT_EQ(address_bits(0), 0U);
}

TEST(GuestFacts, KconfigValuesSkipCommentsAndUnsetOptions) {
    const auto v = kconfig_values("# CONFIG_X is not set\nCONFIG_PGTABLE_LEVELS=3\n"
                                  "CONFIG_CMDLINE=\"a=b\"\nnoise\n");
    EXPECT_EQ(v.size(), 2U);
    EXPECT_EQ(v.at("PGTABLE_LEVELS"), "3");
    EXPECT_EQ(v.at("CMDLINE"), "\"a=b\"");
}

TEST(GuestFacts, SplitPmdLockNeedsTheArchOptionAndEnoughCpus) {
    const std::map<std::string, std::string> on = {
        {"ARCH_ENABLE_SPLIT_PMD_PTLOCK", "y"}, {"NR_CPUS", "256"}, {"SPLIT_PTLOCK_CPUS", "4"}};
    EXPECT_EQ(split_pmd_lock(on), "on");
    EXPECT_EQ(
        split_pmd_lock(
            {{"ARCH_ENABLE_SPLIT_PMD_PTLOCK", "y"}, {"NR_CPUS", "2"}, {"SPLIT_PTLOCK_CPUS", "4"}}),
        "off");
    EXPECT_EQ(split_pmd_lock({{"ARCH_ENABLE_SPLIT_PMD_PTLOCK", "y"}, {"SPLIT_PTLOCK_CPUS", "4"}}),
              "off");
    EXPECT_EQ(split_pmd_lock({{"NR_CPUS", "256"}, {"SPLIT_PTLOCK_CPUS", "4"}}), "off");
}

TEST(GuestFacts, TheFactLineHasTheKeysTheHostJudges) {
    const BootFacts full{65536, 536870912, 52, std::string("3"), std::string("on")};
    EXPECT_EQ(fact_line(full),
              "page_size=65536 pmd_size=536870912 va_bits=52 levels=3 split_pmd=on");
    const BootFacts bare{65536, 0, 52, std::string(), std::string()};
    EXPECT_EQ(fact_line(bare), "page_size=65536 pmd_size=unknown va_bits=52");
}

} // namespace
} // namespace ptlab

namespace ptlab {
namespace {

TEST(GuestFacts, TimingOptionsSayWhatABenchMeasured) {
    EXPECT_EQ(timing_options({{"LOCK_STAT", "y"}, {"DEBUG_VM", "n"}, {"DEBUG_SPINLOCK", "y"}}),
              "LOCK_STAT=y PROVE_LOCKING=n DEBUG_VM=n DEBUG_SPINLOCK=y "
              "ARCH_ENABLE_SPLIT_PMD_PTLOCK=n");
}

} // namespace
} // namespace ptlab
