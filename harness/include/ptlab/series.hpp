// A user's series (SERIES=): a folder of *.patch files, or an mbox as `git format-patch
// --stdout`, a mail client or `b4 mbox` leave it. A plain mbox (one version, patches and
// perhaps a cover letter) is applied in its order; a thread (several versions, review
// replies) goes through `b4 am` offline, which picks the newest complete version and adds
// the trailers the replies gave.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/tree.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

/// One message of an mbox, as far as choosing patches goes.
struct MboxMessage {
    std::string subject; ///< unfolded
    int version = 1;     ///< "[PATCH v2 1/3]" -> 2
    int number = 0;      ///< "[PATCH v2 1/3]" -> 1; 0 for a cover letter or a lone patch
    int total = 0;       ///< "[PATCH v2 1/3]" -> 3
    bool reply = false;  ///< "Re: ..."
    bool patch = false;  ///< carries a diff
};

/// The messages of an mbox, split at its "From " lines.
std::vector<MboxMessage> mbox_messages(std::string_view mbox);
/// Several versions, replies or one number twice: a thread b4 must pick from.
bool is_thread(const std::vector<MboxMessage> &messages);

/// The patches of a series, in order, and how they were chosen ("mbox: 4 patches",
/// "thread: v2 of 2 versions, 2 patches, by b4 am").
struct SeriesPatches {
    std::vector<fs::path> files;
    std::vector<std::string> subjects; ///< each file's, to name the one that does not apply
    std::string how;
};

/// A folder's *.patch, sorted by name; throws when there is none.
std::vector<fs::path> patch_files(const fs::path &folder);

/// SERIES: a folder's *.patch (sorted) or an mbox split into layout.series_work() (emptied
/// first). Without b4 installed, a thread is refused naming its package.
SeriesPatches series_patches(const Layout &layout, const fs::path &series);

/// The series applied on onto with the lab's committer (the same ids on every machine);
/// HEAD is left at its last patch, whose sha is returned. A patch that does not apply is
/// named by its place in the series and its subject, beside git's files.
std::string apply_series(const Layout &layout, const Tree &tree, const fs::path &series,
                         const std::string &onto, const Progress &progress);

} // namespace ptlab
