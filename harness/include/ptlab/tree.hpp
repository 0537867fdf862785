// build/linux, the kernel tree under test, through git: steps resolved and named, the series
// patches a step contains, checkouts that put HEAD back where the user left it, and patches
// applied with `git am` (one that does not apply names itself and its files).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ptlab {

class Tree {
public:
    explicit Tree(std::filesystem::path dir) : dir_(std::move(dir)) {}

    [[nodiscard]] const std::filesystem::path &dir() const { return dir_; }
    [[nodiscard]] bool exists() const;
    /// The full sha of a revision, or nothing.
    [[nodiscard]] std::optional<std::string> resolve(const std::string &rev) const;
    /// Throws "unknown STEP 'x' in build/linux; tags: ...".
    [[nodiscard]] std::string resolve_step(const std::string &rev) const;
    /// What the outputs of a step are named after: a plain tag or branch name as given; else
    /// the lab's tag at the same commit (so a bisection reuses series-head's build); else
    /// the sha's first 12 digits.
    [[nodiscard]] std::string step_name(const std::string &rev) const;
    /// Subjects of the commits a step has on top of series-base (a tree equal to
    /// series-head, such as pristine, has them all). Throws for a step off the series.
    [[nodiscard]] std::vector<std::string> series_subjects(const std::string &rev) const;
    [[nodiscard]] std::string head() const;
    /// The branch HEAD is on, or "" when detached.
    [[nodiscard]] std::string branch() const;
    [[nodiscard]] bool is_ancestor(const std::string &a, const std::string &b) const;
    /// No change to tracked files.
    [[nodiscard]] bool clean() const;
    [[nodiscard]] bool bisecting() const;
    /// "<short sha> <subject> (<author>)"
    [[nodiscard]] std::string describe(const std::string &rev) const;
    [[nodiscard]] std::vector<std::string> tags() const;
    /// Commits in (a, b], oldest first.
    [[nodiscard]] std::vector<std::string> commits_between(const std::string &a,
                                                           const std::string &b) const;
    void checkout(const std::string &rev) const;

    /// git -C dir args...: its stdout; throws with git's message when it fails.
    std::string git(const std::vector<std::string> &args) const;
    /// The exit status only.
    [[nodiscard]] int git_status(const std::vector<std::string> &args) const;

private:
    std::filesystem::path dir_;
};

/// Puts the tree back on the branch or commit it was on when made, however the scope ends:
/// a build, a throwaway patch or a bisection leaves the user's checkout as it found it.
class KeepHead {
public:
    explicit KeepHead(const Tree &tree);
    ~KeepHead();
    KeepHead(const KeepHead &) = delete;
    KeepHead &operator=(const KeepHead &) = delete;

private:
    const Tree &tree_;
    std::string sha_;
    std::string branch_;
};

/// What `git am` said, made into the one line a user needs.
struct AmFailure {
    bool empty_patch = false;       ///< "No valid patches in input": nothing left to change
    std::vector<std::string> files; ///< "mm/x.c:12", "arch/y.h (missing)"
};
AmFailure parse_am_output(const std::string &output);

/// git am one patch with the lab's fixed committer, so every machine gets the same ids; a
/// patch with nothing left to change becomes an empty commit (git 2.39's am cannot make
/// one). Throws "patch P does not apply on <rev>: <files>" after aborting.
void am_patch(const Tree &tree, const std::filesystem::path &patch);

} // namespace ptlab
