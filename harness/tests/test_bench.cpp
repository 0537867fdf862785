#include "fixture.hpp"
#include "ptlab/bench.hpp"
#include "ptlab/cli.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab {
namespace {

using Json = nlohmann::json;

// One cell of a guest report: rates per repetition, optional page_table_lock contentions.
Json cell(const std::string &layout, const std::string &access, unsigned threads,
          const std::vector<double> &rates, const std::vector<double> &ptl_con = {}) {
    Json reps = Json::array();
    for (std::size_t i = 0; i < rates.size(); ++i) {
        Json rep{{"faults", rates[i] * 2},
                 {"seconds", 2.0},
                 {"faults_per_sec", rates[i]},
                 {"vmstat", {{"thp_fault_alloc", rates[i] * 2}, {"thp_fault_fallback", 0}}}};
        if (!ptl_con.empty()) {
            rep["lock_stat"] = {
                {"page_table_lock",
                 {{"contentions", ptl_con[i]}, {"acquisitions", 1000}, {"waittime_total_us", 5}}},
                {"ptlock", {{"contentions", 1}, {"acquisitions", 2000}, {"waittime_total_us", 1}}}};
        }
        reps.push_back(rep);
    }
    return {{"layout", layout}, {"access", access}, {"threads", threads}, {"reps", reps}};
}

Json report(const std::vector<Json> &cells, bool lock_stat) {
    return {{"command", "bench"},     {"cpus", 2},     {"page_size", 4096},
            {"pmd_size", 2097152},    {"reps", 3},     {"mem_available_kb", 1994752},
            {"lock_stat", lock_stat}, {"cells", cells}};
}

BenchRun run(const std::string &step, const std::string &role, int round, Json data) {
    BenchRun r;
    r.config = "4k-48";
    r.step = step;
    r.flavour = role == "throughput" ? "bench" : "lockstat";
    r.role = role;
    r.round = round;
    r.outcome = "pass";
    r.data = std::move(data);
    r.kernel.options = {{"LOCK_STAT", role == "throughput" ? "n" : "y"},
                        {"PROVE_LOCKING", "n"},
                        {"ARCH_ENABLE_SPLIT_PMD_PTLOCK", step == "series-head" ? "y" : "n"}};
    r.kernel.spinlock_size = role == "throughput" ? 4 : 24;
    return r;
}

std::vector<BenchRun> sample_runs() {
    std::vector<BenchRun> runs;
    // Two throughput rounds per step, alternating; head is 10% faster on thp-private T=2.
    for (int round = 1; round <= 2; ++round) {
        runs.push_back(run("series-base", "throughput", round,
                           report({cell("thp-private", "write", 1, {100, 102, 98}),
                                   cell("thp-private", "write", 2, {150, 160, 140})},
                                  false)));
        runs.push_back(run("series-head", "throughput", round,
                           report({cell("thp-private", "write", 1, {101, 99, 100}),
                                   cell("thp-private", "write", 2, {165, 176, 154})},
                                  false)));
    }
    runs.push_back(
        run("series-base", "contention", 1,
            report({cell("thp-private", "write", 2, {50, 50, 50}, {40, 44, 42})}, true)));
    runs.push_back(run("series-head", "contention", 1,
                       report({cell("thp-private", "write", 2, {50, 50, 50}, {0, 1, 0})}, true)));
    return runs;
}

TEST(Bench, ExtractsTheLastJsonLineFromANestedConsoleLog) {
    const auto lines = testing::lines_of("PTLAB-START plans=bench config=4k-48 step=series-head\n"
                                         "    # PTLAB-BENCH-JSON {\"cells\":[],\"n\":1}\n"
                                         "[   12.345678] random: crng init done\n"
                                         "    # PTLAB-BENCH-JSON {\"cells\":[],\"n\":2}\r\n"
                                         "PTLAB-END rc=0\n");
    std::string error;
    const auto j = extract_bench_json(lines, &error);
    ASSERT_TRUE(j) << error;
    EXPECT_EQ(j->at("n"), 2);
    EXPECT_EQ(error, "");

    EXPECT_FALSE(extract_bench_json(testing::lines_of("no report\n"), &error));
    EXPECT_NE(error.find("no 'PTLAB-BENCH-JSON"), std::string::npos) << error;
    // A kernel message in the middle of the line breaks the JSON: said so, not guessed.
    EXPECT_FALSE(extract_bench_json(
        testing::lines_of("    # PTLAB-BENCH-JSON {\"cells\":[[   3.1] oops\n"), &error));
    EXPECT_NE(error.find("does not parse"), std::string::npos) << error;
}

TEST(Bench, StatsMedianMinMax) {
    const auto s = bench_stats({3, 1, 2, 10});
    EXPECT_EQ(s.n, 4U);
    EXPECT_DOUBLE_EQ(s.median, 2.5);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 10);
    EXPECT_DOUBLE_EQ(bench_stats({7}).median, 7);
    EXPECT_EQ(bench_stats({}).n, 0U);
}

