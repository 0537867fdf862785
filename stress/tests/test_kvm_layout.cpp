// The kvm workload's guest-physical layout and strides.
#include "kvm_layout.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace ptlab::kvmlayout;

TEST(KvmLayout, IpaSizes) {
    EXPECT_EQ(ipa_sizes(48), (std::vector<unsigned>{32, 36, 40, 44, 48}));
    EXPECT_EQ(ipa_sizes(40), (std::vector<unsigned>{32, 36, 40}));
    EXPECT_EQ(ipa_sizes(52), (std::vector<unsigned>{32, 36, 40, 44, 48}));
    EXPECT_TRUE(ipa_sizes(31).empty());
    EXPECT_EQ(ipa_sizes(52, {52, 40, 40, 33}), (std::vector<unsigned>{52, 40, 33}));
    EXPECT_EQ(ipa_sizes(48, {52, 40}), (std::vector<unsigned>{40}));
}

TEST(KvmLayout, EveryIpaSizeOnBothGeometries) {
    struct Geometry {
        std::uint64_t page, pmd, small, thp;
    };
    for (const Geometry g : {Geometry{4096, 2ULL << 20, 2ULL << 20, 8ULL << 20},
                             Geometry{65536, 512ULL << 20, 16ULL << 20, 512ULL << 20},
                             Geometry{65536, 512ULL << 20, 16ULL << 20, 32ULL << 20}}) {
        for (const unsigned bits : {32U, 33U, 36U, 40U, 44U, 48U, 52U}) {
            const Layout l = make_layout(bits, g.page, g.pmd, g.small, g.thp);
            EXPECT_EQ(layout_problem(l, g.page, g.pmd), "") << bits;
            EXPECT_EQ(l.thp_gpa % g.pmd, 0U);
            EXPECT_EQ(l.thp_alt_gpa % g.pmd, 0U);
            EXPECT_LE(l.thp_alt_gpa + l.thp_size, 1ULL << bits);
            if (bits > 32) {
                EXPECT_GT(l.thp_alt_gpa, 1ULL << 32) << "moved slot near the top";
            }
        }
    }
}

TEST(KvmLayout, ProblemsAreFound) {
    Layout l = make_layout(32, 4096, 2 << 20, 2 << 20, 8 << 20);
    Layout bad = l;
    bad.exit_gpa = l.thp_gpa + 64;
    EXPECT_NE(layout_problem(bad, 4096, 2 << 20).find("exit address"), std::string::npos);
    bad = l;
    bad.thp_gpa += 4096;
    EXPECT_NE(layout_problem(bad, 4096, 2 << 20).find("aligned"), std::string::npos);
    bad = l;
    bad.small_alt_gpa = l.thp_gpa;
    EXPECT_NE(layout_problem(bad, 4096, 2 << 20).find("overlaps"), std::string::npos);
    EXPECT_THROW(make_layout(32, 65536, 512ULL << 20, 16 << 20, 3ULL << 30), std::invalid_argument);
    EXPECT_THROW(make_layout(20, 4096, 2 << 20, 2 << 20, 8 << 20), std::invalid_argument);
}

TEST(KvmLayout, StrideStaysInsideTheSlot) {
    for (const std::uint64_t page : {std::uint64_t{4096}, std::uint64_t{65536}}) {
        const std::uint64_t sizes[] = {page * 7, 2ULL << 20, 512ULL << 20};
        for (const std::uint64_t size : sizes) {
            for (std::uint64_t k = 0; k < 40; k += 3) {
                for (const std::uint64_t off : {0U, 1U, 255U, 4095U}) {
                    const Stride s = make_stride(size, page, k, off, 256);
                    ASSERT_GE(s.count, 1U);
                    ASSERT_LE(s.count, 256U);
                    ASSERT_EQ(s.stride % page, 0U);
                    ASSERT_EQ(s.offset % 16, 0U);
                    ASSERT_LE(s.offset + (s.count - 1) * s.stride + 16, size);
                }
            }
        }
    }
}

// The starting levels the Arm ARM allows for each granule (VTCR_EL2.SL0 with up to 16
// concatenated tables): 4K 40-bit starts at level 1 with two tables, 16K 40-bit at level 2
// with 16 tables, 64K 48-bit at level 1; and KVM never uses fewer than 2 levels.
TEST(KvmLayout, Stage2LevelsFollowTheHostGranule) {
    EXPECT_EQ(stage2_levels(48, 4096), 4U);
    EXPECT_EQ(stage2_levels(40, 4096), 3U);
    EXPECT_EQ(stage2_levels(32, 4096), 2U);
    EXPECT_EQ(stage2_levels(48, 16384), 3U);
    EXPECT_EQ(stage2_levels(40, 16384), 2U);
    EXPECT_EQ(stage2_levels(36, 16384), 2U);
    EXPECT_EQ(stage2_levels(52, 65536), 3U);
    EXPECT_EQ(stage2_levels(48, 65536), 3U);
    EXPECT_EQ(stage2_levels(42, 65536), 2U);
    EXPECT_EQ(stage2_levels(32, 65536), 2U);
    EXPECT_EQ(stage2_summary({36, 48}, 16384), "36-bit IPA: 2 levels, 48-bit IPA: 3 levels");
}
