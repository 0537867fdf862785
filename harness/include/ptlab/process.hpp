// Child processes of the orchestrator (make, git, rsync, gen_init_cpio): run one with its
// output into a log, or capture what it prints. Exit codes are returned, never thrown: the
// caller decides what a failure means (a bisect step that does not build is a skip).
#pragma once

#include <filesystem>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct ProcessOptions {
    std::filesystem::path cwd;              ///< empty: this process's
    std::map<std::string, std::string> env; ///< added to (or replacing in) the environment
    std::filesystem::path stdin_file;       ///< empty: /dev/null
    bool terminal = false;                  ///< stdin too is this process's (make shell)
    std::filesystem::path stdout_file;      ///< stdout alone into this file (truncated)
    bool merge_stderr = false;              ///< capture_process(): stderr too
    std::filesystem::path log;              ///< stdout and stderr appended here
    std::ostream *tee = nullptr;            ///< and copied here as they come (V=1)
};

/// Runs argv (PATH is searched) and waits. The exit status, 128+N for a signal N, 127 when
/// it cannot be executed (the reason is then in the log or on stderr).
int run_process(const std::vector<std::string> &argv, const ProcessOptions &options = {});

struct Captured {
    int status = 0;
    std::string out; ///< stdout; stderr goes to the log when options.log is set
};
Captured capture_process(const std::vector<std::string> &argv, const ProcessOptions &options = {});

/// The path of a program found in PATH, or empty.
std::string find_in_path(const std::string &program);

} // namespace ptlab
