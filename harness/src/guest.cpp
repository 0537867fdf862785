#include "ptlab/guest.hpp"

#include "ktap_writer.hpp"
#include "ptlab/lines.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <ostream>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace ptlab {

namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
    int read = -1;
    int write = -1;
};

Pipe make_pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    return {fds[0], fds[1]};
}

std::vector<char *> c_argv(const std::vector<std::string> &argv) {
    std::vector<char *> out;
    for (const auto &arg : argv) {
        out.push_back(const_cast<char *>(arg.c_str()));
    }
    out.push_back(nullptr);
    return out;
}

/// In the child: wire the pipes and exec. Only async-signal-safe calls after fork().
[[noreturn]] void exec_child(const std::vector<char *> &argv, const Pipe &out, const Pipe &err) {
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
    }
    dup2(out.write, STDOUT_FILENO);
    dup2(err.write, STDERR_FILENO);
    // Its own process group, so that the runner's kill reaches whatever it started.
    setpgid(0, 0);
    execvp(argv[0], argv.data());
    const char *what = std::strerror(errno);
    const char *prefix = "cannot execute ";
    (void)!write(STDERR_FILENO, prefix, std::strlen(prefix));
    (void)!write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
    (void)!write(STDERR_FILENO, ": ", 2);
    (void)!write(STDERR_FILENO, what, std::strlen(what));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Console bytes in, complete lines out: the markers are looked for line by line.
class LineWatcher {
public:
    LineWatcher(const GuestLimits &limits, Clock::time_point start)
        : limits_(limits), start_(start) {}

    void feed(std::string_view bytes, GuestExit &exit) {
        for (const char c : bytes) {
            if (c != '\n') {
                partial_ += c;
                continue;
            }
            look_at(strip_console_prefix(partial_), exit);
            partial_.clear();
        }
    }

    std::optional<Clock::time_point> ended_at;

private:
    void look_at(std::string_view line, GuestExit &exit) {
        const std::string_view msg = trim(line);
        if (!exit.first_ktap_seconds && msg.starts_with(ktap::version_line)) {
            exit.first_ktap_seconds = seconds_since(start_);
        }
        if (!exit.end_marker_seen && msg.starts_with(limits_.end_marker) &&
            (msg.size() == limits_.end_marker.size() || msg[limits_.end_marker.size()] == ' ')) {
            exit.end_marker_seen = true;
            ended_at = Clock::now();
        }
    }

    const GuestLimits &limits_;
    Clock::time_point start_;
    std::string partial_;
};

class Child {
public:
    explicit Child(pid_t pid) : pid_(pid) {}

    /// Non-blocking; true once it has been reaped.
    bool reap(GuestExit &exit) {
        if (reaped_) {
            return true;
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) != pid_) {
            return false;
        }
        reaped_ = true;
        if (WIFEXITED(status)) {
            exit.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            exit.signal = WTERMSIG(status);
        }
        return true;
    }

    void terminate(std::chrono::milliseconds grace, GuestExit &exit) {
        kill(-pid_, SIGTERM);
        kill(pid_, SIGTERM);
        const auto deadline = Clock::now() + grace;
        while (!reap(exit) && Clock::now() < deadline) {
            usleep(20000);
        }
        if (!reap(exit)) {
            kill(-pid_, SIGKILL);
            kill(pid_, SIGKILL);
            int status = 0;
            waitpid(pid_, &status, 0);
            reaped_ = true;
            exit.signal = SIGKILL;
        }
    }

private:
    pid_t pid_;
    bool reaped_ = false;
};

std::ofstream open_log(const std::string &path) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) {
        throw std::runtime_error("cannot write " + path);
    }
    return file;
}

/// Reads what is there; false at end of file.
bool drain(int fd, std::string &into) {
    char buffer[8192];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
        into.assign(buffer, static_cast<std::size_t>(n));
        return true;
    }
    into.clear();
    return n < 0 && (errno == EINTR || errno == EAGAIN);
}

} // namespace

