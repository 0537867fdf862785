// A stand-in for lavacli in the orchestration tests (as fake_qemu is for QEMU): the jobs
// live in FAKE_LAVA_DIR, and each one replays a captured job log.
//   FAKE_LAVA_REFUSE=N  the first N submissions fail as an unreachable server does
//   FAKE_LAVA_LOG=FILE  what `jobs logs --raw` prints for every job
//   FAKE_LAVA_HEALTH=H  how finished jobs ended (Complete by default)
//   FAKE_LAVA_LOST=1    `jobs show` fails: a job the server no longer knows
// A job is Submitted at its first `jobs show`, Running at the second, then Finished.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string env(const char *name, const char *fallback = "") {
    const char *v = std::getenv(name);
    return v == nullptr ? fallback : v;
}

int bump(const fs::path &counter) {
    int n = 0;
    std::ifstream(counter) >> n;
    std::ofstream(counter, std::ios::trunc) << n + 1;
    return n + 1;
}

int submit(const fs::path &dir, const std::string &job) {
    if (bump(dir / "submissions") <= std::atoi(env("FAKE_LAVA_REFUSE", "0").c_str())) {
        std::cout << "Unable to connect: [Errno 111] Connection refused\n";
        return 1;
    }
    const int id = bump(dir / "last-id");
    fs::copy_file(job, dir / (std::to_string(id) + ".job.yaml"),
                  fs::copy_options::overwrite_existing);
    std::cout << id << '\n';
    return 0;
}

int show(const fs::path &dir, const std::string &id) {
    if (env("FAKE_LAVA_LOST") == "1" || !fs::exists(dir / (id + ".job.yaml"))) {
        std::cout << "Unable to call 'jobs.show': <Fault 404: 'Unknown job'>\n";
        return 1;
    }
    const int polls = bump(dir / (id + ".polls"));
    const char *state = polls == 1 ? "Submitted" : polls == 2 ? "Running" : "Finished";
    const std::string health = polls < 3 ? "Unknown" : env("FAKE_LAVA_HEALTH", "Complete");
    std::cout << "device: qemu-01\nhealth: " << health << "\nid: " << id << "\nstate: " << state
              << '\n';
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    const fs::path dir = env("FAKE_LAVA_DIR", ".");
    const std::string a1 = argc > 1 ? argv[1] : "";
    const std::string a2 = argc > 2 ? argv[2] : "";
    if (a1 == "jobs" && a2 == "submit" && argc == 4) {
        return submit(dir, argv[3]);
    }
    if (a1 == "jobs" && a2 == "show" && argc >= 4) {
        return show(dir, argv[3]);
    }
    if (a1 == "jobs" && a2 == "logs" && argc == 5) {
        std::cout << std::ifstream(env("FAKE_LAVA_LOG")).rdbuf();
        return 0;
    }
    if (a1 == "system" && a2 == "version") {
        std::cout << "2023.01\n";
        return 0;
    }
    std::cerr << "fake lavacli: unknown command\n";
    return 2;
}
