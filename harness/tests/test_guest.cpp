// The orchestration of one boot, without a kernel: ptlab run-guest against a fake QEMU that
// replays captured consoles, hangs, dies, or refuses its options (tests/fake_qemu.cpp).
#include "fixture.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/guest.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/machine.hpp"
#include "ptlab/run_guest.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <unistd.h>

namespace ptlab {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;

class FakeGuest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("ptlab-guest-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        touch(dir_ / "Image");
        touch(dir_ / "initrd");
        args_.machine = fixture_path("machine-fake.json").string();
        args_.geometry = fixture_path("geometry-64k.fragment").string();
        args_.kernel = (dir_ / "Image").string();
        args_.initrd = (dir_ / "initrd").string();
        args_.run_dir = (dir_ / "run").string();
        args_.qemu_binary = FAKE_QEMU;
        args_.label = "boot@fake";
    }
    void TearDown() override {
        unsetenv("FAKE_QEMU_MODE");
        unsetenv("FAKE_QEMU_LOG");
        fs::remove_all(dir_);
    }
    static void touch(const fs::path &p) { std::ofstream(p) << "x"; }

    /// Runs the fake in `mode` over the fixture `log`; returns the result.json.
    nlohmann::json run(const char *mode, const char *log, int expect_rc) {
        setenv("FAKE_QEMU_MODE", mode, 1);
        setenv("FAKE_QEMU_LOG", fixture_path(log).c_str(), 1);
        std::ostringstream out;
        std::ostringstream err;
        EXPECT_EQ(run_guest_cmd(args_, out, err), expect_rc) << out.str() << err.str();
        report_ = out.str();
        return nlohmann::json::parse(read_text_file(run_files(args_.run_dir).result_json));
    }

    fs::path dir_;
    RunGuestArgs args_;
    std::string report_;
};

TEST_F(FakeGuest, CleanRunPassesAndRecordsHowItEnded) {
    const auto result = run("replay", "real-4k48-head-boot.log", 0);
    EXPECT_EQ(result["outcome"], "pass");
    const GuestExit exit =
        guest_exit_from_json(read_text_file(run_files(args_.run_dir).guest_json));
    EXPECT_TRUE(exit.end_marker_seen);
    EXPECT_EQ(exit.exit_code, 0);
    EXPECT_TRUE(exit.first_ktap_seconds.has_value());
    EXPECT_GT(exit.console_bytes, 1000U);
    EXPECT_EQ(read_text_file(run_files(args_.run_dir).console_log),
              read_text_file(fixture_path("real-4k48-head-boot.log")));
    EXPECT_NE(report_.find(" passed, 0 failed"), std::string::npos);
}

TEST_F(FakeGuest, PanicFailsWithThePanicLine) {
    const auto result = run("replay", "real-4k48-panic-interleaved.log", 1);
    EXPECT_EQ(result["reason"], "panic");
    EXPECT_NE(report_.find("last 50 console lines"), std::string::npos);
}

TEST_F(FakeGuest, HangIsKilledAtTheTimeout) {
    args_.timeout_seconds = 1;
    const auto start = std::chrono::steady_clock::now();
    const auto result = run("hang", "synthetic-timeout.log", 1);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(result["reason"], "timeout");
    EXPECT_TRUE(
        guest_exit_from_json(read_text_file(run_files(args_.run_dir).guest_json)).timed_out);
}

TEST_F(FakeGuest, QemuThatCannotStartShowsItsOwnMessage) {
    const auto result = run("bad-option", "real-4k48-head-boot.log", 1);
    EXPECT_EQ(result["reason"], "QEMU failed to start");
    EXPECT_EQ(result["detail"],
              "qemu-system-aarch64: Property 'virt-machine.no-such-option' not found (exit "
              "status 1)");
    EXPECT_NE(report_.find("Property 'virt-machine.no-such-option' not found"), std::string::npos);
}

TEST_F(FakeGuest, MissingProgramIsQemuFailingToStart) {
    args_.qemu_binary = (dir_ / "no-such-qemu").string();
    EXPECT_THROW(run("replay", "real-4k48-head-boot.log", 1), std::runtime_error);
    args_.qemu_binary = "/bin/false";
    setenv("FAKE_QEMU_MODE", "replay", 1);
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_guest_cmd(args_, out, err), 1);
    const auto result = nlohmann::json::parse(read_text_file(run_files(args_.run_dir).result_json));
    EXPECT_EQ(result["reason"], "QEMU failed to start");
}

TEST_F(FakeGuest, QemuKilledMidRunIsNamed) {
    const auto result = run("die", "real-4k48-head-boot.log", 1);
    EXPECT_EQ(result["reason"], "QEMU died");
    EXPECT_EQ(result["detail"], "killed by signal 9 before the end marker");
}

TEST_F(FakeGuest, WarnWithAllOkKtapFails) {
    const auto result = run("replay", "synthetic-warn-all-ok.log", 1);
    EXPECT_EQ(result["reason"], "splat");
}

// The built .config contradicts the step's promise: the run fails for it, with the fact named,
// although the guest's KTAP is all ok.
TEST_F(FakeGuest, ConfigThatBreaksAPromiseFailsTheRun) {
    std::ofstream(dir_ / "expect.json") << R"({"values": {"split_pmd": "off", "levels": "4"}})";
    std::ofstream(dir_ / ".config") << "CONFIG_ARM64_4K_PAGES=y\nCONFIG_ARM64_VA_BITS_48=y\n"
                                       "CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK=y\n"
                                       "CONFIG_NR_CPUS=256\nCONFIG_SPLIT_PTLOCK_CPUS=4\n";
    args_.promises = {(dir_ / "expect.json").string(), (dir_ / ".config").string()};
    const auto result = run("replay", "real-4k48-head-boot.log", 1);
    EXPECT_EQ(result["reason"], "broken promise");
    EXPECT_EQ(result["detail"], "split_pmd (config): on, expected off");
    EXPECT_NE(report_.find("levels (config)"), std::string::npos) << report_;
}

