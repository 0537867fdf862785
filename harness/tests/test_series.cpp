// SERIES= as a folder, an mbox of our ported series, and a thread with two versions and a
// review reply (tests/fixtures/thread-v1-v2.mbox, made by git format-patch --thread).
#include "fixture.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/series.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace ptlab {
namespace {

using testing::fixture_path;
using testing::fixture_text;

const fs::path top = fs::path(PTLAB_GEOMETRY_DIR).parent_path().parent_path();

std::string our_series_mbox() {
    std::vector<fs::path> files;
    for (const auto &entry : fs::directory_iterator(top / "patches/6.1/series")) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    std::string mbox;
    for (const auto &file : files) {
        mbox += read_text_file(file);
    }
    return mbox;
}

class Series : public ::testing::Test {
protected:
    void SetUp() override {
        build_ = fs::temp_directory_path() / ("ptlab-series-" + std::to_string(getpid()));
        layout_ = Layout::at(top, build_);
    }
    void TearDown() override { fs::remove_all(build_); }
    fs::path build_;
    Layout layout_;
};

TEST(SeriesMessages, OurPortedSeriesIsFourPatchesInOrderTheEmptyOneIncluded) {
    const auto messages = mbox_messages(our_series_mbox());
    ASSERT_EQ(messages.size(), 4U);
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(messages[i].patch) << messages[i].subject;
        EXPECT_EQ(messages[i].number, i + 1);
        EXPECT_EQ(messages[i].total, 4);
        EXPECT_EQ(messages[i].version, 1);
    }
    EXPECT_EQ(messages[2].subject, "[PATCH 3/4] arm64: mm: call ctor for stage2 pmd page");
    EXPECT_FALSE(is_thread(messages));
}

TEST(SeriesMessages, AThreadHasVersionsCoverLettersAndReplies) {
    const auto messages = mbox_messages(fixture_text("thread-v1-v2.mbox"));
    ASSERT_EQ(messages.size(), 7U);
    EXPECT_FALSE(messages[0].patch); // v1's cover letter
    EXPECT_EQ(messages[0].total, 2);
    EXPECT_EQ(messages[4].version, 2);
    EXPECT_EQ(messages[4].number, 1);
    EXPECT_TRUE(messages[4].patch);
    EXPECT_TRUE(messages[6].reply);
    EXPECT_FALSE(messages[6].patch);
    EXPECT_TRUE(is_thread(messages));
    // One version with its cover letter is not a thread to pick from.
    EXPECT_FALSE(is_thread({messages[3], messages[4], messages[5]}));
}

TEST_F(Series, AFolderIsItsPatchesSorted) {
    const SeriesPatches s = series_patches(layout_, top / "patches/6.1/series");
    ASSERT_EQ(s.files.size(), 4U);
    EXPECT_EQ(s.how, "folder: 4 patches");
    EXPECT_EQ(s.subjects[0], "[PATCH 1/4] arm64: mm: use appropriate ctors for page tables");
}

TEST_F(Series, AnMboxIsSplitIntoItsPatchesInOrder) {
    const fs::path mbox = build_ / "series.mbox";
    fs::create_directories(build_);
    std::ofstream(mbox) << our_series_mbox();
    const SeriesPatches s = series_patches(layout_, mbox);
    ASSERT_EQ(s.files.size(), 4U);
    EXPECT_EQ(s.how, "mbox: 4 patches");
    EXPECT_EQ(s.subjects[3], "[PATCH 4/4] arm64: mm: enable per pmd page table lock");
    EXPECT_NE(read_text_file(s.files[2]).find("nothing is left to change"), std::string::npos);
}

TEST_F(Series, AThreadGoesThroughB4WhichPicksTheNewestVersionWithItsTrailers) {
    if (std::system("command -v b4 >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "b4 is not installed (Debian package b4; make deps installs it)";
    }
    const SeriesPatches s = series_patches(layout_, fixture_path("thread-v1-v2.mbox"));
    ASSERT_EQ(s.files.size(), 2U);
    EXPECT_EQ(s.how, "thread: v2 of 2 version(s), 2 patches, picked by b4 am");
    EXPECT_EQ(s.subjects[0], "[PATCH v2 1/2] README: say the lab was here");
    const std::string first = read_text_file(s.files[0]);
    EXPECT_NE(first.find("(v2)"), std::string::npos);
    EXPECT_NE(first.find("Reviewed-by: Re Viewer <re@viewer.example>"), std::string::npos);
}

TEST_F(Series, WhatIsNeitherAFolderNorAnMboxIsRefused) {
    try {
        (void)series_patches(layout_, build_ / "nothing-here");
        ADD_FAILURE() << "accepted";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find("is neither a folder of patches nor an mbox"),
                  std::string::npos);
    }
}

} // namespace
} // namespace ptlab
