// The page pattern writer and verifier of the thp workload.
#include "pattern.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace ptlab;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::uint64_t kSalt = 0x1234567890abcdefULL;

std::vector<std::uint64_t> page() { return std::vector<std::uint64_t>(kPage / 8); }

} // namespace

TEST(Pattern, WrittenPageVerifies) {
    auto p = page();
    fill_page(p.data(), kPage, kSalt, 0x5000, 7);
    EXPECT_FALSE(verify_page(p.data(), kPage, kSalt, 0x5000, 7));
    EXPECT_EQ(p[0], page_seed(kSalt, 0x5000, 7));
    EXPECT_EQ(p[3], page_seed(kSalt, 0x5000, 7) + 3 * kWordStep);
    EXPECT_EQ(expected_word(kSalt, 0x5000, 7, 24), p[3]);
}

TEST(Pattern, GenerationZeroIsZeros) {
    auto p = page();
    fill_page(p.data(), kPage, kSalt, 0, 0);
    EXPECT_FALSE(verify_page(p.data(), kPage, kSalt, 0, 0));
    p[100] = 1;
    const auto m = verify_page(p.data(), kPage, kSalt, 0, 0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 800U);
    EXPECT_EQ(m->expected, 0U);
    EXPECT_EQ(m->found, 1U);
    EXPECT_EQ(m->bad_bytes, 1U);
}

TEST(Pattern, FirstMismatchByOffsetExpectedFound) {
    auto p = page();
    fill_page(p.data(), kPage, kSalt, 0x7000, 3);
    const std::uint64_t want = p[17];
    auto *bytes = reinterpret_cast<unsigned char *>(p.data());
    bytes[std::size_t{17} * 8 + 2] ^= 0x40;
    bytes[std::size_t{300} * 8] ^= 0x01;
    const auto m = verify_page(p.data(), kPage, kSalt, 0x7000, 3);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 17U * 8);
    EXPECT_EQ(m->expected, want);
    EXPECT_EQ(m->found, want ^ (0x40ULL << 16));
    EXPECT_EQ(m->bad_bytes, 2U);
    EXPECT_FALSE(m->found_other_gen);
}

TEST(Pattern, LostDataReadsAsZeros) {
    auto p = page(); // never written: all zeros, expected generation 5
    const auto m = verify_page(p.data(), kPage, kSalt, 0x1000, 5);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 0U);
    EXPECT_EQ(m->found, 0U);
    EXPECT_GT(m->bad_bytes, kPage * 9 / 10); // nearly every byte (a few are 0 by chance)
}

TEST(Pattern, StaleGenerationIsRecognised) {
    auto p = page();
    fill_page(p.data(), kPage, kSalt, 0x2000, 9);
    const auto m = verify_page(p.data(), kPage, kSalt, 0x2000, 10);
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->found_other_gen);
    EXPECT_EQ(m->other_gen, 9U);
}

TEST(Pattern, PagesAndRegionsDiffer) {
    auto p = page();
    fill_page(p.data(), kPage, kSalt, 0x2000, 1);
    EXPECT_TRUE(verify_page(p.data(), kPage, kSalt, 0x3000, 1));     // another page's data
    EXPECT_TRUE(verify_page(p.data(), kPage, kSalt + 1, 0x2000, 1)); // another region's
    EXPECT_NE(page_seed(kSalt, 0, 1), page_seed(kSalt, 0, 2));
}

TEST(Pattern, MaybeZeroAcceptsPatternOrZeros) {
    auto p = page();
    fill_page(p.data(), kPage, kSalt, 0x4000, 4);
    EXPECT_FALSE(verify_page(p.data(), kPage, kSalt, 0x4000, 4 | kGenMaybeZero));
    std::memset(p.data(), 0, kPage);
    EXPECT_FALSE(verify_page(p.data(), kPage, kSalt, 0x4000, 4 | kGenMaybeZero));
    p[1] = 42; // neither
    EXPECT_TRUE(verify_page(p.data(), kPage, kSalt, 0x4000, 4 | kGenMaybeZero));
}

TEST(Pattern, LargePages) {
    std::vector<std::uint64_t> p(65536 / 8);
    fill_page(p.data(), 65536, kSalt, 0x10000, 1);
    EXPECT_FALSE(verify_page(p.data(), 65536, kSalt, 0x10000, 1));
    p.back() ^= 1;
    const auto m = verify_page(p.data(), 65536, kSalt, 0x10000, 1);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 65536U - 8);
}
