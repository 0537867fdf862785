#include "fixture.hpp"
#include "ptlab/lava.hpp"
#include "ptlab/lava_run.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/run.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

// The job generator against golden job files, and the collection against real LAVA job logs
// captured from the local instance (make lava-up): a complete boot+audit job, a guest that
// panicked, and a job whose QEMU refused its options.

namespace ptlab {
namespace {

using testing::fixture_path;
using testing::fixture_text;

/// Compares with a golden file; PTLAB_UPDATE_GOLDEN=1 rewrites it (then review the diff).
void expect_golden(const std::string &actual, const std::string &name) {
    if (const char *update = std::getenv("PTLAB_UPDATE_GOLDEN"); update && *update == '1') {
        std::ofstream(fixture_path(name)) << actual;
    }
    EXPECT_EQ(actual, fixture_text(name)) << "golden file " << name;
}

LavaJobRequest cell_job(const std::string &page_size, const std::string &append,
                        const std::string &base_url) {
    LavaJobRequest r;
    r.device_type = "qemu";
    r.machine = load_machine(PTLAB_MACHINE_JSON);
    r.guest.page_size = page_size;
    r.guest.append = append;
    r.firmware_url = base_url + "firmware/QEMU_EFI.fd";
    r.kernel_url = base_url + "cell/Image";
    r.initrd_url = base_url + "cell/initramfs.cpio.gz";
    return r;
}

TEST(LavaJob, LocalCellMatchesGoldenFile) {
    LavaJobRequest r =
        cell_job("4K", "ptlab.plans=boot,audit ptlab.config=4k-48 ptlab.step=series-head",
                 "file:///work/build/lava/artifacts/");
    r.name = "boot audit@4k-48-debug/series-head";
    expect_golden(lava_job_yaml(r), "lava-job-4k48-boot-audit.yaml");
}

TEST(LavaJob, RemoteCellMatchesGoldenFile) {
    LavaJobRequest r = cell_job("64K", "ptlab.plans=boot ptlab.config=64k-48 ptlab.step=1/4",
                                "https://artifacts.example.org/ptlab/");
    r.name = "boot@64k-48-debug/1-4";
    r.device_type = "qemu-arm64";
    r.timeout_seconds = 1200;
    r.guest.smp = 4;
    expect_golden(lava_job_yaml(r), "lava-job-64k48-remote.yaml");
}

TEST(LavaJob, CarriesTheLocalBootsMachineAndCommandLine) {
    const LavaJobRequest r = cell_job("64K", "ptlab.plans=boot", "file:///a/");
    const std::string job = lava_job_yaml(r);
    // Every value comes from the machine, as qemu_argv() takes it.
    for (const std::string &want :
         {r.machine.machine, r.machine.cpu, std::string("memory: 4096"), std::string("-smp 2"),
          guest_command_line(r.machine, r.guest), std::string("netdevice: none")}) {
        EXPECT_NE(job.find(want), std::string::npos) << want << "\n" << job;
    }
}

/// What collecting a job gives, as one JSON document for a golden file.
std::string collected(const std::string &name) {
    const LavaLog log = parse_lava_log(fixture_text(name + ".log.yaml"));
    const LavaJobStatus status = parse_lava_job_status(fixture_text(name + ".job.yaml"));
    RunOptions options;
    options.timed_out = log.monitor_timed_out;
    const Verdict verdict = judge_run(log.console, options);
    const std::string reason = verdict.outcome == Outcome::Pass ? "" : verdict.reason;
    const LavaOutcome outcome = lava_outcome(status, log, reason);
    const nlohmann::ordered_json j = {
        {"job", status.id},
        {"state", status.state},
        {"health", status.health},
        {"console_lines", log.console.size()},
        {"first_line", log.console.empty() ? "" : log.console.front()},
        {"error_type", log.error_type},
        {"error_msg", log.error_msg},
        {"job_passed", log.job_passed},
        {"monitor_results", log.monitor_results},
        {"verdict", verdict.outcome == Outcome::Pass ? "pass" : "fail"},
        {"verdict_reason", reason},
        {"problem", outcome.problem},
        {"infrastructure", outcome.infrastructure}};
    return j.dump(2) + "\n";
}

TEST(LavaLog, CompleteJobIsTheConsoleAndAPass) {
    expect_golden(collected("real-lava-4k48-boot-audit"),
                  "real-lava-4k48-boot-audit.collected.json");
    const LavaLog log = parse_lava_log(fixture_text("real-lava-4k48-boot-audit.log.yaml"));
    // The console between the markers, as the local judge needs it.
    EXPECT_TRUE(std::any_of(log.console.begin(), log.console.end(), [](const std::string &l) {
        return l.rfind(guest_start_marker, 0) == 0;
    }));
    EXPECT_EQ(log.console.end()[-1].find("poweroff"), 0U); // LAVA's own power-off, after
}

TEST(LavaLog, PanicIsTheKernelsFailureNotLAVAs) {
    expect_golden(collected("real-lava-4k48-panic"), "real-lava-4k48-panic.collected.json");
}

TEST(LavaLog, QemuThatNeverRanIsAnInfrastructureError) {
    expect_golden(collected("real-lava-qemu-refused"), "real-lava-qemu-refused.collected.json");
}

TEST(LavaLog, ARecordCutShortIsDroppedNotTheLog) {
    const LavaLog log = parse_lava_log("- {\"dt\": \"1\", \"lvl\": \"target\", \"msg\": \"one\"}\n"
                                       "- {\"dt\": \"2\", \"lvl\": \"target\", \"msg\": \"tw");
    ASSERT_EQ(log.console.size(), 1U);
    EXPECT_EQ(log.console[0], "one");
}

TEST(LavaLog, CanceledJobIsLAVAsNotTheKernels) {
    LavaJobStatus status;
    status.state = "Finished";
    status.health = "Canceled";
    const LavaOutcome o = lava_outcome(status, LavaLog{}, "");
    EXPECT_TRUE(o.infrastructure);
    EXPECT_EQ(o.problem, "LAVA job Canceled");
}

TEST(LavaLog, IncompleteWithAPassingConsoleIsNoPass) {
    LavaJobStatus status;
    status.state = "Finished";
    status.health = "Incomplete";
    LavaLog log;
    log.error_type = "Test";
    log.error_msg = "lava test monitoring has timed out";
    const LavaOutcome o = lava_outcome(status, log, "");
    EXPECT_FALSE(o.infrastructure);
    EXPECT_EQ(o.problem, "LAVA job Incomplete (Test error): lava test monitoring has timed out");
}

TEST(LavaLog, JobStatusNeedsAState) {
    EXPECT_THROW(parse_lava_job_status("id: 3\n"), std::runtime_error);
}

TEST(LavaMatrix, CellsCarryTheirJob) {
    MatrixCell cell = stopped_cell("series-head", "4k-48", "pass", 40);
    cell.passed = 6;
    cell.lava_job = "12";
    cell.lava_health = "Complete";
    std::ostringstream table;
    print_matrix(table, {cell});
    EXPECT_NE(table.str().find("PASS 6/0/0 #12"), std::string::npos) << table.str();
    const auto j = nlohmann::json::parse(matrix_to_json({cell}));
    EXPECT_EQ(j["cells"][0]["lava"]["job"], "12");
    std::ostringstream xml;
    write_matrix_junit(xml, {cell});
    EXPECT_NE(xml.str().find("name=\"lava_job\" value=\"12\""), std::string::npos);
}

TEST(LavaMatrix, EnginesAgreeOnlyOnTheSameVerdictsAndCounts) {
    const auto local = nlohmann::json::parse(R"({"cells": [
        {"step": "series-head", "config": "4k-48", "outcome": "pass", "passed": 59, "failed": 0,
         "skipped": 5, "plans": {"boot": "pass", "audit": "pass"}},
        {"step": "series-head", "config": "64k-48", "outcome": "pass", "passed": 58, "failed": 0,
         "skipped": 6, "plans": {"boot": "pass", "audit": "pass"}}]})");
    auto lava = local;
    lava["cells"][0]["lava"] = {{"job", "3"}, {"health", "Complete"}};
    EXPECT_TRUE(matrix_disagreements(local, lava).empty());
    lava["cells"][1]["plans"]["audit"] = "fail";
    lava["cells"][1]["failed"] = 1;
    const auto lines = matrix_disagreements(local, lava);
    ASSERT_EQ(lines.size(), 2U);
    EXPECT_EQ(lines[0], "series-head x 64k-48: failed 0 vs 1");
    lava["cells"].erase(1);
    EXPECT_EQ(matrix_disagreements(local, lava).back(), "series-head x 64k-48: only in the first");
}

