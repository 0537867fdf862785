// Option parsing.
#include "cli.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace ptlab;

namespace {

struct Parsed {
    CliOutcome res;
    std::string out;
    std::string err;
};

Parsed parse(const std::vector<std::string> &args) {
    std::ostringstream out;
    std::ostringstream err;
    Parsed p{parse_cli(args, out, err), "", ""};
    p.out = out.str();
    p.err = err.str();
    return p;
}

} // namespace

TEST(Cli, Defaults) {
    const auto p = parse({"thp"});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    const Options &o = p.res.options;
    EXPECT_EQ(o.command, "thp");
    EXPECT_EQ(o.threads, 2U);
    EXPECT_FALSE(o.duration);
    EXPECT_FALSE(o.iterations);
    EXPECT_DOUBLE_EQ(o.effective_duration(), 30.0);
    EXPECT_FALSE(o.json);
    EXPECT_FALSE(o.seed_given);
}

TEST(Cli, OptionsBeforeOrAfterTheSubcommand) {
    for (const auto &args : std::vector<std::vector<std::string>>{
             {"--threads", "4", "--seed", "42", "kvm", "--duration", "2.5", "--json"},
             {"kvm", "--threads", "4", "--seed", "42", "--duration", "2.5", "--json"}}) {
        const auto p = parse(args);
        ASSERT_FALSE(p.res.exit_code) << p.err;
        const Options &o = p.res.options;
        EXPECT_EQ(o.command, "kvm");
        EXPECT_EQ(o.threads, 4U);
        EXPECT_EQ(o.seed, 42U);
        EXPECT_TRUE(o.seed_given);
        EXPECT_DOUBLE_EQ(o.effective_duration(), 2.5);
        EXPECT_TRUE(o.json);
    }
}

TEST(Cli, Iterations) {
    const auto p = parse({"all", "--iterations", "7"});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    EXPECT_EQ(*p.res.options.iterations, 7U);
    EXPECT_DOUBLE_EQ(p.res.options.effective_duration(), 0.0);
}

TEST(Cli, EachWorkloadOwnsItsDefaultDuration) {
    EXPECT_DOUBLE_EQ(parse({"thp"}).res.options.effective_duration(), 30.0);
    EXPECT_DOUBLE_EQ(parse({"efi"}).res.options.effective_duration(), 20.0);
    EXPECT_DOUBLE_EQ(parse({"kvm"}).res.options.effective_duration(), 30.0);
    EXPECT_DOUBLE_EQ(parse({"all"}).res.options.effective_duration(), 45.0);
    EXPECT_DOUBLE_EQ(parse({"faults"}).res.options.effective_duration(), 20.0);
    EXPECT_EQ(parse({"faults"}).res.options.fault_probability, 5U);
}

namespace {
std::string cmdline_file(const std::string &text) {
    const std::string path = ::testing::TempDir() + "ptlab-cmdline-" + std::to_string(getpid());
    std::ofstream(path) << text;
    return path;
}
} // namespace

TEST(Cli, KnobsFromTheKernelCommandLine) {
    const std::string path =
        cmdline_file("console=ttyAMA0 ptlab.plans=thp ptlab.stress_seconds=7 ptlab.seed=0x2a\n");
    const auto p = parse({"thp", "--knobs-from", path});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    EXPECT_DOUBLE_EQ(p.res.options.effective_duration(), 7.0);
    EXPECT_EQ(p.res.options.seed, 42U);
    EXPECT_TRUE(p.res.options.seed_given);
    // The command line of the tool wins over the kernel's.
    const auto q = parse({"thp", "--knobs-from", path, "--duration", "3", "--seed", "5"});
    ASSERT_FALSE(q.res.exit_code) << q.err;
    EXPECT_DOUBLE_EQ(q.res.options.effective_duration(), 3.0);
    EXPECT_EQ(q.res.options.seed, 5U);
    const auto faults =
        parse({"faults", "--knobs-from", cmdline_file("ptlab.fault_probability=12")});
    ASSERT_FALSE(faults.res.exit_code) << faults.err;
    EXPECT_EQ(faults.res.options.fault_probability, 12U);
    const auto only = parse({"kselftest", "--knobs-from", cmdline_file("ptlab.kselftests=a,b/c")});
    ASSERT_FALSE(only.res.exit_code) << only.err;
    EXPECT_EQ(only.res.options.kselftest_only, (std::vector<std::string>{"a", "b/c"}));
}

TEST(Cli, BadKnobOnTheKernelCommandLineIsAUsageError) {
    for (const char *bad : {"ptlab.stress_seconds=abc", "ptlab.stress_seconds=0", "ptlab.seed=12x",
                            "ptlab.fault_probability=0", "ptlab.fault_probability=101"}) {
        const auto p = parse({"kvm", "--knobs-from", cmdline_file(bad)});
        ASSERT_TRUE(p.res.exit_code) << bad;
        EXPECT_EQ(*p.res.exit_code, kExitUsage);
        EXPECT_NE(p.err.find("is not a valid value"), std::string::npos) << p.err;
    }
    const auto missing = parse({"kvm", "--knobs-from", "/nonexistent/cmdline"});
    ASSERT_TRUE(missing.res.exit_code);
    EXPECT_NE(missing.err.find("cannot read"), std::string::npos);
}

