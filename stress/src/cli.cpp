#include "cli.hpp"

#include "common.hpp"
#include "workload.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include <CLI/CLI.hpp>
#include <sys/random.h>

namespace ptlab {

namespace {

const char *const kFooter = R"(
Workloads print KTAP on stdout (or one JSON report with --json). Exit status: 0 pass, 1 fail,
2 usage error, 4 skip (the workload cannot run here: no THP, no efivarfs, no /dev/kvm, ...).
A run is reproducible from its seed: every random choice comes from a PRNG seeded with --seed,
per workload and thread; the seed is printed with the command that repeats the run.
Examples:
  ptlab-stress thp --duration 20
  ptlab-stress all --threads 2 --duration 40 --seed 12345
  ptlab-stress kvm --iterations 5 --json
  ptlab-stress hold --thp-mib 64 --small-mib 16
  ptlab-stress bench --thread-counts 1,2 --reps 5 --json-file /tmp/bench.json)";

} // namespace

std::string workload_list() {
    return "thp   THP stress: private and shared anonymous memory with MADV_HUGEPAGE, faults,\n"
           "      partial munmap/mprotect (PMD splits), MADV_DONTNEED, mremap, fork+COW,\n"
           "      MADV_COLLAPSE and khugepaged, concurrent /proc/self/smaps readers;\n"
           "      every page pattern-checked\n"
           "efi   EFI runtime services: /dev/rtc0 reads (rtc-efi) and efivarfs create, read,\n"
           "      rewrite and delete of the tool's own variables (GUID " +
           std::string(kEfiGuid) +
           ")\n"
           "kvm   minimal VMM on /dev/kvm: VMs with THP and 4K memslots, generated AArch64\n"
           "      guest code, dirty logging, memslot delete/move, IPA sizes, teardown leak check\n"
           "all   thp, efi and kvm at the same time\n"
           "boot  KVM at EL2, EFI runtime services, THP; the page-table geometry the kernel\n"
           "      has, as a 'ptlab-fact boot' line for the host to judge\n"
           "audit the lab's module on init_mm, efi_mm, the trampoline and a user mm, and\n"
           "      its life: reload, rmmod under audits, an exiting process, bad input\n"
           "faults thp and kvm with fail_page_alloc and failslab aimed at them; no leak of\n"
           "      page tables or stage-2 tables afterwards\n"
           "selftest-warn, selftest-hang, selftest-panic\n"
           "      the harness's own failure modes: a WARN with all-ok KTAP, a hang, a panic\n"
           "kselftest the kernel's own vm and kvm selftests under /kselftest\n"
           "hold  map a THP and a small-page region, print their ranges, wait (for audits)\n"
           "bench fault throughput of T threads with a PMD table each or one shared (THP), and\n"
           "      at the PTE level; lock contention from /proc/lock_stat when the kernel has it\n";
}

double default_duration(const std::string &command) {
    static const std::pair<const char *, double> table[] = {
        {"thp", 30}, {"efi", 20}, {"kvm", 30}, {"all", 45}, {"faults", 20}};
    for (const auto &[name, seconds] : table) {
        if (command == name) {
            return seconds;
        }
    }
    return 10;
}

namespace {

/// ptlab.seed= and ptlab.stress_seconds= from a kernel command line, for what argv did not
/// set; "" or the reason a value is refused.
std::string apply_knobs(const std::string &path, bool seed_on_argv, Options &o) {
    std::ifstream file(path);
    if (!file) {
        return "cannot read " + path;
    }
    for (std::string word; file >> word;) {
        const std::size_t eq = word.find('=');
        const std::string key = word.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : word.substr(eq + 1);
        try {
            std::size_t used = 0;
            if (key == "ptlab.stress_seconds" && !o.duration && !o.iterations) {
                const double seconds = std::stod(value, &used);
                if (used != value.size() || seconds < 0.1 || seconds > 604800) {
                    throw std::invalid_argument(value);
                }
                o.duration = seconds;
            } else if (key == "ptlab.fault_probability") {
                const unsigned long percent = std::stoul(value, &used);
                if (used != value.size() || percent < 1 || percent > 100) {
                    throw std::invalid_argument(value);
                }
                o.fault_probability = static_cast<unsigned>(percent);
            } else if (key == "ptlab.kselftests" && o.kselftest_only.empty()) {
                std::istringstream names(value);
                for (std::string name; std::getline(names, name, ',');) {
                    o.kselftest_only.push_back(name);
                }
            } else if (key == "ptlab.seed" && !seed_on_argv) {
                o.seed = std::stoull(value, &used, 0);
                if (used != value.size()) {
                    throw std::invalid_argument(value);
                }
                o.seed_given = true;
            }
        } catch (const std::logic_error &) {
            return key + "=" + value + " (in " + path + ") is not a valid value";
        }
    }
    return "";
}

/// The bench's knobs on a kernel command line (ptlab bench passes them, checked on the host)
/// and the option of this tool each one is: the same parser checks them again.
const std::pair<const char *, const char *> kBenchKnobs[] = {
    {"ptlab.bench_threads", "--thread-counts"}, {"ptlab.bench_layouts", "--layouts"},
    {"ptlab.bench_access", "--access"},         {"ptlab.bench_reps", "--reps"},
    {"ptlab.bench_warmup", "--warmup"},         {"ptlab.bench_seconds", "--rep-seconds"},
    {"ptlab.bench_min_faults", "--min-faults"}, {"ptlab.bench_mem_percent", "--mem-percent"},
};

} // namespace

