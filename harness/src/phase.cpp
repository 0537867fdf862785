#include "ptlab/phase.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace ptlab {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> last_lines(const std::filesystem::path &path, std::size_t n) {
    std::vector<std::string> lines;
    try {
        lines = read_lines(path);
    } catch (const std::exception &) {
        return {};
    }
    if (lines.size() > n) {
        lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
    }
    return lines;
}

} // namespace

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string elapsed_text(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char text[32];
    if (s >= 60) {
        std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
    } else {
        std::snprintf(text, sizeof text, "%lds", s);
    }
    return text;
}

void PhaseLog::run(const std::vector<std::string> &argv, ProcessOptions options) const {
    options.log = path_;
    options.tee = tee_;
    const int status = run_process(argv, options);
    if (status != 0) {
        throw PhaseFailed(argv.front() + " exited with status " + std::to_string(status));
    }
}

void PhaseLog::note(const std::string &line) const {
    std::ofstream(path_, std::ios::app) << line << '\n';
    if (tee_ != nullptr) {
        *tee_ << line << '\n';
    }
}

void Progress::say(const std::string &line) const { err_ << line << '\n' << std::flush; }

void Progress::phase(const std::string &what, const std::filesystem::path &log,
                     const std::function<void(const PhaseLog &)> &body) const {
    std::filesystem::create_directories(log.parent_path());
    std::ofstream(log, std::ios::trunc).close();
    const auto start = Clock::now();
    if (verbose_) {
        err_ << "== " << what << '\n' << std::flush;
    } else {
        err_ << what << " ... " << std::flush;
    }
    try {
        body(PhaseLog(log, verbose_ ? &err_ : nullptr));
    } catch (const std::exception &e) {
        if (!verbose_) {
            err_ << "FAILED\n";
        }
        err_ << "---- last 30 lines of " << log.string() << '\n';
        for (const auto &line : last_lines(log, 30)) {
            err_ << line << '\n';
        }
        err_ << "----\n" << std::flush;
        throw PhaseFailed(what + " failed: " + e.what() + "; full log: " + log.string());
    }
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    err_ << (verbose_ ? "== " + what + ": done in " : std::string("done in ")) << elapsed_text(took)
         << '\n'
         << std::flush;
}

std::string make_jobs() {
    return "-j" + std::to_string(std::max(1U, std::thread::hardware_concurrency()));
}

FileLock::FileLock(const std::filesystem::path &path, const std::string &who,
                   const Progress &progress) {
    std::filesystem::create_directories(path.parent_path());
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
    }
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        progress.say(who + ": another build holds " + path.string() + "; waiting");
        flock(fd_, LOCK_EX);
    }
}

FileLock::~FileLock() { close(fd_); }

} // namespace ptlab