GuestExit run_guest(const std::vector<std::string> &argv, const std::string &console_log,
                    const std::string &stderr_log, const GuestLimits &limits, std::ostream *live) {
    if (argv.empty()) {
        throw std::runtime_error("run_guest: empty command");
    }
    std::ofstream console = open_log(console_log);
    std::ofstream errors = open_log(stderr_log);
    const Pipe out = make_pipe();
    const Pipe err = make_pipe();
    const std::vector<char *> args = c_argv(argv);
    const auto start = Clock::now();
    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        exec_child(args, out, err);
    }
    close(out.write);
    close(err.write);
    Child child(pid);
    GuestExit exit;
    LineWatcher watcher(limits, start);
    std::string stderr_text;
    std::string chunk;
    pollfd fds[2] = {{out.read, POLLIN, 0}, {err.read, POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, 100) < 0 && errno != EINTR) {
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        for (auto &fd : fds) {
            if (fd.fd < 0 || (fd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            if (!drain(fd.fd, chunk)) {
                close(fd.fd);
                fd.fd = -1;
                --open_fds;
                continue;
            }
            if (fd.fd == out.read) {
                console.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                console.flush();
                exit.console_bytes += chunk.size();
                watcher.feed(chunk, exit);
                if (live != nullptr) {
                    *live << chunk << std::flush;
                }
            } else {
                errors.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                errors.flush();
                stderr_text += chunk;
            }
        }
        if (watcher.ended_at && Clock::now() - *watcher.ended_at > limits.after_end) {
            exit.killed_after_end = true;
            child.terminate(limits.kill_grace, exit);
            break;
        }
        if (!watcher.ended_at && Clock::now() - start > limits.timeout) {
            exit.timed_out = true;
            child.terminate(limits.kill_grace, exit);
            break;
        }
    }
    for (const auto &fd : fds) {
        if (fd.fd >= 0) {
            close(fd.fd);
        }
    }
    while (!child.reap(exit)) {
        usleep(10000);
    }
    exit.wall_seconds = seconds_since(start);
    exit.stderr_lines = split_lines(stderr_text);
    return exit;
}

std::string guest_exit_to_json(const GuestExit &exit) {
    nlohmann::json j;
    j["timed_out"] = exit.timed_out;
    j["killed_after_end"] = exit.killed_after_end;
    j["end_marker_seen"] = exit.end_marker_seen;
    j["exit_code"] = exit.exit_code ? nlohmann::json(*exit.exit_code) : nlohmann::json();
    j["signal"] = exit.signal ? nlohmann::json(*exit.signal) : nlohmann::json();
    j["console_bytes"] = exit.console_bytes;
    j["wall_seconds"] = exit.wall_seconds;
    j["first_ktap_seconds"] =
        exit.first_ktap_seconds ? nlohmann::json(*exit.first_ktap_seconds) : nlohmann::json();
    j["stderr"] = exit.stderr_lines;
    return j.dump(2) + "\n";
}

GuestExit guest_exit_from_json(const std::string &text) {
    const auto j = nlohmann::json::parse(text);
    GuestExit exit;
    exit.timed_out = j.value("timed_out", false);
    exit.killed_after_end = j.value("killed_after_end", false);
    exit.end_marker_seen = j.value("end_marker_seen", false);
    if (j.contains("exit_code") && !j["exit_code"].is_null()) {
        exit.exit_code = j["exit_code"].get<int>();
    }
    if (j.contains("signal") && !j["signal"].is_null()) {
        exit.signal = j["signal"].get<int>();
    }
    exit.console_bytes = j.value("console_bytes", std::size_t{0});
    exit.wall_seconds = j.value("wall_seconds", 0.0);
    if (j.contains("first_ktap_seconds") && !j["first_ktap_seconds"].is_null()) {
        exit.first_ktap_seconds = j["first_ktap_seconds"].get<double>();
    }
    exit.stderr_lines = j.value("stderr", std::vector<std::string>{});
    return exit;
}

} // namespace ptlab
