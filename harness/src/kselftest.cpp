#include "ptlab/kselftest.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/tools.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace ptlab {

namespace {

// Bumped when the way the selftests are built changes: old builds are not reused.
constexpr const char *recipe = "kselftest-recipe-1";

// What the selftests of 6.1 are built from, besides their own folders.
const std::vector<std::string> key_paths = {"tools/testing/selftests/vm",
                                            "tools/testing/selftests/kvm",
                                            "tools/testing/selftests/lib.mk",
                                            "tools/testing/selftests/kselftest.h",
                                            "tools/include",
                                            "tools/arch/arm64",
                                            "tools/lib",
                                            "include/uapi",
                                            "arch/arm64/include/uapi",
                                            "scripts/headers_install.sh"};

std::string fnv1a(const std::string &text) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char c : text) {
        h = (h ^ c) * 0x100000001b3ULL;
    }
    std::ostringstream hex;
    hex << std::hex << h;
    return hex.str();
}

const std::vector<std::string> cross = {"ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"};

std::vector<std::string> make_in(const fs::path &dir, std::vector<std::string> args) {
    std::vector<std::string> argv = {"make", "-C", dir.string()};
    argv.insert(argv.end(), cross.begin(), cross.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

/// The worktree at sha: made once, then moved from step to step; made again when it no
/// longer works (make source made build/linux anew).
void checkout_worktree(const Layout &layout, const std::string &sha, const PhaseLog &log) {
    const fs::path wt = layout.kselftest_src();
    if (fs::exists(wt / ".git")) {
        ProcessOptions options;
        options.log = log.path();
        if (run_process({"git", "-C", wt.string(), "checkout", "-q", "-f", "--detach", sha},
                        options) == 0) {
            return;
        }
        log.note("the worktree does not work any more: making it again");
    }
    fs::remove_all(wt);
    log.run({"git", "-C", layout.src().string(), "worktree", "prune"});
    log.run({"git", "-C", layout.src().string(), "worktree", "add", "--detach", wt.string(), sha});
}

/// make -k: a test that does not build on this step leaves the others built; which tests
/// are missing is the guest runner's to say (each names its binary).
void make_suite(const std::vector<std::string> &argv, const PhaseLog &log) {
    ProcessOptions options;
    options.log = log.path();
    log.note("$ " + join_words(argv, " "));
    const int status = run_process(argv, options);
    if (status != 0) {
        log.note("make exited " + std::to_string(status) + ": the tests that built are used");
    }
}

bool is_test_binary(const fs::directory_entry &entry) {
    const auto ext = entry.path().extension();
    return entry.is_regular_file() && ext != ".o" && ext != ".a" && ext != ".d" &&
           (entry.status().permissions() & fs::perms::owner_exec) != fs::perms::none;
}

bool matches(const nlohmann::json &when, const std::map<std::string, std::string> &facts) {
    for (const auto &[key, value] : when.items()) {
        const auto it = facts.find(key);
        const auto wanted = value.is_array() ? value : nlohmann::json::array({value});
        if (it == facts.end() ||
            std::none_of(wanted.begin(), wanted.end(), [&](const nlohmann::json &w) {
                return w.get<std::string>() == it->second;
            })) {
            return false;
        }
    }
    return true;
}

/// A row's "test": one name or a list of names with the same reason.
std::vector<std::string> test_names(const nlohmann::json &test) {
    if (test.is_array()) {
        return test.get<std::vector<std::string>>();
    }
    return {test.get<std::string>()};
}

/// A known failure is expected all the way down: the test's own failed checks with it.
void expect_failure(TestResult &test, const std::string &reason) {
    if (test.status == Status::Fail || test.status == Status::Error) {
        test.status = Status::XFail;
        test.skip_reason = reason;
    }
    for (auto &sub : test.subtests) {
        expect_failure(sub, reason);
    }
}

} // namespace

bool wants_kselftests(const std::vector<std::string> &plans) {
    return std::any_of(plans.begin(), plans.end(),
                       [](const std::string &p) { return p.starts_with("kselftest"); });
}

std::string kselftest_key(const fs::path &src, const std::string &sha) {
    const Tree tree(src);
    std::string ids = recipe;
    for (const auto &path : key_paths) {
        const std::string id = tree.git({"rev-parse", sha + ":" + path});
        ids.append(1, ' ').append(trim(id));
    }
    return fnv1a(ids);
}

KselftestBuild build_kselftests(const Layout &layout, const std::string &sha,
                                const std::string &step_name, const Progress &progress) {
    KselftestBuild b;
    b.key = kselftest_key(layout.src(), sha);
    b.dir = layout.kselftest_builds() / b.key;
    const fs::path stamp = b.dir / ".ptlab-built";
    const std::string what = "kselftests @ " + step_name;
    if (fs::exists(stamp)) {
        b.reused = true;
        progress.say(what + ": reused " + b.key + " (built for " + read_text_file(stamp) + ")");
        return b;
    }
    need_tools(layout.tool_packages(), {"make", "aarch64-linux-gnu-gcc", "git"});
    const fs::path wt = layout.kselftest_src();
    const fs::path arm64 = layout.arm64_root();
    // One build in the worktree at a time (two runs asking for different sources).
    const FileLock lock(layout.kselftest_lock(), "kselftests", progress);
    if (fs::exists(stamp)) { // the other run built it meanwhile
        b.reused = true;
        return b;
    }
    fs::remove_all(b.dir);
    for (const char *sub : {"hdr", "vm", "kvm"}) {
        fs::create_directories(b.dir / sub);
    }
    progress.phase(what + ": checkout", b.dir / "checkout.log",
                   [&](const PhaseLog &log) { checkout_worktree(layout, sha, log); });
    progress.phase(what + ": uapi headers", b.dir / "headers.log", [&](const PhaseLog &log) {
        log.run(make_in(wt, {"-s", "O=" + (b.dir / "hdr").string(), "headers_install"}));
    });
    const std::string hdr = (b.dir / "hdr/usr/include").string();
    progress.phase(what + ": vm", b.dir / "vm.log", [&](const PhaseLog &log) {
        // vm/Makefile takes the machine from uname -m unless told.
        make_suite(make_in(wt / "tools/testing/selftests/vm",
                           {"-k", make_jobs(), "MACHINE=arm64", "KHDR_INCLUDES=-isystem " + hdr,
                            "EXTRA_CFLAGS=-static -I" + (arm64 / "usr/include").string() + " -L" +
                                (arm64 / "usr/lib/aarch64-linux-gnu").string(),
                            "OUTPUT=" + (b.dir / "vm").string()}),
                   log);
    });
    progress.phase(what + ": kvm", b.dir / "kvm.log", [&](const PhaseLog &log) {
        // LDFLAGS on the command line would replace the Makefile's own -pthread.
        make_suite(make_in(wt / "tools/testing/selftests/kvm",
                           {"-k", make_jobs(), "LINUX_HDR_PATH=" + hdr, "EXTRA_CFLAGS=-static",
                            "OUTPUT=" + (b.dir / "kvm").string()}),
                   log);
    });
    std::ofstream(stamp) << step_name;
    return b;
}

std::string kselftest_cpio_list(const Layout &layout, const KselftestBuild &build) {
    const fs::path bash = layout.guest_bash();
    if (!fs::exists(bash)) {
        throw std::runtime_error(bash.string() + " missing: run 'make deps' (it downloads "
                                                 "bash-static:arm64)");
    }
    std::ostringstream list;
    list << "dir /kselftest 0755 0 0\n"
         << "file /kselftest/tests.json " << layout.kselftest_table().string() << " 0644 0 0\n"
         << "file /bin/bash " << bash.string() << " 0755 0 0\n";
    for (const char *suite : {"vm", "kvm"}) {
        const fs::path root = build.dir / suite;
        list << "dir /kselftest/" << suite << " 0755 0 0\n";
        std::vector<fs::directory_entry> entries(fs::recursive_directory_iterator(root), {});
        std::sort(entries.begin(), entries.end());
        for (const auto &entry : entries) {
            const std::string rel = fs::relative(entry.path(), root).string();
            if (entry.is_directory()) {
                list << "dir /kselftest/" << suite << '/' << rel << " 0755 0 0\n";
            } else if (is_test_binary(entry)) {
                list << "file /kselftest/" << suite << '/' << rel << ' ' << entry.path().string()
                     << " 0755 0 0\n";
            }
        }
    }
    return list.str();
}

KnownFailures known_failures(const nlohmann::json &table,
                             const std::map<std::string, std::string> &facts) {
    KnownFailures known;
    for (const auto &row : table.value("known_failures", nlohmann::json::array())) {
        if (!matches(row.value("when", nlohmann::json::object()), facts)) {
            continue;
        }
        for (const auto &test : test_names(row.at("test"))) {
            known[test] = {row.at("reason").get<std::string>(), row.value("flaky", false)};
        }
    }
    return known;
}

KnownSplats known_splats(const nlohmann::json &table,
                         const std::map<std::string, std::string> &facts) {
    KnownSplats known;
    for (const auto &row : table.value("known_splats", nlohmann::json::array())) {
        if (!matches(row.value("when", nlohmann::json::object()), facts)) {
            continue;
        }
        for (const auto &test : test_names(row.at("test"))) {
            known.push_back(
                {test, row.at("text").get<std::string>(), row.at("reason").get<std::string>()});
        }
    }
    return known;
}

std::string selftest_running_at(const std::vector<std::string> &lines, std::size_t index) {
    constexpr std::string_view subtest = "# Subtest: ";
    for (std::size_t i = std::min(index, lines.size()); i-- > 0;) {
        const std::string_view line = trim(lines[i]);
        if (line.starts_with(subtest)) {
            return std::string(line.substr(subtest.size()));
        }
    }
    return "";
}

std::string expected_splat(const Splat &splat, const std::vector<std::string> &lines,
                           std::size_t index, const KnownSplats &known) {
    if (known.empty()) {
        return "";
    }
    const std::string running = selftest_running_at(lines, index);
    for (const auto &k : known) {
        if (k.test != running) {
            continue;
        }
        if (std::any_of(splat.excerpt.begin(), splat.excerpt.end(), [&](const std::string &l) {
                return l.find(k.text) != std::string::npos;
            })) {
            return "known while " + k.test + " runs: " + k.reason;
        }
    }
    return "";
}

void apply_known_failures(KtapLog &log, const KnownFailures &known) {
    for (auto &plan : log.root.subtests) {
        if (!plan.name.starts_with("kselftest")) {
            continue;
        }
        bool changed = false;
        for (auto &test : plan.subtests) {
            const auto it = known.find(test.name);
            if (it == known.end()) {
                continue;
            }
            if (test.status == Status::Fail) {
                expect_failure(test, (it->second.flaky ? "flaky: " : "") + it->second.reason);
                changed = true;
            } else if (test.status == Status::Pass && !it->second.flaky) {
                test.status = Status::Fail;
                test.diagnostics.push_back("unexpected pass: known to fail (" + it->second.reason +
                                           "); update configs/kselftests.json");
                changed = true;
            }
        }
        if (changed) {
            const bool failed =
                std::any_of(plan.subtests.begin(), plan.subtests.end(), [](const TestResult &t) {
                    return t.status == Status::Fail || t.status == Status::Error;
                });
            plan.status = failed ? Status::Fail : Status::Pass;
        }
    }
}

} // namespace ptlab
