// The Debian package the ported series was last verified against, and the commit ids it gave
// (patches/6.1/verified.json), compared with the tree make source just built.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct BaseRecord {
    std::string package;                        ///< linux-source-6.1
    std::string version;                        ///< Debian's revision, 6.1.192-3
    std::map<std::string, std::string> commits; ///< pristine, series-base, series-head -> sha
};

BaseRecord load_base_record(const std::filesystem::path &path);
std::string base_record_to_json(const BaseRecord &record);

enum class BaseDrift {
    None,            ///< same version, same commit ids
    NewVersion,      ///< Debian serves another version: the ids follow it
    NotReproducible, ///< same version, other ids: the tree is not built as recorded
};

struct BaseComparison {
    BaseDrift drift = BaseDrift::None;
    std::vector<std::string> lines; ///< what to tell the user, plainly
};

BaseComparison compare_base(const BaseRecord &recorded, const BaseRecord &built);

/// The record's ids that `text` (README.md) does not quote by their first 12 digits.
std::vector<std::string> unquoted_ids(const BaseRecord &record, const std::string &text);

} // namespace ptlab