/// One boot through the fake lavacli (tests/fake_lavacli.cpp): a scratch build folder, the
/// remote-instance settings, and a kernel and initramfs that are only files to publish.
class LavaBoot : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = std::filesystem::temp_directory_path() /
                ("ptlab-lava-" +
                 std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        std::filesystem::remove_all(root_);
        std::filesystem::create_directories(root_ / "fake");
        layout_ = Layout::at(std::filesystem::path(PTLAB_GEOMETRY_DIR).parent_path().parent_path(),
                             root_ / "build");
        std::ofstream(root_ / "Image") << "kernel";
        std::ofstream(root_ / "initramfs") << "initramfs";
        args_.machine = PTLAB_MACHINE_JSON;
        args_.geometry = std::string(PTLAB_GEOMETRY_DIR) + "/4k-48.config";
        args_.kernel = (root_ / "Image").string();
        args_.initrd = (root_ / "initramfs").string();
        args_.append = "ptlab.plans=boot,audit";
        args_.run_dir = (layout_.build / "runs/4k-48-debug/series-head/boot+audit").string();
        args_.label = "boot audit@4k-48-debug/series-head";
        request_.engine = engine_lava;
        request_.lava = {"http://lava.test/", "ci", "secret-token", "qemu",
                         "https://artifacts.test/ptlab"};
        set("PTLAB_LAVACLI", FAKE_LAVACLI);
        set("FAKE_LAVA_DIR", (root_ / "fake").string());
        set("FAKE_LAVA_LOG", fixture_path("real-lava-4k48-boot-audit.log.yaml").string());
        set("FAKE_LAVA_REFUSE", "0");
        set("FAKE_LAVA_LOST", "0");
    }
    void TearDown() override {
        for (const auto &name : set_) {
            unsetenv(name.c_str());
        }
    }
    void set(const std::string &name, const std::string &value) {
        setenv(name.c_str(), value.c_str(), 1);
        set_.push_back(name);
    }
    int boot(std::string &said) {
        std::ostringstream out;
        std::ostringstream err;
        const Progress progress(err, false);
        const int rc = lava_boot(layout_, request_, args_, out, progress, fast_);
        said = err.str() + out.str();
        return rc;
    }
    std::filesystem::path root_;
    Layout layout_;
    RunGuestArgs args_;
    Request request_;
    LavaTiming fast_{std::chrono::milliseconds(1), std::chrono::milliseconds(1)};
    std::vector<std::string> set_;
};

