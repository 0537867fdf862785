#include "ptlab/tree.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <unistd.h>

namespace ptlab {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> lab_tags = {"pristine", "series-base", "series-head"};

/// Names that outputs may be called by as given: no sha, no revision syntax.
bool plain_name(const std::string &rev) {
    if (rev.empty() || rev == "HEAD") {
        return false;
    }
    const bool name_chars = std::all_of(rev.begin(), rev.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
    });
    const bool hex = rev.size() >= 7 && std::all_of(rev.begin(), rev.end(), [](char c) {
                         return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                     });
    return name_chars && !hex;
}

const std::map<std::string, std::string> &lab_committer() {
    static const std::map<std::string, std::string> env = {
        {"GIT_COMMITTER_NAME", "ptlock-lab"}, {"GIT_COMMITTER_EMAIL", "ptlock-lab@localhost"}};
    return env;
}

std::string field(const std::vector<std::string> &lines, const std::string &key) {
    for (const auto &line : lines) {
        if (line.starts_with(key + ": ")) {
            return line.substr(key.size() + 2);
        }
    }
    return "";
}

/// A patch whose changes are all in the tree already: an empty commit with its authorship
/// and message, so the series keeps one commit per patch.
bool commit_empty_patch(const Tree &tree, const fs::path &patch) {
    const fs::path scratch = fs::temp_directory_path() / ("ptlab-am-" + std::to_string(getpid()));
    fs::create_directories(scratch);
    ProcessOptions mailinfo;
    mailinfo.stdin_file = patch;
    const Captured info = capture_process(
        {"git", "mailinfo", (scratch / "msg").string(), (scratch / "diff").string()}, mailinfo);
    const std::string diff = read_text_file(scratch / "diff");
    const std::string body = read_text_file(scratch / "msg");
    fs::remove_all(scratch);
    if (info.status != 0 || diff.find("diff --git") != std::string::npos) {
        return false;
    }
    const auto lines = split_lines(info.out);
    const std::string date = field(lines, "Date");
    ProcessOptions commit;
    commit.env = lab_committer();
    commit.env["GIT_AUTHOR_NAME"] = field(lines, "Author");
    commit.env["GIT_AUTHOR_EMAIL"] = field(lines, "Email");
    commit.env["GIT_AUTHOR_DATE"] = date;
    commit.env["GIT_COMMITTER_DATE"] = date;
    const std::string message = field(lines, "Subject") + "\n\n" + body;
    return run_process({"git", "-C", tree.dir().string(), "commit", "-q", "--allow-empty",
                        "--cleanup=whitespace", "-m", message},
                       commit) == 0;
}

} // namespace

bool Tree::exists() const { return fs::exists(dir_ / ".git"); }