TEST(Cli, BenchKnobsFromTheKernelCommandLineAreOptionsCheckedByTheSameParser) {
    const std::string path =
        cmdline_file("ptlab.bench_threads=1,2 ptlab.bench_reps=3 ptlab.bench_seconds=0.5\n");
    const auto p = parse({"bench", "--knobs-from", path, "--reps", "7"});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    EXPECT_EQ(p.res.options.bench.thread_counts, (std::vector<unsigned>{1, 2}));
    EXPECT_EQ(p.res.options.bench.reps, 7U) << "the tool's own command line wins";
    EXPECT_DOUBLE_EQ(p.res.options.bench.rep_seconds, 0.5);
    const auto bad = parse({"bench", "--knobs-from", cmdline_file("ptlab.bench_layouts=nope")});
    ASSERT_TRUE(bad.res.exit_code);
    EXPECT_EQ(*bad.res.exit_code, kExitUsage);
}

TEST(Cli, SeedInHex) {
    const auto p = parse({"efi", "--seed", "0x10"});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    EXPECT_EQ(p.res.options.seed, 16U);
}

TEST(Cli, ReproduceCommand) {
    const auto p = parse({"thp", "--seed", "5", "--duration", "20", "--threads", "3"});
    EXPECT_EQ(p.res.options.reproduce_command(),
              "ptlab-stress thp --seed 5 --threads 3 --duration 20");
    const auto q = parse({"kvm", "--seed", "6", "--iterations", "2", "--mem-percent", "30"});
    EXPECT_EQ(q.res.options.reproduce_command(),
              "ptlab-stress kvm --seed 6 --threads 2 --iterations 2 --mem-percent 30");
}

TEST(Cli, IpaBits) {
    const auto p = parse({"kvm", "--ipa-bits", "32,52", "--seed", "1"});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    EXPECT_EQ(p.res.options.ipa_bits, (std::vector<unsigned>{32, 52}));
    EXPECT_EQ(p.res.options.reproduce_command(),
              "ptlab-stress kvm --seed 1 --threads 2 --duration 30 --ipa-bits 32,52");
    EXPECT_EQ(parse({"kvm", "--ipa-bits", "31"}).res.exit_code, kExitUsage);
    EXPECT_EQ(parse({"kvm", "--ipa-bits", "40,x"}).res.exit_code, kExitUsage);
}

TEST(Cli, Hold) {
    const auto p = parse({"hold", "--thp-mib", "64", "--small-mib", "16"});
    ASSERT_FALSE(p.res.exit_code) << p.err;
    EXPECT_EQ(p.res.options.command, "hold");
    EXPECT_EQ(p.res.options.thp_mib, 64U);
    EXPECT_EQ(p.res.options.small_mib, 16U);
}

TEST(Cli, HelpAndListExitZero) {
    const auto h = parse({"--help"});
    EXPECT_EQ(h.res.exit_code, 0);
    EXPECT_NE(h.out.find("--duration"), std::string::npos);
    EXPECT_NE(h.out.find("Exit status"), std::string::npos);
    const auto sub = parse({"thp", "--help"});
    EXPECT_EQ(sub.res.exit_code, 0);
    const auto l = parse({"--list"});
    EXPECT_EQ(l.res.exit_code, 0);
    for (const char *w : {"thp", "efi", "kvm", "all", "hold"}) {
        EXPECT_NE(l.out.find(std::string(w) + " "), std::string::npos) << w;
    }
}

TEST(Cli, UsageErrorsExitTwoWithAMessage) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{}, "subcommand is required"},
        {{"frobnicate"}, "frobnicate"},
        {{"thp", "--threads", "0"}, "--threads"},
        {{"thp", "--threads", "65"}, "--threads"},
        {{"thp", "--threads", "two"}, "--threads"},
        {{"thp", "--duration", "-1"}, "--duration"},
        {{"thp", "--duration", "5", "--iterations", "3"}, "excludes"},
        {{"thp", "--iterations", "0"}, "--iterations"},
        {{"thp", "--seed", "x"}, "--seed"},
        {{"thp", "--no-such-option"}, "--no-such-option"},
        {{"thp", "kvm"}, "kvm"},
        {{"hold"}, "--thp-mib"},
        {{"hold", "--thp-mib", "0", "--small-mib", "0"}, "both 0"},
        {{"thp", "--thp-mib", "4"}, "--thp-mib"},
        {{"thp", "--mem-percent", "95"}, "--mem-percent"},
    };
    for (const auto &[args, what] : bad) {
        const auto p = parse(args);
        std::string joined;
        for (const auto &a : args) {
            joined += a + " ";
        }
        EXPECT_EQ(p.res.exit_code, kExitUsage) << joined;
        EXPECT_NE(p.err.find("ptlab-stress: error:"), std::string::npos) << joined << p.err;
        EXPECT_NE(p.err.find(what), std::string::npos) << joined << ": " << p.err;
        EXPECT_TRUE(p.out.empty()) << joined;
    }
}