std::vector<std::string> with_bench_knobs(std::vector<std::string> args) {
    const auto has = [&](const std::string &word) {
        return std::find(args.begin(), args.end(), word) != args.end();
    };
    const auto from = std::find(args.begin(), args.end(), "--knobs-from");
    if (!has("bench") || from == args.end() || from + 1 == args.end()) {
        return args;
    }
    std::ifstream file(*(from + 1));
    std::vector<std::string> extra;
    for (std::string word; file >> word;) {
        const std::size_t eq = word.find('=');
        for (const auto &[key, option] : kBenchKnobs) {
            if (eq != std::string::npos && word.substr(0, eq) == key && !has(option)) {
                extra.emplace_back(option);
                extra.push_back(word.substr(eq + 1));
            }
        }
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::uint64_t random_seed() {
    std::uint64_t s = 0;
    if (::getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
        std::random_device rd;
        s = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }
    return s;
}

std::string Options::reproduce_command() const {
    std::ostringstream o;
    if (command == "bench") {
        o << "ptlab-stress bench";
        if (mem_percent != 0) {
            o << " --mem-percent " << mem_percent;
        }
        o << " --reps " << bench.reps << " --warmup " << bench.warmup << " --rep-seconds "
          << bench.rep_seconds << " --min-faults " << bench.min_faults << " --lock-stat "
          << bench.lock_stat;
        auto list = [&](const char *opt, const auto &v) {
            if (v.empty()) {
                return;
            }
            o << ' ' << opt << ' ';
            for (std::size_t i = 0; i < v.size(); ++i) {
                o << (i == 0 ? "" : ",") << v[i];
            }
        };
        list("--thread-counts", bench.thread_counts);
        list("--layouts", bench.layouts);
        list("--access", bench.access);
        return o.str();
    }
    o << "ptlab-stress " << command << " --seed " << seed << " --threads " << threads;
    if (iterations) {
        o << " --iterations " << *iterations;
    } else {
        o << " --duration " << effective_duration();
    }
    if (mem_percent != 0) {
        o << " --mem-percent " << mem_percent;
    }
    if (!ipa_bits.empty()) {
        o << " --ipa-bits ";
        for (std::size_t i = 0; i < ipa_bits.size(); ++i) {
            o << (i == 0 ? "" : ",") << ipa_bits[i];
        }
    }
    return o.str();
}

namespace {

/// The options every workload shares; returns --seed, whose presence matters.
CLI::Option *add_common_options(CLI::App &app, Options &o) {
    app.add_option("--threads", o.threads, "worker threads per workload (default 2)")
        ->check(CLI::Range(1, 64));
    auto *duration = app.add_option("--duration", o.duration,
                                    "run for SECONDS (default: thp 30, efi 20, kvm 30, all 45)")
                         ->type_name("SECONDS")
                         ->check(CLI::Range(0.1, 604800.0));
    auto *iterations =
        app.add_option("--iterations", o.iterations,
                       "run N operations per worker thread instead (kvm: N VMs per thread)")
            ->type_name("N")
            ->check(CLI::Range(static_cast<std::uint64_t>(1), static_cast<std::uint64_t>(1) << 40));
    duration->excludes(iterations);
    iterations->excludes(duration);
    auto *seed = app.add_option("--seed", o.seed, "seed of every random choice (default: random)")
                     ->type_name("N");
    app.add_flag("--make-it-fail", o.make_it_fail,
                 "once started, set make-it-fail on this task (inherited by its threads and "
                 "children), so injected faults hit the workloads, not exec or start-up");
    app.add_flag("--json", o.json, "print one JSON report on stdout instead of KTAP");
    app.add_flag("--list", o.list, "list the workloads and exit");
    app.add_option("--knobs-from", o.knobs_from,
                   "read ptlab.seed=N and ptlab.stress_seconds=N from this kernel command line "
                   "(/proc/cmdline in the guest) where the options above are not given")
        ->type_name("PATH");
    app.add_option("--mem-percent", o.mem_percent,
                   "share of MemAvailable the memory workloads may use (default: automatic)")
        ->type_name("PERCENT")
        ->check(CLI::Range(1, 90));
    app.add_option("--ipa-bits", o.ipa_bits,
                   "kvm: IPA sizes to test, e.g. 32,40,52 (default: 32,36,40,44,48 as far as "
                   "KVM_CAP_ARM_VM_IPA_SIZE allows)")
        ->type_name("BITS,...")
        ->delimiter(',')
        ->check(CLI::Range(32, 52));
    return seed;
}

void add_workload_commands(CLI::App &app) {
    const char *const names[][2] = {
        {"thp", "transparent huge page stress with pattern-checked memory"},
        {"efi", "EFI runtime services: rtc-efi reads and efivarfs variables"},
        {"kvm", "minimal VMM: VMs, memslots, guest programs, dirty logging, IPA sizes"},
        {"all", "thp, efi and kvm concurrently"},
        {"boot", "the boot self-test: KVM at EL2, EFI runtime, THP; the geometry as facts"},
        {"audit", "the page-table audit with the lab's module (ptlab_audit.ko)"},
        {"faults", "thp and kvm under fail_page_alloc and failslab; page tables back after"},
        {"selftest-warn", "the harness's own test: a WARN_ON (LKDTM) while KTAP says ok"},
        {"selftest-hang", "the harness's own test: a guest that hangs"},
        {"selftest-panic", "the harness's own test: a kernel panic (sysrq)"},
    };
    for (const auto &n : names) {
        app.add_subcommand(n[0], n[1])->fallthrough();
    }
}

void add_kselftest_command(CLI::App &app, Options &o) {
    auto *k = app.add_subcommand("kselftest", "the upstream selftests under /kselftest (vm, kvm), "
                                              "each under its timeout, output nested");
    k->fallthrough();
    k->add_option("--suite", o.kselftest_suite, "vm, kvm or all (default all)")
        ->check(CLI::IsMember({"vm", "kvm", "all"}));
    k->add_option("--only", o.kselftest_only,
                  "only these tests, by their table name (ptlab.kselftests=a,b on the kernel "
                  "command line)")
        ->delimiter(',');
}

void add_hold_command(CLI::App &app, Options &o) {
    auto *hold = app.add_subcommand(
        "hold",
        "map a THP region and a small-page region, print 'ready pid=... thp=start-end "
        "small=start-end high=start-end anon_huge_kb=N', wait for SIGTERM/SIGINT or EOF on stdin");
    hold->fallthrough();
    hold->add_option("--thp-mib", o.thp_mib, "size of the MADV_HUGEPAGE region in MiB")
        ->required()
        ->check(CLI::Range(static_cast<std::uint64_t>(0), static_cast<std::uint64_t>(1) << 20));
    hold->add_option("--small-mib", o.small_mib, "size of the MADV_NOHUGEPAGE region in MiB")
        ->required()
        ->check(CLI::Range(static_cast<std::uint64_t>(0), static_cast<std::uint64_t>(1) << 20));
    hold->add_option("--high-mib", o.high_mib,
                     "size of a MADV_NOHUGEPAGE region above 2^48 in MiB (52-bit VA only)")
        ->check(CLI::Range(static_cast<std::uint64_t>(0), static_cast<std::uint64_t>(1) << 20));
}

void add_bench_command(CLI::App &app, BenchOptions &b) {
    auto *bench = app.add_subcommand(
        "bench", "fault throughput per thread count: THP faults with a PMD table per thread "
                 "(thp-private) or one for all (thp-shared), and PTE-level faults; KTAP, JSON");
    bench->fallthrough();
    bench
        ->add_option("--thread-counts", b.thread_counts,
                     "thread counts to measure (default: 1, 2, 4, ... up to the online CPUs)")
        ->type_name("N,...")
        ->delimiter(',')
        ->check(CLI::Range(1, 64));
    bench
        ->add_option("--layouts", b.layouts,
                     "layouts (default: all): thp-private, thp-shared, pte-private, pte-shared")
        ->type_name("NAME,...")
        ->delimiter(',')
        ->check(CLI::IsMember({"thp-private", "thp-shared", "pte-private", "pte-shared"}));
    bench
        ->add_option("--access", b.access,
                     "how pages are faulted (default write; read maps the (huge) zero page)")
        ->type_name("write|read,...")
        ->delimiter(',')
        ->check(CLI::IsMember({"write", "read"}));
    bench->add_option("--reps", b.reps, "measured repetitions per cell (default 5)")
        ->check(CLI::Range(1, 1000));
    bench->add_option("--warmup", b.warmup, "repetitions run first and discarded (default 1)")
        ->check(CLI::Range(0, 100));
    bench->add_option("--rep-seconds", b.rep_seconds, "length of a repetition (default 1)")
        ->type_name("SECONDS")
        ->check(CLI::Range(0.01, 3600.0));
    bench
        ->add_option("--min-faults", b.min_faults,
                     "a repetition goes on until every thread faulted this often (default 2)")
        ->check(CLI::Range(1, 1000000));
    bench
        ->add_option("--lock-stat", b.lock_stat,
                     "read /proc/lock_stat around each repetition: auto (default), on, off")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    bench->add_option("--json-file", b.json_file, "also write the JSON report to PATH")
        ->type_name("PATH");
    bench->add_flag("--json-line", b.json_line,
                    "after the KTAP, the JSON report on one line '# PTLAB-BENCH-JSON {...}', "
                    "with the kernel's timing options and its page-table lock_stat rows");
}

/// After a successful parse: the subcommand, the knobs of the kernel command line, the seed.
/// An exit code when the tool stops here.
std::optional<int> finish_options(const CLI::App &app, bool seed_given, Options &o,
                                  std::ostream &out, std::ostream &err) {
    if (o.list) {
        out << workload_list();
        return kExitPass;
    }
    for (const auto *sub : app.get_subcommands()) {
        o.command = sub->get_name();
    }
    if (o.command.empty()) {
        err << "ptlab-stress: error: a subcommand is required ('ptlab-stress --list' lists them)\n"
            << "Run 'ptlab-stress --help' for usage.\n";
        return kExitUsage;
    }
    if (o.command == "hold" && o.thp_mib == 0 && o.small_mib == 0) {
        err << "ptlab-stress: error: hold: --thp-mib and --small-mib are both 0\n";
        return kExitUsage;
    }
    o.seed_given = seed_given;
    if (!o.knobs_from.empty()) {
        if (const std::string problem = apply_knobs(o.knobs_from, o.seed_given, o);
            !problem.empty()) {
            err << "ptlab-stress: error: " << problem << "\n";
            return kExitUsage;
        }
    }
    if (!o.seed_given) {
        o.seed = random_seed();
    }
    return std::nullopt;
}

} // namespace

CliOutcome parse_cli(int argc, const char *const *argv, std::ostream &out, std::ostream &err) {
    CliOutcome res;
    Options &o = res.options;
    CLI::App app("ptlab-stress: page-table stress for the arm64 split PMD lock lab",
                 "ptlab-stress");
    app.footer(kFooter);
    app.fallthrough();
    CLI::Option *seed = add_common_options(app, o);
    add_workload_commands(app);
    add_hold_command(app, o);
    add_kselftest_command(app, o);
    add_bench_command(app, o.bench);
    app.require_subcommand(0, 1);
    // CLI11 takes the words last first.
    std::vector<std::string> words(argv + 1, argv + argc);
    words = with_bench_knobs(std::move(words));
    std::reverse(words.begin(), words.end());
    try {
        app.parse(words);
    } catch (const CLI::CallForHelp &e) {
        res.exit_code = app.exit(e, out, err) == 0 ? kExitPass : kExitUsage;
        return res;
    } catch (const CLI::CallForAllHelp &e) {
        res.exit_code = app.exit(e, out, err) == 0 ? kExitPass : kExitUsage;
        return res;
    } catch (const CLI::ParseError &e) {
        err << "ptlab-stress: error: " << e.what() << "\n"
            << "Run 'ptlab-stress --help' for usage.\n";
        res.exit_code = kExitUsage;
        return res;
    }
    if (const auto stop = finish_options(app, seed->count() > 0, o, out, err)) {
        res.exit_code = *stop;
    }
    return res;
}

CliOutcome parse_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err) {
    std::vector<const char *> argv;
    argv.reserve(args.size() + 1);
    argv.push_back("ptlab-stress");
    for (const auto &a : args) {
        argv.push_back(a.c_str());
    }
    return parse_cli(static_cast<int>(argv.size()), argv.data(), out, err);
}

} // namespace ptlab
