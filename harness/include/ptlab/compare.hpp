// make compare: what changed between two result folders of make test or make matrix, and
// whether they are like with like. The folders keep a meta.json (what ran: the lab's commit,
// the tree's steps, Debian's package versions, QEMU's version); each finished run is also
// kept under build/results/history/, so "the last two runs" needs no names.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ptlab {

struct Layout;

/// One result of a run, by a path that names it across runs ("4k-48 @ series-head / boot").
struct FlatResult {
    std::string status; ///< pass, fail, skip, xfail, error
    std::optional<double> seconds;
};
using FlatResults = std::map<std::string, FlatResult>;

/// The results of a make test summary.json (nested tests) or a make matrix matrix.json
/// (cells "<step> x <config>" and their plans).
FlatResults flatten_results(const nlohmann::json &results);

struct Change {
    std::string
        kind; ///< new failure, fixed, new skip, unskipped, appeared, vanished, slower, faster
    std::string path;
    std::string before; ///< status or duration
    std::string after;
};

struct CompareOptions {
    double duration_ratio = 1.5; ///< a duration that moved by this factor ...
    double duration_floor = 10;  ///< ... and by this many seconds is reported
};

std::vector<Change> compare_results(const FlatResults &a, const FlatResults &b,
                                    const CompareOptions &options = {});

/// "qemu: 7.2.19 -> 8.0.0": the keys of two meta.json that differ.
std::vector<std::string> meta_differences(const nlohmann::json &a, const nlohmann::json &b);

/// The table of changes, the metadata that differs, and a last line counting them.
void print_comparison(std::ostream &out, const std::vector<Change> &changes,
                      const std::vector<std::string> &meta_diffs);

/// A new failure anywhere: make compare exits 1.
bool has_new_failure(const std::vector<Change> &changes);

/// What this machine ran with: lab commit, tree steps, Debian packages, QEMU.
nlohmann::json run_meta(const Layout &layout, const std::string &kind,
                        const std::vector<std::string> &configs);

/// meta.json into dir, then dir's files copied to build/results/history/<kind>-<UTC time>;
/// that folder.
std::filesystem::path keep_results(const Layout &layout, const std::filesystem::path &dir,
                                   const std::string &kind,
                                   const std::vector<std::string> &configs);

/// The result folders kept under history, oldest first.
std::vector<std::filesystem::path> kept_results(const Layout &layout);

/// make compare without A and B: the last kept run, and the one before it of the same kind
/// (make test with make test, not with make check), else simply the one before.
std::pair<std::filesystem::path, std::filesystem::path>
last_two_alike(const std::vector<std::filesystem::path> &kept);

} // namespace ptlab