TEST_F(FakeGuest, SecondRunOfTheSameFolderRefusesAndKeepsTheFirstLog) {
    fs::create_directories(args_.run_dir);
    std::ofstream(run_files(args_.run_dir).console_log) << "the first run's log\n";
    const int fd = open((args_.run_dir + ".lock").c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX), 0);
    std::ostringstream out;
    std::ostringstream err;
    try {
        run_guest_cmd(args_, out, err);
        ADD_FAILURE() << "a second run of the same folder went ahead";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find("another run is using"), std::string::npos);
    }
    close(fd);
    EXPECT_EQ(read_text_file(run_files(args_.run_dir).console_log), "the first run's log\n");
}

TEST(Machine, CommandLineHasNoImplicitDevices) {
    const Machine m = load_machine(PTLAB_MACHINE_JSON);
    GuestRequest request;
    request.kernel = "Image";
    request.initrd = "initrd";
    request.append = "ptlab.plans=boot";
    request.page_size = "64K";
    const auto argv = qemu_argv(m, request);
    EXPECT_EQ(argv[0], "qemu-system-aarch64");
    EXPECT_EQ(argv[1], "-nodefaults");
    const std::string joined = [&] {
        std::string s;
        for (const auto &a : argv) {
            s += a + " ";
        }
        return s;
    }();
    EXPECT_NE(joined.find("-m 4096 "), std::string::npos);
    EXPECT_NE(joined.find("-serial stdio "), std::string::npos);
    EXPECT_NE(joined.find("console=ttyAMA0 earlycon rdinit=/init ptlab.plans=boot"),
              std::string::npos);
    EXPECT_EQ(joined.find("-nic"), std::string::npos);
    EXPECT_EQ(joined.find("-net"), std::string::npos);
    request.page_size = "4K";
    request.interactive = true;
    const auto shell = qemu_argv(m, request);
    EXPECT_EQ(shell.back(), "mon:stdio");
    EXPECT_EQ(shell[std::size_t(9)], "2048");
}

/// The least a guest needs: a kernel and an initramfs, nothing else asked.
GuestRequest bare_request() {
    GuestRequest request;
    request.kernel = "Image";
    request.initrd = "initrd";
    return request;
}

TEST(Machine, AShellKeepsItsConsoleThroughALoggedChardev) {
    const Machine m = load_machine(PTLAB_MACHINE_JSON);
    GuestRequest request = bare_request();
    request.interactive = true;
    request.console_log = "/runs/shell/console.log";
    const auto argv = qemu_argv(m, request);
    const auto chardev = std::find(argv.begin(), argv.end(), "-chardev");
    ASSERT_NE(chardev, argv.end());
    EXPECT_EQ(chardev[1], "stdio,id=ptlab-console,mux=on,logfile=/runs/shell/console.log");
    EXPECT_EQ(chardev[2], "-serial");
    EXPECT_EQ(chardev[3], "chardev:ptlab-console");
    EXPECT_EQ(chardev[4], "-mon");
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "-serial"), 1);
}

TEST(ShellConsole, ItsSplatsAreTheVerdictNoPlanRan) {
    std::ostringstream out;
    EXPECT_EQ(report_shell_console(testing::fixture_path("synthetic-oops-panic.log"), out), 1);
    EXPECT_NE(out.str().find("splat [panic]"), std::string::npos) << out.str();
    out.str("");
    EXPECT_EQ(report_shell_console(testing::fixture_path("real-4k48-head-boot.log"), out), 0);
    EXPECT_NE(out.str().find("shell: no splat in the console"), std::string::npos) << out.str();
}

TEST(Machine, ASharedFolderIsOne9pDeviceOnlyWhenAsked) {
    const Machine m = load_machine(PTLAB_MACHINE_JSON);
    GuestRequest request = bare_request();
    const auto plain = qemu_argv(m, request);
    EXPECT_EQ(std::find(plain.begin(), plain.end(), "-fsdev"), plain.end());
    request.share = "/home/me/a,b";
    request.share_read_only = true;
    const auto shared = qemu_argv(m, request);
    const auto fsdev = std::find(shared.begin(), shared.end(), "-fsdev");
    ASSERT_NE(fsdev, shared.end());
    EXPECT_EQ(fsdev[1], "local,id=ptlab-share,security_model=none,path=/home/me/a,,b,readonly=on");
    EXPECT_EQ(fsdev[2], "-device");
    EXPECT_EQ(fsdev[3], "virtio-9p-pci,fsdev=ptlab-share,mount_tag=ptlab-share");
}

TEST(Machine, EveryGeometryHasAPageSizeTheMachineCanSize) {
    const Machine m = load_machine(PTLAB_MACHINE_JSON);
    int geometries = 0;
    for (const auto &entry : fs::directory_iterator(PTLAB_GEOMETRY_DIR)) {
        const std::string size = geometry_of_fragment(entry.path()).page_size_name();
        EXPECT_EQ(m.memory_mib.count(size), 1U) << entry.path() << ": " << size;
        ++geometries;
    }
    EXPECT_GE(geometries, 4);
}

TEST(Machine, MissingKeyIsNamed) {
    try {
        load_machine(fixture_path("synthetic-gtest.json"));
        ADD_FAILURE();
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find("no \"binary\""), std::string::npos);
    }
}

} // namespace
} // namespace ptlab
