// The orchestration without a kernel: the knobs, a fake kernel tree built and booted by a
// fake QEMU, HEAD kept where the user left it, seeding, bisect-step exit codes and a whole
// bisection (tests/fake_tree.hpp).
#include "fake_tree.hpp"
#include "fixture.hpp"
#include "ptlab/bench_run.hpp"
#include "ptlab/bisect.hpp"
#include "ptlab/boot.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/process.hpp"
#include "ptlab/request.hpp"
#include "ptlab/tools.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <map>
#include <sstream>

namespace ptlab {
namespace {

using testing::FakeLab;

Getenv env_of(std::map<std::string, std::string> values) {
    return [values = std::move(values)](const std::string &name) -> std::optional<std::string> {
        const auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

Layout real_layout() {
    return Layout::at(std::filesystem::path(PTLAB_GEOMETRY_DIR).parent_path().parent_path());
}

std::string knob_error(const std::map<std::string, std::string> &values) {
    try {
        (void)request_from(env_of(values), real_layout());
    } catch (const KnobError &e) {
        return e.what();
    }
    return "(accepted)";
}

TEST(Request, DefaultsComeFromTheKnobTable) {
    const Request r = request_from(env_of({}), real_layout());
    EXPECT_EQ(r.config, "4k-48");
    EXPECT_EQ(r.step, "series-head");
    EXPECT_EQ(r.flavour, "debug");
    EXPECT_EQ(r.plans, std::vector<std::string>{"boot"});
    EXPECT_EQ(r.timeout_seconds, 900);
    EXPECT_EQ(r.smp, 0);
}

TEST(Request, BadKnobsAreRefusedNamingWhatIsValid) {
    EXPECT_EQ(knob_error({{"TIMEOUT", "abc"}}), "TIMEOUT must be a whole number, not 'abc'");
    EXPECT_EQ(knob_error({{"TIMEOUT", "0"}}), "TIMEOUT must be at least 1, not 0");
    EXPECT_EQ(knob_error({{"TIMEOUT", "-5"}}), "TIMEOUT must be a whole number, not '-5'");
    EXPECT_EQ(knob_error({{"TIMEOUT", "1.5"}}), "TIMEOUT must be a whole number, not '1.5'");
    EXPECT_EQ(knob_error({{"SMP", "0"}}), "SMP must be at least 1, not 0");
    EXPECT_EQ(knob_error({{"MEM", "64"}}), "MEM must be at least 256, not 64");
    EXPECT_NE(knob_error({{"PLANS", "boot no-such-plan"}})
                  .find("unknown plan 'no-such-plan'; valid plans: audit"),
              std::string::npos);
    // Whatever geometries there are: a new fragment must not break this.
    const std::string config = knob_error({{"CONFIG", "4k-47"}});
    EXPECT_TRUE(config.starts_with("unknown CONFIG '4k-47'; valid names: ")) << config;
    EXPECT_NE(config.find(" 4k-48"), std::string::npos) << config;
    EXPECT_NE(knob_error({{"FLAVOUR", "fast"}}).find("valid names: bench debug lockstat"),
              std::string::npos);
    EXPECT_NE(knob_error({{"ALLOW", "warnings"}}).find("unknown splat kind 'warnings'"),
              std::string::npos);
}

TEST(Request, SelftestNamesAreCheckedAgainstTheTable) {
    EXPECT_EQ(knob_error({{"KSELFTESTS", "khugepaged,nope"}}).substr(0, 60),
              "KSELFTESTS: unknown selftest 'nope'; valid: khugepaged split");
    const Request r =
        request_from(env_of({{"KSELFTESTS", "khugepaged aarch64/arch_timer"}}), real_layout());
    EXPECT_EQ(r.kselftests, (std::vector<std::string>{"khugepaged", "aarch64/arch_timer"}));
    EXPECT_NE(
        plan_cmdline(r, "series-head").find(" ptlab.kselftests=khugepaged,aarch64/arch_timer"),
        std::string::npos);
}

TEST(Request, PlansMaySeparateBySpacesOrCommas) {
    const Request r = request_from(env_of({{"PLANS", "boot,audit  thp"}}), real_layout());
    EXPECT_EQ(r.plans, (std::vector<std::string>{"boot", "audit", "thp"}));
    EXPECT_EQ(plans_dirname(r.plans), "boot+audit+thp");
    EXPECT_EQ(plan_cmdline(r, "series-head"),
              "ptlab.plans=boot,audit,thp ptlab.config=4k-48 ptlab.step=series-head");
}

TEST(Request, ExecRunsLastAsItsOwnPlanOrAloneWithPlansEmpty) {
    Request r =
        request_from(env_of({{"PLANS", "boot audit"}, {"EXEC", "uname -r"}}), real_layout());
    EXPECT_EQ(r.plans, (std::vector<std::string>{"boot", "audit", "exec"}));
    EXPECT_EQ(r.exec, "uname -r");
    r = request_from(env_of({{"PLANS", ""}, {"EXEC", "./mytest"}}), real_layout());
    EXPECT_EQ(r.plans, std::vector<std::string>{"exec"});
    // A bisection's steps get the same request back.
    std::map<std::string, std::string> again = request_env(r);
    EXPECT_EQ(request_from(env_of(again), real_layout()).plans, r.plans);
    EXPECT_EQ(request_from(env_of({{"PLANS", ""}}), real_layout()).plans,
              std::vector<std::string>{"boot"});
}

TEST(Request, ShareIsAFolderMadeAbsoluteAndReadOnlyOnRequest) {
    const auto here = std::filesystem::current_path();
    Request r = request_from(env_of({{"SHARE", "."}, {"SHARE_RO", "1"}}), real_layout());
    EXPECT_EQ(r.share, std::filesystem::canonical(here).string());
    EXPECT_TRUE(r.share_read_only);
    EXPECT_NE(plan_cmdline(r, "series-head").find(" ptlab.share=ptlab-share:ro"),
              std::string::npos);
    EXPECT_EQ(knob_error({{"SHARE", "/no/such/folder"}}), "SHARE: /no/such/folder is not a folder");
    EXPECT_EQ(knob_error({{"SHARE_RO", "yes"}}), "SHARE_RO must be 0 or 1, not 'yes'");
    r = request_from(env_of({}), real_layout());
    EXPECT_EQ(plan_cmdline(r, "series-head").find("ptlab.share"), std::string::npos);
}

TEST(Tools, AMissingProgramNamesItsPackageFromTheOneTable) {
    const auto table = real_layout().tool_packages();
    EXPECT_EQ(package_of_tool(table, "aarch64-linux-gnu-gcc"), "gcc-aarch64-linux-gnu");
    EXPECT_EQ(package_of_tool(table, "qemu-system-aarch64"), "qemu-system-arm");
    EXPECT_EQ(package_of_tool(table, "no-such-program"), "");
    try {
        need_tools(table, {"sh", "gnuplot-but-not-really"});
        FAIL() << "a missing program was accepted";
    } catch (const std::runtime_error &e) {
        EXPECT_EQ(std::string(e.what()), "'gnuplot-but-not-really' not found: install Debian "
                                         "package (unknown) (or run 'make deps')");
    }
}

TEST(Layout, RunFolderAndKernelFolderFollowTheRequest) {
    const Layout l = Layout::at("/lab");
    EXPECT_EQ(l.kernel("64k-42", "debug", "series-base").dir,
              "/lab/build/out/64k-42-debug/series-base");
    EXPECT_EQ(l.run_dir("4k-48", "bench", "0123456789ab", {"boot", "kvm"}),
              "/lab/build/runs/4k-48-bench/0123456789ab/boot+kvm");
    EXPECT_EQ(l.fragments("4k-39", "debug").back(), "/lab/configs/geometry/4k-39.config");
    EXPECT_EQ(Layout::at("/lab", "/scratch").src(), "/scratch/linux");
}

TEST(AmOutput, NamesTheFilesThatDoNotApply) {
    const AmFailure f = parse_am_output("Applying: arm64: x\n"
                                        "error: patch failed: arch/arm64/mm/mmu.c:42\n"
                                        "error: arch/arm64/mm/mmu.c: patch does not apply\n"
                                        "error: mm/gone.c: does not exist in index\n");
    EXPECT_FALSE(f.empty_patch);
    EXPECT_EQ(f.files, (std::vector<std::string>{"arch/arm64/mm/mmu.c:42", "mm/gone.c (missing)"}));
    EXPECT_TRUE(parse_am_output("Patch is empty.\nNo valid patches in input (allow with "
                                "\"--allow-empty\")\n")
                    .empty_patch);
}

std::string bench_knob_error(const std::map<std::string, std::string> &values) {
    try {
        (void)bench_request_from(env_of(values), real_layout());
    } catch (const KnobError &e) {
        return e.what();
    }
    return "(accepted)";
}

TEST(BenchKnobs, RefusedOnTheHostNamingWhatIsValid) {
    EXPECT_EQ(bench_knob_error({{"ROUNDS", "0"}}), "ROUNDS must be at least 1, not 0");
    EXPECT_EQ(bench_knob_error({{"BENCH_REPS", "1001"}}),
              "BENCH_REPS must be at most 1000, not 1001");
    EXPECT_EQ(bench_knob_error({{"BENCH_WARMUP", "x"}}),
              "BENCH_WARMUP must be a whole number, not 'x'");
    EXPECT_EQ(bench_knob_error({{"BENCH_SECONDS", "0"}}),
              "BENCH_SECONDS must be a positive number of seconds (1, 0.5), not '0'");
    EXPECT_EQ(bench_knob_error({{"BENCH_SECONDS", "1e3"}}),
              "BENCH_SECONDS must be a positive number of seconds (1, 0.5), not '1e3'");
    EXPECT_EQ(bench_knob_error({{"BENCH_THREADS", "1,,2"}}),
              "BENCH_THREADS must be thread counts separated by commas (1,2), not '1,,2'");
    EXPECT_EQ(bench_knob_error({{"SMP", "2"}, {"BENCH_THREADS", "1,4"}}),
              "BENCH_THREADS: 4 is not between 1 and the guest's 2 CPUs (SMP=2)");
    EXPECT_EQ(
        bench_knob_error({{"BENCH_LAYOUTS", "thp-private,huge"}}),
        "BENCH_LAYOUTS: unknown 'huge'; valid: thp-private thp-shared pte-private pte-shared");
    EXPECT_EQ(bench_knob_error({{"BENCH_ACCESS", "write,"}}),
              "BENCH_ACCESS must be a comma-separated list of: write read; not 'write,'");
    EXPECT_EQ(bench_knob_error({{"TIMEOUT", "abc"}}), "TIMEOUT must be a whole number, not 'abc'");
}

TEST(BenchKnobs, SecondsFollowTheGeometryAndTheTimeoutTheCells) {
    const BenchRequest four_k = bench_request_from(env_of({{"SMP", "2"}}), real_layout());
    EXPECT_EQ(four_k.seconds, "1");
    const BenchRequest big = bench_request_from(env_of({{"CONFIG", "64k-48"}}), real_layout());
    EXPECT_EQ(big.seconds, "3") << "a 64K THP clears 512 MiB";
    // 2 threads x 4 layouts x 2 accesses, 6 repetitions each of at most 1 x 3 + 5 s.
    EXPECT_EQ(bench_timeout_seconds(four_k), 600 + 16 * 6 * 8);
    EXPECT_EQ(bench_cmdline(four_k), "ptlab.bench_reps=5 ptlab.bench_warmup=1 "
                                     "ptlab.bench_seconds=1 ptlab.bench_access=write,read");
    const BenchRequest some = bench_request_from(env_of({{"SMP", "2"},
                                                         {"BENCH_THREADS", "2"},
                                                         {"BENCH_LAYOUTS", "thp-shared"},
                                                         {"BENCH_ACCESS", "read"},
                                                         {"BENCH_SECONDS", "0.5"}}),
                                                 real_layout());
    EXPECT_EQ(bench_timeout_seconds(some), 600 + 1 * 6 * 8);
    EXPECT_EQ(bench_cmdline(some), "ptlab.bench_reps=5 ptlab.bench_warmup=1 "
                                   "ptlab.bench_seconds=0.5 ptlab.bench_access=read "
                                   "ptlab.bench_threads=2 ptlab.bench_layouts=thp-shared");
}

class Lab : public ::testing::Test {
protected:
    void SetUp() override {
        lab_ = std::make_unique<FakeLab>();
        base_ = lab_->commit("fake: the baseline", "real-4k48-head-boot.log");
        lab_->tag("series-base");
        one_ = lab_->commit("fake: one", "real-4k48-head-boot.log");
        two_ = lab_->commit("fake: two", "real-4k48-head-boot.log");
        lab_->tag("series-head");
        setenv("FAKE_QEMU_MODE", "kernel", 1);
    }
    void TearDown() override { unsetenv("FAKE_QEMU_MODE"); }

    Request request(std::map<std::string, std::string> values = {}) const {
        values.emplace("PTLAB_MACHINE", lab_->machine().string());
        values.emplace("TIMEOUT", "30");
        return request_from(env_of(values), lab_->layout());
    }
    BuiltKernel build(const std::string &step, BuildOptions options = {}) {
        return build_kernel(lab_->layout(), {"4k-48", "debug", step}, options,
                            Progress(progress_, false));
    }

    std::unique_ptr<FakeLab> lab_;
    std::string base_, one_, two_;
    std::ostringstream progress_;
};

TEST_F(Lab, BuildsAStepWithItsModuleThenFindsItUpToDate) {
    const BuiltKernel k = build("series-head");
    EXPECT_EQ(k.step_name, "series-head");
    EXPECT_TRUE(std::filesystem::exists(k.dir.image()));
    EXPECT_TRUE(std::filesystem::exists(k.dir.built_stamp()));
    EXPECT_FALSE(k.dir.module_ko().empty());
    EXPECT_NE(progress_.str().find("kernel 4k-48-debug @ series-head: configure ... done"),
              std::string::npos);
    progress_.str("");
    (void)build("series-head");
    EXPECT_EQ(progress_.str(), "") << "an up-to-date kernel is not rebuilt";
}

TEST_F(Lab, AConfigMadeSinceTheBuildDoesNotMakeTheOldImageCurrent) {
    (void)build("series-head");
    lab_->commit("fake: three", "real-4k48-head-boot.log");
    lab_->tag("series-head"); // the same folder, another key
    BuildOptions config_only;
    config_only.config_only = true;
    (void)build("series-head", config_only);
    progress_.str("");
    (void)build("series-head");
    EXPECT_NE(progress_.str().find("series-head: build Image + modules ... done"),
              std::string::npos)
        << "the Image of the old key was taken as current: " << progress_.str();
}

TEST_F(Lab, BuildingAnotherStepLeavesHeadWhereItWas) {
    lab_->tree().git({"checkout", "-q", "series-head"});
    const std::string before = lab_->tree().head();
    const BuiltKernel k = build("series-base");
    EXPECT_EQ(k.step_name, "series-base");
    EXPECT_EQ(lab_->tree().head(), before);
    const BuiltKernel by_sha = build(one_);
    EXPECT_EQ(by_sha.step_name, one_.substr(0, 12));
    EXPECT_EQ(lab_->tree().head(), before);
}

TEST_F(Lab, ANewFolderIsSeededFromTheClosestBuild) {
    (void)build("series-head");
    (void)build("series-base");
    EXPECT_NE(progress_.str().find("series-base: seed from series-head (0 options differ)"),
              std::string::npos)
        << progress_.str();
}

TEST_F(Lab, OfEquallyCloseBuildsTheParentsSeedsAChild) {
    (void)build(one_);
    (void)build("series-head");
    (void)build("series-base"); // the newest, and as close by .config
    lab_->tree().checkout(one_);
    const std::string child = lab_->commit("fake: a child of one", "real-4k48-head-boot.log");
    lab_->tree().checkout("series-head");
    progress_.str("");
    (void)build(child);
    EXPECT_NE(progress_.str().find(": seed from " + one_.substr(0, 12) + " (0 options differ)"),
              std::string::npos)
        << progress_.str();
}

TEST_F(Lab, AStepThatDoesNotBuildFailsWithItsLog) {
    const std::string broken = lab_->commit("fake: broken", "real-4k48-head-boot.log", true);
    try {
        (void)build(broken);
        FAIL() << "a broken step built";
    } catch (const PhaseFailed &e) {
        EXPECT_NE(std::string(e.what()).find("build Image + modules failed"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("build.log"), std::string::npos);
    }
    EXPECT_NE(progress_.str().find("fake: this commit does not build"), std::string::npos);
}

TEST_F(Lab, RunBuildsBootsAndJudgesInTheRequestsRunFolder) {
    std::ostringstream out;
    const Request r = request({{"STEP", "series-base"}, {"PLANS", "boot"}});
    EXPECT_EQ(build_and_boot(lab_->layout(), r, out, Progress(progress_, false)), 0)
        << out.str() << progress_.str();
    const auto run = lab_->layout().run_dir("4k-48", "debug", "series-base", {"boot"});
    const auto result = nlohmann::json::parse(read_text_file(run / "result.json"));
    EXPECT_EQ(result["outcome"], "pass");
    const KernelDir k = lab_->layout().kernel("4k-48", "debug", "series-base");
    EXPECT_NE(read_text_file(k.expect_json()).find("\"split_pmd\": \"off\""), std::string::npos);
    // The base archive, then the per-kernel one (gzip of what the fake gen_init_cpio echoes).
    const std::string base = "base-archive";
    EXPECT_EQ(read_text_file(k.initramfs()).substr(0, base.size()), base);
    const Captured kernel_archive = capture_process(
        {"sh", "-c", "tail -c +" + std::to_string(base.size() + 1) + " \"$0\" | gzip -dc",
         k.initramfs().string()});
    EXPECT_NE(kernel_archive.out.find("file /lib/modules/ptlab_audit.ko"), std::string::npos);
    EXPECT_NE(kernel_archive.out.find("file /ptlab/rules " + k.module_rules().string()),
              std::string::npos);
}

TEST_F(Lab, ExecsCommandGoesIntoTheInitramfsAsItsOwnScript) {
    std::ostringstream out;
    const Request r = request({{"PLANS", ""}, {"EXEC", "uname -r; test -d /proc"}});
    (void)build_and_boot(lab_->layout(), r, out, Progress(progress_, false));
    const KernelDir k = lab_->layout().kernel("4k-48", "debug", "series-head");
    const std::string base = "base-archive";
    const Captured kernel_archive = capture_process(
        {"sh", "-c", "tail -c +" + std::to_string(base.size() + 1) + " \"$0\" | gzip -dc",
         k.initramfs().string()});
    EXPECT_NE(kernel_archive.out.find("file /ptlab/exec.sh " + (k.dir / "exec.sh").string() +
                                      " 0755 0 0"),
              std::string::npos)
        << kernel_archive.out;
    EXPECT_EQ(read_text_file(k.dir / "exec.sh"), "#!/bin/sh\nuname -r; test -d /proc\n");
    EXPECT_TRUE(fs::exists(lab_->layout().run_dir("4k-48", "debug", "series-head", {"exec"})));
}

TEST_F(Lab, BisectStepExitCodes) {
    const Layout &l = lab_->layout();
    std::ostringstream out;
    const Progress p(progress_, false);
    lab_->tree().checkout(two_);
    EXPECT_EQ(bisect_step(l, request(), out, p), bisect_exit::good);
    const std::string panics = lab_->commit("fake: panics", "synthetic-oops-panic.log");
    EXPECT_EQ(bisect_step(l, request(), out, p), bisect_exit::bad);
    (void)lab_->commit("fake: broken", "real-4k48-head-boot.log", true);
    EXPECT_EQ(bisect_step(l, request(), out, p), bisect_exit::skip);
    (void)lab_->commit("fake: fixed", "real-4k48-head-boot.log");
    Request no_qemu = request();
    no_qemu.machine = (lab_->root() / "no-such-machine.json").string();
    EXPECT_EQ(bisect_step(l, no_qemu, out, p), bisect_exit::abort);
}

TEST_F(Lab, BisectionNamesTheFirstBadCommitAndWhyAndRestoresHead) {
    const std::string panics = lab_->commit("fake: panics", "synthetic-oops-panic.log");
    (void)lab_->commit("fake: still panics", "synthetic-oops-panic.log");
    const std::string bad = lab_->tree().head();
    lab_->tree().checkout("series-base");
    BisectRequest b;
    b.good = "series-head";
    b.bad = bad;
    b.self = PTLAB_BINARY;
    std::ostringstream out;
    ASSERT_EQ(bisect(lab_->layout(), request(), b, out, Progress(progress_, false)), 0)
        << progress_.str();
    EXPECT_NE(out.str().find("first bad commit: " + panics.substr(0, 7) + " fake: panics"),
              std::string::npos)
        << out.str();
    EXPECT_NE(out.str().find("verdict: panic"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("first splat: oops: Unable to handle kernel NULL pointer"),
              std::string::npos)
        << out.str();
    EXPECT_NE(out.str().find("\nfiles: console\n"), std::string::npos) << out.str();
    const auto j =
        nlohmann::json::parse(read_text_file(lab_->layout().bisect_results() / "bisect.json"));
    EXPECT_EQ(j["first_bad"]["sha"], panics);
    EXPECT_EQ(j["first_bad"]["subject"], "fake: panics");
    EXPECT_EQ(j["verdict"], "panic (Kernel panic - not syncing: Oops: Fatal exception)");
    EXPECT_EQ(lab_->tree().head(), *lab_->tree().resolve("series-base"));
    EXPECT_FALSE(lab_->tree().bisecting());
}

// A commit that changes nothing the kernel is built from (its Image is its parent's, byte for
// byte) is skipped, never blamed, and the bisection's notes say why.
TEST_F(Lab, BisectStepSkipsACommitThatBuildsItsParentsImage) {
    const Layout &l = lab_->layout();
    std::ostringstream out;
    const Progress p(progress_, false);
    (void)lab_->commit("fake: panics", "synthetic-oops-panic.log");
    EXPECT_EQ(bisect_step(l, request(), out, p), bisect_exit::bad);
    const std::string docs = lab_->commit("docs: a comment only", "synthetic-oops-panic.log");
    EXPECT_EQ(bisect_step(l, request(), out, p), bisect_exit::skip);
    const std::string notes = read_text_file(l.bisect_notes());
    EXPECT_NE(notes.find("same-image: " + docs.substr(0, 7)), std::string::npos) << notes;
    EXPECT_NE(notes.find("its Image is its parent's, byte for byte"), std::string::npos) << notes;
    StepOptions no_compare;
    no_compare.compare_parent = false;
    EXPECT_EQ(bisect_step(l, request(), out, p, no_compare), bisect_exit::bad);
}

// A failing step is bad only when every run fails for the first run's reason.
TEST(BisectRepeats, BadOnlyWhenEveryRunFailsTheSameWay) {
    EXPECT_EQ(judge_repeats({"panic", "panic"}), Repeated::Bad);
    EXPECT_EQ(judge_repeats({"panic"}), Repeated::Bad);
    EXPECT_EQ(judge_repeats({"panic", std::nullopt}), Repeated::Flaky);
    EXPECT_EQ(judge_repeats({"panic", "timeout"}), Repeated::Flaky);
}

TEST(BisectRepeats, TheSkipOnlyAnswerIsReadFromGitsLog) {
    const std::vector<std::string> log = {
        "There are only 'skip'ped commits left to test.",
        "The first bad commit could be any of:", "0ec7c2ed95857e8f2a43b8a5b0d4c3e2f1a0b9c8",
        "59c8e58b76210aa3b1c2d3e4f5a6b7c8d9e0f1a2", "We cannot bisect more!"};
    EXPECT_EQ(skipped_candidates(log),
              (std::vector<std::string>{"0ec7c2ed95857e8f2a43b8a5b0d4c3e2f1a0b9c8",
                                        "59c8e58b76210aa3b1c2d3e4f5a6b7c8d9e0f1a2"}));
    EXPECT_TRUE(skipped_candidates({"abc is the first bad commit"}).empty());
}

// GOOD must pass and BAD must fail before anything is bisected.
TEST_F(Lab, ABisectionWhoseEndsDoNotDisagreeIsRefused) {
    const std::string panics = lab_->commit("fake: panics", "synthetic-oops-panic.log");
    const std::string fine = lab_->commit("fake: fine again", "real-4k48-head-boot.log");
    BisectRequest b;
    b.self = PTLAB_BINARY;
    b.good = panics;
    b.bad = fine;
    std::ostringstream out;
    try {
        (void)bisect(lab_->layout(), request(), b, out, Progress(progress_, false));
        ADD_FAILURE() << "a GOOD that fails was bisected";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find("GOOD " + panics.substr(0, 7)), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("must pass to bisect, but it fails"),
                  std::string::npos)
            << e.what();
    }
    b.good = "series-head";
    try {
        (void)bisect(lab_->layout(), request(), b, out, Progress(progress_, false));
        ADD_FAILURE() << "a BAD that passes was bisected";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find("must fail to bisect, but it passes"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(lab_->tree().bisecting());
    EXPECT_EQ(lab_->tree().head(), fine);
}

TEST_F(Lab, MatrixOfFakeCellsNamesWhatStoppedEach) {
    (void)lab_->commit("fake: broken", "real-4k48-head-boot.log", true);
    (void)lab_->commit("fake: panics", "synthetic-oops-panic.log");
    lab_->tag("series-head");
    MatrixRequest m = matrix_request_from(env_of({{"PTLAB_MACHINE", lab_->machine().string()},
                                                  {"CONFIGS", "4k-48 64k-42"},
                                                  {"MATRIX_PLANS", "boot"},
                                                  {"TIMEOUT", "30"}}),
                                          lab_->layout());
    EXPECT_EQ(m.stress_seconds, 10);
    std::ostringstream out;
    EXPECT_EQ(run_matrix(lab_->layout(), m, out, Progress(progress_, false)), 1);
    const std::string table = out.str();
    EXPECT_NE(table.find("3/4 "), std::string::npos) << table;
    EXPECT_NE(table.find("build failed"), std::string::npos) << table;
    EXPECT_NE(table.find("4/4 "), std::string::npos) << table;
    EXPECT_TRUE(table.ends_with("6 cells passed, 4 failed\n")) << table;
    const auto j =
        nlohmann::json::parse(read_text_file(lab_->layout().matrix_results() / "matrix.json"));
    ASSERT_EQ(j["cells"].size(), 10U);
    EXPECT_EQ(j["cells"][0]["outcome"], "pass");
    EXPECT_EQ(j["cells"][9]["outcome"], "fail");
    EXPECT_NE(j["cells"][9]["reason"].get<std::string>().find("panic"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(lab_->layout().matrix_results() / "matrix.xml"));
    // Every cell that built was booted: its console is in its run folder.
    EXPECT_NE(read_text_file(lab_->layout().run_dir("64k-42", "debug", "series-base", {"boot"}) /
                             "console.log")
                  .size(),
              0U);
}

TEST_F(Lab, MatrixKnobsAreCheckedFirst) {
    EXPECT_THROW(
        (void)matrix_request_from(env_of({{"MATRIX_STRESS_SECONDS", "ten"}}), lab_->layout()),
        KnobError);
    EXPECT_THROW((void)matrix_request_from(env_of({{"CONFIGS", "4k-48 5k-48"}}), lab_->layout()),
                 KnobError);
    EXPECT_THROW((void)matrix_request_from(env_of({{"MATRIX_PLANS", "boot nope"}}), lab_->layout()),
                 KnobError);
}

} // namespace
} // namespace ptlab