std::string Tree::git(const std::vector<std::string> &args) const {
    std::vector<std::string> argv = {"git", "-C", dir_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.merge_stderr = false;
    const fs::path errors = fs::temp_directory_path() / ("ptlab-git-" + std::to_string(getpid()));
    options.log = errors;
    const Captured c = capture_process(argv, options);
    std::string message;
    if (fs::exists(errors)) {
        message = std::string(trim(read_text_file(errors)));
        fs::remove(errors);
    }
    if (c.status != 0) {
        std::string command;
        for (const auto &a : args) {
            command += " " + a;
        }
        throw std::runtime_error("git" + command + " in " + dir_.string() + " failed" +
                                 (message.empty() ? "" : ": " + message));
    }
    return c.out;
}

int Tree::git_status(const std::vector<std::string> &args) const {
    std::vector<std::string> argv = {"git", "-C", dir_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions quiet;
    quiet.stdout_file = "/dev/null";
    quiet.log = "/dev/null";
    return run_process(argv, quiet);
}

std::optional<std::string> Tree::resolve(const std::string &rev) const {
    if (rev.empty() || git_status({"rev-parse", "--verify", "-q", rev + "^{commit}"}) != 0) {
        return std::nullopt;
    }
    return std::string(trim(git({"rev-parse", "--verify", "-q", rev + "^{commit}"})));
}

std::vector<std::string> Tree::tags() const { return split_lines(git({"tag"})); }

std::string Tree::resolve_step(const std::string &rev) const {
    if (const auto sha = resolve(rev)) {
        return *sha;
    }
    std::string names;
    for (const auto &tag : tags()) {
        names += (names.empty() ? "" : " ") + tag;
    }
    throw std::runtime_error("unknown STEP '" + rev + "' in " + dir_.string() + "; tags: " + names);
}

std::string Tree::step_name(const std::string &rev) const {
    if (plain_name(rev)) {
        return rev;
    }
    const std::string sha = resolve_step(rev);
    const auto at = split_lines(git({"tag", "--points-at", sha}));
    for (const auto &tag : lab_tags) {
        if (std::find(at.begin(), at.end(), tag) != at.end()) {
            return tag;
        }
    }
    return sha.substr(0, 12);
}

std::vector<std::string> Tree::series_subjects(const std::string &rev) const {
    const std::string sha = resolve_step(rev);
    std::string range;
    if (is_ancestor("series-base", sha)) {
        range = "series-base.." + sha;
    } else if (git_status({"diff", "--quiet", sha, "series-head"}) == 0) {
        range = "series-base..series-head";
    } else {
        throw std::runtime_error("STEP " + rev +
                                 " is neither on the series (a descendant of series-base) nor "
                                 "equal to series-head");
    }
    return split_lines(git({"log", "--format=%s", range}));
}

std::string Tree::head() const { return std::string(trim(git({"rev-parse", "HEAD"}))); }

std::string Tree::branch() const {
    if (git_status({"symbolic-ref", "-q", "HEAD"}) != 0) {
        return "";
    }
    return std::string(trim(git({"symbolic-ref", "-q", "--short", "HEAD"})));
}

bool Tree::is_ancestor(const std::string &a, const std::string &b) const {
    return git_status({"merge-base", "--is-ancestor", a, b}) == 0;
}

bool Tree::clean() const {
    return trim(git({"status", "--porcelain", "--untracked-files=no"})).empty();
}

bool Tree::bisecting() const { return fs::exists(dir_ / ".git/BISECT_LOG"); }

std::string Tree::describe(const std::string &rev) const {
    return std::string(trim(git({"log", "-1", "--format=%h %s (%an)", rev})));
}

std::vector<std::string> Tree::commits_between(const std::string &a, const std::string &b) const {
    return split_lines(git({"rev-list", "--reverse", a + ".." + b}));
}

void Tree::checkout(const std::string &rev) const {
    if (resolve(rev) == head()) {
        return;
    }
    if (bisecting()) {
        throw std::runtime_error("a bisection is in progress in " + dir_.string() + "; 'git -C " +
                                 dir_.string() + " bisect reset' first");
    }
    if (!clean()) {
        throw std::runtime_error(dir_.string() +
                                 " has local changes; commit or stash them before building "
                                 "another STEP");
    }
    git({"checkout", "-q", "--detach", rev});
}

KeepHead::KeepHead(const Tree &tree) : tree_(tree), sha_(tree.head()), branch_(tree.branch()) {}

KeepHead::~KeepHead() {
    try {
        if (tree_.bisecting()) {
            return;
        }
        if (!branch_.empty()) {
            if (tree_.branch() != branch_) {
                tree_.git({"checkout", "-q", branch_});
            }
        } else if (tree_.head() != sha_ || !tree_.branch().empty()) {
            tree_.git({"checkout", "-q", "--detach", sha_});
        }
    } catch (const std::exception &) {
        // The scope's own error is what the user must see; a checkout that cannot be undone
        // leaves the tree where `git status` shows it.
    }
}

AmFailure parse_am_output(const std::string &output) {
    AmFailure f;
    for (const auto &raw : split_lines(output)) {
        const std::string_view line = trim(raw);
        if (line.find("No valid patches in input") != std::string_view::npos) {
            f.empty_patch = true;
        }
        std::string file;
        if (line.starts_with("error: patch failed: ")) {
            file = std::string(line.substr(21));
        } else if (line.starts_with("error: ") && line.ends_with(": does not exist in index")) {
            file = std::string(line.substr(7, line.size() - 7 - 25)) + " (missing)";
        } else if (line.starts_with("error: ") && line.ends_with(": already exists in index")) {
            file = std::string(line.substr(7, line.size() - 7 - 25)) + " (exists)";
        }
        if (!file.empty() && std::find(f.files.begin(), f.files.end(), file) == f.files.end()) {
            f.files.push_back(file);
        }
    }
    return f;
}

void am_patch(const Tree &tree, const fs::path &patch) {
    ProcessOptions options;
    options.env = lab_committer();
    options.merge_stderr = true;
    const Captured am =
        capture_process({"git", "-C", tree.dir().string(), "am", "-q", "--keep-cr",
                         "--committer-date-is-author-date", fs::absolute(patch).string()},
                        options);
    if (am.status == 0) {
        return;
    }
    (void)tree.git_status({"am", "--abort"});
    const AmFailure failure = parse_am_output(am.out);
    if (failure.empty_patch && commit_empty_patch(tree, patch)) {
        return;
    }
    std::string files;
    for (const auto &file : failure.files) {
        files += (files.empty() ? "" : ", ") + file;
    }
    // git's own error lines; its hints about --continue do not apply after the abort.
    std::string errors;
    for (const auto &line : split_lines(am.out)) {
        if (line.starts_with("error: ") || line.starts_with("fatal: ")) {
            errors += line + "\n";
        }
    }
    throw std::runtime_error(
        errors + "patch " + patch.string() + " does not apply on " +
        std::string(trim(tree.git({"describe", "--tags", "--always", "HEAD"}))) + ": " +
        (files.empty() ? "see git am's output above" : files));
}

} // namespace ptlab