TEST_F(LavaBoot, RefusedSubmissionsAreRetriedAndTheJobJudged) {
    set("FAKE_LAVA_REFUSE", "2");
    std::string said;
    EXPECT_EQ(boot(said), 0) << said;
    EXPECT_NE(said.find("lava: job 1 boot audit@4k-48-debug/series-head: Running on qemu-01"),
              std::string::npos)
        << said;
    const auto lava = nlohmann::json::parse(read_text_file(args_.run_dir + "/lava.json"));
    EXPECT_EQ(lava["url"], "http://lava.test/scheduler/job/1");
    EXPECT_EQ(lava["health"], "Complete");
    // The same console a local run keeps, judged into the same result files.
    EXPECT_TRUE(std::filesystem::exists(args_.run_dir + "/console.log"));
    const auto result = nlohmann::json::parse(read_text_file(args_.run_dir + "/result.json"));
    EXPECT_EQ(result["outcome"], "pass");
    // The job fetches the published copies; the token stays in the client's own file.
    const std::string job = read_text_file(root_ / "fake/1.job.yaml");
    EXPECT_NE(
        job.find("url: https://artifacts.test/ptlab/4k-48-debug/series-head/boot+audit/Image"),
        std::string::npos)
        << job;
    EXPECT_EQ(read_text_file(layout_.lava_artifacts() / "4k-48-debug/series-head/boot+audit/Image"),
              "kernel");
    EXPECT_EQ(std::filesystem::status(layout_.lava() / "remote/lavacli.yaml").permissions() &
                  std::filesystem::perms::group_all,
              std::filesystem::perms::none);
}

TEST_F(LavaBoot, ASubmissionRefusedThreeTimesIsAnError) {
    set("FAKE_LAVA_REFUSE", "3");
    std::string said;
    EXPECT_THROW(
        {
            try {
                boot(said);
            } catch (const std::runtime_error &e) {
                EXPECT_NE(std::string(e.what()).find("Connection refused"), std::string::npos);
                throw;
            }
        },
        std::runtime_error);
}

TEST_F(LavaBoot, AGuestPanicIsTheKernelsFailure) {
    set("FAKE_LAVA_LOG", fixture_path("real-lava-4k48-panic.log.yaml").string());
    set("FAKE_LAVA_HEALTH", "Incomplete");
    std::string said;
    EXPECT_EQ(boot(said), 1) << said;
    EXPECT_NE(said.find("after the guest's panic"), std::string::npos) << said;
}

TEST_F(LavaBoot, AnInfrastructureErrorIsNotBlamedOnTheKernel) {
    set("FAKE_LAVA_LOG", fixture_path("real-lava-qemu-refused.log.yaml").string());
    set("FAKE_LAVA_HEALTH", "Incomplete");
    std::string said;
    EXPECT_THROW(boot(said), std::runtime_error);
}

TEST_F(LavaBoot, AJobTheServerForgetsIsReportedLost) {
    set("FAKE_LAVA_LOST", "1");
    std::string said;
    EXPECT_THROW(boot(said), std::runtime_error);
    const auto lava = nlohmann::json::parse(read_text_file(args_.run_dir + "/lava.json"));
    EXPECT_EQ(lava["health"], "lost");
}

} // namespace
} // namespace ptlab