TEST(Bench, KernelFactsFromDotConfigAndBounds) {
    const auto dir = std::filesystem::temp_directory_path() / "ptlab-bench-kernel";
    std::filesystem::create_directories(dir / "include/generated");
    std::ofstream(dir / ".config") << "CONFIG_LOCK_STAT=y\n# CONFIG_PROVE_LOCKING is not set\n"
                                      "CONFIG_DEBUG_SPINLOCK=y\n"
                                      "CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK=y\n";
    std::ofstream(dir / "include/generated/bounds.h")
        << "#define NR_PAGEFLAGS 22 /* __NR_PAGEFLAGS */\n"
           "#define SPINLOCK_SIZE 24 /* sizeof(spinlock_t) */\n";
    const KernelFacts k = read_kernel_facts(dir.string());
    EXPECT_EQ(k.options.at("LOCK_STAT"), "y");
    EXPECT_EQ(k.options.at("PROVE_LOCKING"), "n");
    EXPECT_EQ(k.options.at("DEBUG_VM"), "n");
    EXPECT_EQ(k.spinlock_size, 24);
    ASSERT_TRUE(k.alloc_split_ptlocks());
    EXPECT_TRUE(*k.alloc_split_ptlocks());
    const std::string d = k.describe();
    EXPECT_NE(d.find("LOCK_STAT=y PROVE_LOCKING=n DEBUG_VM=n DEBUG_SPINLOCK=y"), std::string::npos)
        << d;
    EXPECT_NE(d.find("ALLOC_SPLIT_PTLOCKS"), std::string::npos) << d;
    EXPECT_EQ(d.find("ARCH_ENABLE_SPLIT_PMD_PTLOCK"), std::string::npos) << d;

    KernelFacts small;
    small.spinlock_size = 4;
    EXPECT_FALSE(*small.alloc_split_ptlocks());
    EXPECT_NE(small.describe().find("embedded in struct page"), std::string::npos);
    EXPECT_FALSE(read_kernel_facts("").alloc_split_ptlocks());
}

