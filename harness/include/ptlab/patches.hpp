// Provenance of the ported series: each patch in patches/6.1/series must keep the v4 patch's
// author, date, subject, message and tags, add a bracketed port note and the porter's
// sign-off; patches/6.1/base must revert, newest first, each patch that changes 6.1.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ptlab {

/// One mbox patch as git am sees it.
struct Patch {
    std::string file;
    std::string author;               ///< "Name <email>"
    std::string date;                 ///< Date: header, verbatim
    std::string subject;              ///< without the "[PATCH ...] " prefix
    std::vector<std::string> message; ///< body lines up to the "---" separator
    bool has_diff = false;
};

/// Parse an mbox patch (headers, folded header lines, body, diff).
Patch parse_patch(const std::string &file, const std::vector<std::string> &lines);

/// The patches of a directory, sorted by file name.
std::vector<Patch> load_patches(const std::filesystem::path &dir);

/// Every provenance problem found, as "file: what is wrong"; empty when all is well.
std::vector<std::string> check_provenance(const std::vector<Patch> &upstream,
                                          const std::vector<Patch> &series,
                                          const std::vector<Patch> &base);

} // namespace ptlab
