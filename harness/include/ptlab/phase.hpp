// A long step of the orchestrator as the user sees it: "kernel 4k-48-debug @ series-head:
// build Image + modules ... done in 2m31s", its output in a log file (live with V=1), and on
// failure the log's last lines and where the whole log is.
#pragma once

#include "ptlab/process.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptlab {

/// A phase whose command failed: what failed and where its log is.
struct PhaseFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The commands of one phase, all writing into its log.
class PhaseLog {
public:
    PhaseLog(std::filesystem::path path, std::ostream *tee) : path_(std::move(path)), tee_(tee) {}
    /// Runs argv; throws PhaseFailed when it exits non-zero.
    void run(const std::vector<std::string> &argv, ProcessOptions options = {}) const;
    /// Adds a line of the orchestrator's own to the log (and to the terminal with V=1).
    void note(const std::string &line) const;
    [[nodiscard]] const std::filesystem::path &path() const { return path_; }

private:
    std::filesystem::path path_;
    std::ostream *tee_;
};

class Progress {
public:
    Progress(std::ostream &err, bool verbose) : err_(err), verbose_(verbose) {}
    /// Runs body with the phase's log (truncated first); a PhaseFailed or any other error
    /// out of it prints FAILED and the log's last 30 lines, then is thrown again as a
    /// PhaseFailed "<what> failed: <why>; full log: <log>".
    void phase(const std::string &what, const std::filesystem::path &log,
               const std::function<void(const PhaseLog &)> &body) const;
    void say(const std::string &line) const;
    [[nodiscard]] bool verbose() const { return verbose_; }
    [[nodiscard]] std::ostream &stream() const { return err_; }

private:
    std::ostream &err_;
    bool verbose_;
};

/// "1m02s", "9s"
std::string elapsed_text(double seconds);
/// Seconds of wall time since start (steady clock), for elapsed_text().
double seconds_since(std::chrono::steady_clock::time_point start);

/// "-jN" for the machine's CPUs.
std::string make_jobs();

/// One holder of a lock file at a time (flock): a checkout under another build would
/// change its sources mid-compile. Waits, saying so, when another process holds it.
class FileLock {
public:
    FileLock(const std::filesystem::path &path, const std::string &who, const Progress &progress);
    ~FileLock();
    FileLock(const FileLock &) = delete;
    FileLock &operator=(const FileLock &) = delete;

private:
    int fd_ = -1;
};

} // namespace ptlab