TEST(Bench, ReportPoolsRepetitionsOfEveryRoundAndComparesHeadToBase) {
    const BenchReport r = build_bench_report(sample_runs(), "series-base", "series-head");
    EXPECT_EQ(r.config, "4k-48");
    EXPECT_TRUE(r.problems.empty()) << r.problems.front();
    EXPECT_EQ(r.rounds.at("throughput"), 2);
    EXPECT_EQ(r.rounds.at("contention"), 1);
    EXPECT_EQ(r.split_pmd.at("series-base"), "n");
    EXPECT_EQ(r.split_pmd.at("series-head"), "y");
    ASSERT_EQ(r.throughput.size(), 2U);
    const BenchRow &t2 = r.throughput[1];
    EXPECT_EQ(t2.layout, "thp-private");
    EXPECT_EQ(t2.threads, 2U);
    EXPECT_EQ(t2.base.faults_per_sec.n, 6U);
    EXPECT_DOUBLE_EQ(t2.base.faults_per_sec.median, 150);
    EXPECT_DOUBLE_EQ(t2.head.faults_per_sec.median, 165);
    EXPECT_DOUBLE_EQ(t2.head.faults_per_sec.max, 176);
    ASSERT_TRUE(t2.ratio);
    EXPECT_DOUBLE_EQ(*t2.ratio, 1.1);
    EXPECT_EQ(t2.base.round_medians, (std::vector<double>{150, 150}));
    EXPECT_DOUBLE_EQ(t2.base.thp_share, 1.0);

    ASSERT_EQ(r.contention.size(), 1U);
    const BenchRow &c = r.contention[0];
    EXPECT_DOUBLE_EQ(c.base.ptl_contentions.median, 42);
    EXPECT_DOUBLE_EQ(c.head.ptl_contentions.median, 0);
    EXPECT_DOUBLE_EQ(c.base.ptl_acquisitions.median, 1000);
    EXPECT_DOUBLE_EQ(c.head.ptlock_acquisitions.median, 2000);
    ASSERT_TRUE(c.ptl_ratio);
    EXPECT_DOUBLE_EQ(*c.ptl_ratio, 0);
}

