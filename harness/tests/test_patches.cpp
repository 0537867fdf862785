#include "fixture.hpp"
#include "ptlab/patches.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace ptlab {
namespace {

using testing::lines_of;

const char *const kUpstream =
    R"(From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Yu Zhao <yuzhao@google.com>
Date: Tue, 12 Mar 2019 00:57:00 +0000
Subject: [PATCH v4 1/4] arm64: mm: use appropriate ctors for page
 tables

For pte page, use pgtable_page_ctor().

Acked-by: Mark Rutland <mark.rutland@arm.com>
Signed-off-by: Yu Zhao <yuzhao@google.com>
---
 arch/arm64/mm/mmu.c | 1 +
diff --git a/arch/arm64/mm/mmu.c b/arch/arm64/mm/mmu.c
)";

const char *const kPort = R"(From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Yu Zhao <yuzhao@google.com>
Date: Tue, 12 Mar 2019 00:57:00 +0000
Subject: [PATCH 1/4] arm64: mm: use appropriate ctors for page tables

For pte page, use pgtable_page_ctor().

Acked-by: Mark Rutland <mark.rutland@arm.com>
Signed-off-by: Yu Zhao <yuzhao@google.com>
[ Port to v6.1: pgtable_page_ctor() is pgtable_pte_page_ctor(). ]
Signed-off-by: Porter <porter@example.org>
---
diff --git a/arch/arm64/mm/mmu.c b/arch/arm64/mm/mmu.c
)";

const char *const kRevert = R"(From: Porter <porter@example.org>
Date: Wed, 25 Nov 2026 21:00:00 +0000
Subject: [PATCH 1/1] Revert "arm64: mm: use appropriate ctors for page tables"

Why.

Signed-off-by: Porter <porter@example.org>
---
diff --git a/arch/arm64/mm/mmu.c b/arch/arm64/mm/mmu.c
)";

TEST(Patches, ParsesHeadersFoldedSubjectAndMessage) {
    const auto p = parse_patch("a.patch", lines_of(kUpstream));
    EXPECT_EQ(p.author, "Yu Zhao <yuzhao@google.com>");
    EXPECT_EQ(p.date, "Tue, 12 Mar 2019 00:57:00 +0000");
    EXPECT_EQ(p.subject, "arm64: mm: use appropriate ctors for page tables");
    ASSERT_EQ(p.message.size(), 4U);
    EXPECT_EQ(p.message.back(), "Signed-off-by: Yu Zhao <yuzhao@google.com>");
    EXPECT_TRUE(p.has_diff);
}

TEST(Patches, FaithfulPortHasNoProblems) {
    const auto up = parse_patch("up.patch", lines_of(kUpstream));
    const auto port = parse_patch("port.patch", lines_of(kPort));
    const auto base = parse_patch("base.patch", lines_of(kRevert));
    const auto problems = check_provenance({up}, {port}, {base});
    EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST(Patches, ChangedAuthorMessageOrMissingNoteAreReported) {
    const auto up = parse_patch("up.patch", lines_of(kUpstream));
    std::string text = kPort;
    text.replace(text.find("Yu Zhao <yuzhao"), 7, "Someone");
    text.replace(text.find("For pte page"), 3, "Fur");
    text.replace(text.find("[ Port to v6.1"), 14, "[ Backport   ");
    const auto problems = check_provenance({up}, {parse_patch("port.patch", lines_of(text))},
                                           {parse_patch("base.patch", lines_of(kRevert))});
    ASSERT_EQ(problems.size(), 3U);
    EXPECT_NE(problems[0].find("author"), std::string::npos);
    EXPECT_NE(problems[1].find("verbatim"), std::string::npos);
    EXPECT_NE(problems[2].find("Port to v6.1"), std::string::npos);
}

TEST(Patches, BaselineMustRevertNewestFirst) {
    const auto up = parse_patch("up.patch", lines_of(kUpstream));
    const auto port = parse_patch("port.patch", lines_of(kPort));
    const auto problems = check_provenance({up}, {port}, {});
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_NE(problems[0].find("Revert \"arm64: mm: use appropriate ctors"), std::string::npos);
}

// The lab's own patches/ must pass.
TEST(Patches, LabPatchesHaveTheirProvenance) {
    const std::filesystem::path top = testing::fixtures_dir() / "../../../patches";
    const auto problems =
        check_provenance(load_patches(top / "upstream-v4"), load_patches(top / "6.1/series"),
                         load_patches(top / "6.1/base"));
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_EQ(load_patches(top / "6.1/series").size(), 4U);
}

} // namespace
} // namespace ptlab
