#include "ptlab/process.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace ptlab {

namespace {

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd() {
        if (fd >= 0) {
            close(fd);
        }
    }
};

int open_or_throw(const std::filesystem::path &path, int flags) {
    const int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
    }
    return fd;
}

void write_all(int fd, const char *data, std::size_t n) {
    while (n > 0) {
        const ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
}

/// What the child does between fork() and exec(): only async-signal-safe calls.
struct ChildSetup {
    std::vector<char *> argv;
    std::vector<char *> envp;
    const char *cwd = nullptr;
    int in = -1;
    int out = -1;
    int err = -1;
};

[[noreturn]] void exec_child(const ChildSetup &c) {
    if (c.in >= 0) {
        dup2(c.in, STDIN_FILENO);
    }
    if (c.out >= 0) {
        dup2(c.out, STDOUT_FILENO);
    }
    if (c.err >= 0) {
        dup2(c.err, STDERR_FILENO);
    }
    if (c.cwd != nullptr && chdir(c.cwd) != 0) {
        _exit(127);
    }
    execvpe(c.argv[0], c.argv.data(), c.envp.data());
    const char *what = std::strerror(errno);
    const char *prefix = "cannot execute ";
    (void)!write(STDERR_FILENO, prefix, std::strlen(prefix));
    (void)!write(STDERR_FILENO, c.argv[0], std::strlen(c.argv[0]));
    (void)!write(STDERR_FILENO, ": ", 2);
    (void)!write(STDERR_FILENO, what, std::strlen(what));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
}

int wait_status(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return 127;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;
}

/// The child's environment: this process's with the options' changes, built before
/// fork() since the child may only make async-signal-safe calls.
std::vector<std::string> child_environment(const std::map<std::string, std::string> &changes) {
    std::vector<std::string> env;
    for (char **e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const std::string name = entry.substr(0, entry.find('='));
        if (changes.count(name) == 0) {
            env.push_back(entry);
        }
    }
    for (const auto &[name, value] : changes) {
        env.push_back(name + "=" + value);
    }
    return env;
}

Captured spawn(const std::vector<std::string> &argv, const ProcessOptions &options, bool capture) {
    if (argv.empty()) {
        throw std::runtime_error("run_process: empty command");
    }
    ChildSetup setup;
    for (const auto &arg : argv) {
        setup.argv.push_back(const_cast<char *>(arg.c_str()));
    }
    setup.argv.push_back(nullptr);
    std::vector<std::string> environment = child_environment(options.env);
    for (auto &entry : environment) {
        setup.envp.push_back(entry.data());
    }
    setup.envp.push_back(nullptr);
    const std::string cwd = options.cwd.string();
    setup.cwd = cwd.empty() ? nullptr : cwd.c_str();

    Fd null;
    if (!options.terminal) {
        null.fd = open_or_throw(options.stdin_file.empty() ? std::filesystem::path("/dev/null")
                                                           : options.stdin_file,
                                O_RDONLY);
    }
    setup.in = null.fd;
    Fd log;
    if (!options.log.empty()) {
        log.fd = open_or_throw(options.log, O_WRONLY | O_CREAT | O_APPEND);
    }
    Fd out_file;
    if (!options.stdout_file.empty()) {
        out_file.fd = open_or_throw(options.stdout_file, O_WRONLY | O_CREAT | O_TRUNC);
    }
    // One pipe carries what the parent must see: the captured stdout, or everything the
    // child prints when it is teed.
    const bool piped = capture || options.tee != nullptr;
    int fds[2] = {-1, -1};
    if (piped && pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    Fd pipe_read(fds[0]);
    Fd pipe_write(fds[1]);
    setup.out = out_file.fd >= 0 ? out_file.fd : piped ? pipe_write.fd : log.fd;
    const bool err_to_pipe =
        (options.tee != nullptr && !capture) || (capture && options.merge_stderr);
    setup.err = err_to_pipe ? pipe_write.fd : log.fd;

    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        exec_child(setup);
    }
    close(pipe_write.fd);
    pipe_write.fd = -1;
    Captured result;
    char buffer[8192];
    while (pipe_read.fd >= 0) {
        const ssize_t n = read(pipe_read.fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        const auto len = static_cast<std::size_t>(n);
        if (capture) {
            result.out.append(buffer, len);
        } else {
            write_all(log.fd, buffer, len);
        }
        if (options.tee != nullptr) {
            options.tee->write(buffer, static_cast<std::streamsize>(len));
            options.tee->flush();
        }
    }
    result.status = wait_status(pid);
    return result;
}

} // namespace

int run_process(const std::vector<std::string> &argv, const ProcessOptions &options) {
    return spawn(argv, options, false).status;
}

Captured capture_process(const std::vector<std::string> &argv, const ProcessOptions &options) {
    return spawn(argv, options, true);
}

std::string find_in_path(const std::string &program) {
    if (program.find('/') != std::string::npos) {
        return access(program.c_str(), X_OK) == 0 ? program : "";
    }
    const char *path = std::getenv("PATH");
    std::string dirs = path == nullptr ? "/usr/bin:/bin" : path;
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t end = dirs.find(':', start);
        const std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        struct stat st {};
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return "";
}

} // namespace ptlab