TEST(Bench, TableNamesTheFlavoursAndEndsWithTheCounts) {
    std::ostringstream out;
    print_bench_report(out, build_bench_report(sample_runs(), "series-base", "series-head"));
    const std::string text = out.str();
    EXPECT_NE(text.find("throughput kernels: flavour bench: LOCK_STAT=n PROVE_LOCKING=n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("page->ptl embedded in struct page"), std::string::npos) << text;
    EXPECT_NE(text.find("contention kernels: flavour lockstat: LOCK_STAT=y"), std::string::npos)
        << text;
    EXPECT_NE(text.find("series-base=n series-head=y"), std::string::npos) << text;
    EXPECT_NE(text.find("\nnote: QEMU TCG emulates every guest instruction, with 2 guest CPUs"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("not a large system"), std::string::npos) << text;
    EXPECT_NE(text.find("\nfaults/s of the throughput kernels (flavour bench), median"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("reps of the contention kernels (flavour lockstat; counts, not timing)"),
              std::string::npos)
        << text;
    // The T=2 row: medians, ranges and the ratio, in this order.
    const auto row = text.find("thp-private  write   2");
    ASSERT_NE(row, std::string::npos) << text;
    const std::string line = text.substr(row, text.find('\n', row) - row);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) {
        w.push_back(x);
    }
    EXPECT_EQ(w, (std::vector<std::string>{"thp-private", "write", "2", "150", "[140..160]", "165",
                                           "[154..176]", "1.100"}))
        << line;
    const auto ptl = text.find("&mm->page_table_lock: per repetition, median of 1 x 3 reps");
    ASSERT_NE(ptl, std::string::npos) << text;
    const auto row2 = text.find("thp-private  write", text.find("con:base", ptl));
    const std::string line2 = text.substr(row2, text.find('\n', row2) - row2);
    std::istringstream words2(line2);
    std::vector<std::string> w2;
    for (std::string x; words2 >> x;) {
        w2.push_back(x);
    }
    EXPECT_EQ(w2, (std::vector<std::string>{"thp-private", "write", "2", "100", "100", "42", "0",
                                            "0.000", "5.0", "5.0", "1000", "1000"}))
        << line2;
    EXPECT_NE(text.find("ptlock_ptr(page) (split PTE/PMD locks"), std::string::npos) << text;
    EXPECT_TRUE(text.ends_with("bench 4k-48: 6 runs, 0 problems\n")) << text;
}

TEST(Bench, FailedRunsMissingReportsAndThpFallbacksAreProblems) {
    auto runs = sample_runs();
    runs[0].outcome = "fail";
    runs[0].reason = "splat: warning";
    runs[1].data.reset();
    runs[1].error = "no 'PTLAB-BENCH-JSON ' line in the console log";
    // A third of the faults without a huge page.
    for (auto &rep : runs[2].data->at("cells")[0]["reps"]) {
        rep["vmstat"]["thp_fault_alloc"] = rep["faults"].get<double>() / 3;
    }
    const BenchReport r = build_bench_report(runs, "series-base", "series-head");
    ASSERT_EQ(r.problems.size(), 3U);
    EXPECT_NE(r.problems[0].find("run fail (splat: warning)"), std::string::npos);
    EXPECT_NE(r.problems[1].find("no 'PTLAB-BENCH-JSON"), std::string::npos);
    EXPECT_NE(r.problems[2].find("% of the faults got a PMD huge page"), std::string::npos)
        << r.problems[2];
}

TEST(Bench, SkippedCellsAndFaultsWithoutPmdMappingsAreProblems) {
    auto runs = sample_runs();
    // Read faults that mapped base pages (the probe saw a second fault), and a skipped cell.
    Json unmapped = cell("thp-shared", "read", 1, {9000});
    unmapped["pmd_mapped"] = false;
    runs[0].data->at("cells").push_back(unmapped);
    runs[1].data->at("cells").push_back(
        {{"layout", "thp-shared"}, {"access", "read"}, {"threads", 1}, {"skip", "THP disabled"}});
    const BenchReport r = build_bench_report(runs, "series-base", "series-head");
    ASSERT_EQ(r.problems.size(), 2U);
    EXPECT_EQ(r.problems[0], "throughput thp-shared read T=1 at series-base round 1: its faults "
                             "did not map PMDs (probe): no huge pages");
    EXPECT_EQ(r.problems[1], "throughput thp-shared read T=1 at series-head round 1: skipped: "
                             "THP disabled");
    // The skipped cell adds no samples: the row has the base only.
    ASSERT_EQ(r.throughput.size(), 3U);
    EXPECT_EQ(r.throughput[2].head.faults_per_sec.n, 0U);
    EXPECT_FALSE(r.throughput[2].ratio);
}

TEST(Bench, JsonCarriesRowsRatiosAndRuns) {
    const auto j = Json::parse(
        bench_report_to_json(build_bench_report(sample_runs(), "series-base", "series-head")));
    EXPECT_EQ(j.at("runs").size(), 6U);
    EXPECT_EQ(j["runs"][0]["kernel"]["spinlock_size"], 4);
    EXPECT_DOUBLE_EQ(j["throughput"][1]["ratio_faults_per_sec"].get<double>(), 1.1);
    EXPECT_EQ(j["throughput"][1]["head"]["faults_per_sec"]["n"], 6);
    EXPECT_DOUBLE_EQ(
        j["contention"][0]["base"]["page_table_lock"]["contentions"]["median"].get<double>(), 42);
    EXPECT_DOUBLE_EQ(j["contention"][0]["ratio_page_table_lock_contentions"].get<double>(), 0);
    EXPECT_EQ(j["split_pmd_ptlock"]["series-head"], "y");
    EXPECT_TRUE(j["problems"].empty());
    // Which flavour each kind of number comes from, and what TCG timing is worth.
    EXPECT_NE(j["notes"]["throughput"].get<std::string>().find("flavour bench"), std::string::npos);
    EXPECT_NE(j["notes"]["contention"].get<std::string>().find("flavour lockstat"),
              std::string::npos);
    EXPECT_NE(j["notes"]["timing"].get<std::string>().find("not a large system"),
              std::string::npos);
}

TEST(Bench, PlotDataAndScript) {
    const BenchReport r = build_bench_report(sample_runs(), "series-base", "series-head");
    const auto blocks = bench_plot_blocks(r);
    ASSERT_EQ(blocks.size(), 2U);
    EXPECT_EQ(std::get<2>(blocks[0]), "series-base");
    const std::string data = bench_plot_data(r);
    EXPECT_NE(data.find("# thp-private write series-base: threads median min max\n"
                        "1 100.000 98.000 102.000\n2 150.000 140.000 160.000\n\n\n"),
              std::string::npos)
        << data;
    const std::string gp = bench_gnuplot_script(r, "/tmp/p.dat", "/tmp/it's.png");
    EXPECT_NE(gp.find("set output '/tmp/it''s.png'"), std::string::npos) << gp;
    EXPECT_NE(gp.find("'/tmp/p.dat' index 0"), std::string::npos) << gp;
    EXPECT_NE(gp.find("'' index 1"), std::string::npos) << gp;
    EXPECT_NE(gp.find("set xtics (1, 2)"), std::string::npos) << gp;
    // Two title lines in one double-quoted string; the flavour and TCG are named.
    EXPECT_NE(gp.find("series-base vs series-head\\nthroughput kernels (flavour bench"),
              std::string::npos)
        << gp;
    EXPECT_NE(gp.find("2 guest CPUs: not a large system\" font"), std::string::npos) << gp;
    EXPECT_NE(gp.find("set title 'thp-private (THP, a PMD table per thread), write; head/base at "
                      "T=2: 1.100'"),
              std::string::npos)
        << gp;
    EXPECT_NE(gp.find("unset multiplot"), std::string::npos) << gp;
}

TEST(Bench, IndexRelativeFoldersAndCli) {
    const auto dir = std::filesystem::temp_directory_path() / "ptlab-bench-index";
    std::filesystem::remove_all(dir);
    const auto runs = sample_runs();
    nlohmann::json index = {{"runs", nlohmann::json::array()}};
    int n = 0;
    for (const auto &r : runs) {
        const auto rd = dir / "runs" / std::to_string(++n);
        std::filesystem::create_directories(rd);
        std::ofstream(rd / "console.log") << "PTLAB-START plans=bench\n    # " << kBenchJsonMarker
                                          << r.data->dump() << "\nPTLAB-END rc=0\n";
        std::ofstream(rd / "result.json") << R"({"outcome":"pass","reason":"","detail":""})";
        BenchRun entry = r;
        entry.dir = "runs/" + std::to_string(n);
        entry.host_load = n == 2 ? std::nullopt : std::optional<double>(n == 3 ? 2.5 : 0.25);
        index["runs"].push_back(bench_index_entry(entry));
    }
    std::ofstream(dir / "runs.json") << index.dump(2);
    const auto loaded = load_bench_runs(index, dir.string());
    ASSERT_EQ(loaded.size(), runs.size());
    EXPECT_EQ(loaded[0].dir, (dir / "runs/1").string());
    EXPECT_EQ(loaded[0].outcome, "pass");
    ASSERT_TRUE(loaded[3].data) << loaded[3].error;
    EXPECT_EQ(loaded[0].host_load, 0.25);
    EXPECT_FALSE(loaded[1].host_load); // not measured
    EXPECT_EQ(loaded[2].host_load, 2.5);

    const std::string idx = (dir / "runs.json").string();
    const std::string json = (dir / "out.json").string();
    const std::string dat = (dir / "plot.dat").string();
    const std::string gp = (dir / "plot.gp").string();
    const std::string png = (dir / "plot.png").string();
    const char *argv[] = {"ptlab",      "bench-report", idx.c_str(), "--json",
                          json.c_str(), "--plot-data",  dat.c_str(), "--gnuplot",
                          gp.c_str(),   "--png",        png.c_str()};
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_cli(11, argv, out, err), 0) << out.str() << err.str();
    EXPECT_TRUE(out.str().ends_with("6 runs, 0 problems\n")) << out.str();
    EXPECT_NE(out.str().find("\nhost load average (1 min) before the boots: 0.25..2.50 "),
              std::string::npos)
        << out.str();
    EXPECT_TRUE(std::filesystem::exists(json));
    EXPECT_TRUE(std::filesystem::exists(gp));

    const char *bad[] = {"ptlab", "bench-report", idx.c_str(), "--gnuplot", gp.c_str()};
    std::ostringstream o2;
    std::ostringstream e2;
    EXPECT_EQ(run_cli(5, bad, o2, e2), 2);
    EXPECT_NE(e2.str().find("--gnuplot needs --plot-data and --png"), std::string::npos);
}

} // namespace
} // namespace ptlab
