#include "ptlab/request.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/run.hpp"
#include "ptlab/splat.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <iomanip>
#include <ostream>

namespace ptlab {

namespace {

bool contains(const std::vector<std::string> &names, const std::string &name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

} // namespace

Getenv process_env() {
    return [](const std::string &name) -> std::optional<std::string> {
        const char *value = std::getenv(name.c_str());
        return value == nullptr ? std::nullopt : std::optional<std::string>(value);
    };
}

const std::vector<Knob> &knobs() {
    static const std::vector<Knob> table = {
        {"CONFIG", "4k-48", "geometry: configs/geometry/<CONFIG>.config"},
        {"STEP", "series-head", "any revision of build/linux"},
        {"FLAVOUR", "debug", "configs/flavour/<FLAVOUR>.config"},
        {"PLANS", "boot", "plans to run in one boot (rootfs/plans/<plan>.plan)"},
        {"TIMEOUT", "900", "seconds before a guest is killed"},
        {"SMP", "", "guest CPUs (default: the machine's)"},
        {"MEM", "", "guest MiB (default: the machine's for the page size)"},
        {"ALLOW", "", "splat kinds that are informational only"},
        {"KSELFTESTS", "", "kselftest plans: only these tests (configs/kselftests.json names)"},
        {"PTLAB_ARGS", "", "more kernel parameters for the plans (ptlab.stress_seconds=5)"},
        {"EXEC", "", "a shell command run in the guest after the plans (PLANS= : alone)"},
        {"SHARE", "", "a host folder mounted read-write at /share in the guest (9p)"},
        {"SHARE_RO", "0", "1: SHARE is mounted read-only"},
        {"V", "0", "1: builds and the console live"},
        {"PREBUILT", "0", "1: boot the kernel as built, build nothing"},
        {"PTLAB_MACHINE", "", "another machine description than configs/machine/arm64.json"},
        {"ENGINE", "local", "local (QEMU here) or lava (jobs on a LAVA instance: make lava-up)"},
        {"LAVA_URL", "", "ENGINE=lava: a remote instance, https://lava.example.org/"},
        {"LAVA_USER", "", "ENGINE=lava: the owner of LAVA_TOKEN"},
        {"LAVA_TOKEN", "", "ENGINE=lava: an API token of LAVA_USER on LAVA_URL"},
        {"LAVA_DEVICE_TYPE", "qemu", "ENGINE=lava: the device type the jobs ask for"},
        {"LAVA_ARTIFACTS_URL", "", "ENGINE=lava: the URL build/lava/artifacts is served at"},
        {"GOOD", "", "make bisect: the good revision (series-base with SERIES)"},
        {"BAD", "", "make bisect: the bad revision (SERIES's last patch with SERIES)"},
        {"SERIES", "", "make bisect: patches on series-base: a folder, an mbox or a thread (b4)"},
        {"BISECT_REPEAT", "2", "make bisect: runs a failing step must fail, for the same reason"},
        {"CONFIGS", "", "make matrix, make mutants: only these configs (default: all)"},
        {"MATRIX_PLANS", "boot audit thp efi kvm", "make matrix: the plans of each cell"},
        {"MATRIX_STEPS", "", "make matrix: only these steps (series-head, a commit; default: all)"},
        {"MATRIX_STRESS_SECONDS", "10", "make matrix: seconds per stress workload per cell"},
        {"MUTANTS", "", "make mutants: only these (tests/mutants/catalogue.json names)"},
        {"BASE", "series-base", "make bench: the baseline step"},
        {"HEAD", "series-head", "make bench: the step compared with it"},
        {"ROUNDS", "3", "make bench: throughput boots per step (bench flavour)"},
        {"LOCKSTAT_ROUNDS", "1", "make bench: contention boots per step (lockstat; 0: none)"},
        {"BENCH_REPS", "5", "make bench: repetitions per cell (1..1000)"},
        {"BENCH_WARMUP", "1", "make bench: warm-up repetitions per cell (0..100)"},
        {"BENCH_SECONDS", "", "make bench: seconds per repetition (3 with 512 MiB THPs, else 1)"},
        {"BENCH_THREADS", "", "make bench: thread counts, 1,2 (default: 1 up to SMP)"},
        {"BENCH_LAYOUTS", "", "make bench: thp-private,thp-shared,pte-private,pte-shared"},
        {"BENCH_ACCESS", "write,read", "make bench: write, read or both"},
        {"A", "", "make compare: the earlier results folder (default: the last run but one)"},
        {"B", "", "make compare: the later results folder (default: the last run)"},
    };
    return table;
}

void print_knobs(std::ostream &out) {
    for (const auto &knob : knobs()) {
        out << "  " << std::left << std::setw(21) << knob.name << ' ' << std::setw(22)
            << (*knob.fallback == '\0' ? "-" : knob.fallback) << ' ' << knob.help << '\n';
    }
}

std::string knob_value(const Getenv &env, const std::string &name) {
    if (const auto value = env(name); value && !value->empty()) {
        return *value;
    }
    for (const auto &knob : knobs()) {
        if (name == knob.name) {
            return knob.fallback;
        }
    }
    return "";
}

int parse_count(const std::string &name, const std::string &text, int min, int max) {
    int value = 0;
    const char *end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    const bool leading_zero = text.size() > 1 && text[0] == '0';
    if (text.empty() || ptr != end || ec != std::errc() || leading_zero || text[0] == '-' ||
        text[0] == '+') {
        throw KnobError(name + " must be a whole number, not '" + text + "'");
    }
    if (value < min) {
        throw KnobError(name + " must be at least " + std::to_string(min) + ", not " + text);
    }
    if (value > max) {
        throw KnobError(name + " must be at most " + std::to_string(max) + ", not " + text);
    }
    return value;
}

std::vector<std::string> split_words(const std::string &text) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : text + " ") {
        if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
            if (!word.empty()) {
                words.push_back(word);
            }
            word.clear();
        } else {
            word += c;
        }
    }
    return words;
}

void check_config_name(const std::string &config, const Layout &layout) {
    if (!contains(layout.config_names(), config)) {
        throw KnobError("unknown CONFIG '" + config +
                        "'; valid names: " + join_words(layout.config_names(), " "));
    }
}

void check_flavour_name(const std::string &flavour, const Layout &layout) {
    if (!contains(layout.flavour_names(), flavour)) {
        throw KnobError("unknown FLAVOUR '" + flavour +
                        "'; valid names: " + join_words(layout.flavour_names(), " "));
    }
}

void check_plan_names(const std::vector<std::string> &plans, const Layout &layout) {
    if (plans.empty()) {
        throw KnobError("PLANS is empty; valid plans: " + join_words(layout.plan_names(), " "));
    }
    for (const auto &plan : plans) {
        if (!contains(layout.plan_names(), plan)) {
            throw KnobError("unknown plan '" + plan +
                            "'; valid plans: " + join_words(layout.plan_names(), " "));
        }
    }
}

void check_kselftest_names(const std::vector<std::string> &names, const Layout &layout) {
    if (names.empty()) {
        return;
    }
    std::vector<std::string> valid;
    const auto table = nlohmann::json::parse(read_text_file(layout.kselftest_table()));
    for (const auto &row : table.at("tests")) {
        valid.push_back(row.at("name").get<std::string>());
    }
    for (const auto &name : names) {
        if (!contains(valid, name)) {
            throw KnobError("KSELFTESTS: unknown selftest '" + name +
                            "'; valid: " + join_words(valid, " "));
        }
    }
}

namespace {

/// SHARE must be a folder (QEMU's 9p takes an absolute path); SHARE_RO 0 or 1.
void read_share(const Getenv &env, Request &r) {
    const std::string read_only = knob_value(env, "SHARE_RO");
    if (read_only != "0" && read_only != "1") {
        throw KnobError("SHARE_RO must be 0 or 1, not '" + read_only + "'");
    }
    r.share_read_only = read_only == "1";
    const std::string share = knob_value(env, "SHARE");
    if (share.empty()) {
        return;
    }
    if (!fs::is_directory(share)) {
        throw KnobError("SHARE: " + share + " is not a folder");
    }
    r.share = fs::canonical(share).string();
}

/// ENGINE and the LAVA instance: a remote one needs its URL, token and artifact URL together.
void read_engine(const Getenv &env, Request &r) {
    r.engine = knob_value(env, "ENGINE");
    if (r.engine != engine_local && r.engine != engine_lava) {
        throw KnobError("ENGINE must be local or lava, not '" + r.engine + "'");
    }
    r.lava = {knob_value(env, "LAVA_URL"), knob_value(env, "LAVA_USER"),
              knob_value(env, "LAVA_TOKEN"), knob_value(env, "LAVA_DEVICE_TYPE"),
              knob_value(env, "LAVA_ARTIFACTS_URL")};
    if (r.engine != engine_lava) {
        return;
    }
    if (!r.share.empty()) {
        throw KnobError("SHARE is a folder of this machine: ENGINE=lava cannot mount it");
    }
    if (!r.lava.url.empty() &&
        (r.lava.user.empty() || r.lava.token.empty() || r.lava.artifacts_url.empty())) {
        throw KnobError("LAVA_URL needs LAVA_USER, LAVA_TOKEN and LAVA_ARTIFACTS_URL (where "
                        "the workers download build/lava/artifacts from)");
    }
}

} // namespace

Request request_from(const Getenv &env, const Layout &layout) {
    Request r;
    r.config = knob_value(env, "CONFIG");
    check_config_name(r.config, layout);
    r.flavour = knob_value(env, "FLAVOUR");
    check_flavour_name(r.flavour, layout);
    r.step = knob_value(env, "STEP");
    r.plans = split_words(knob_value(env, "PLANS"));
    r.exec = knob_value(env, "EXEC");
    if (!r.exec.empty()) {
        // PLANS= given empty: the command alone.
        if (const auto given = env("PLANS"); given && given->empty()) {
            r.plans.clear();
        }
        if (!contains(r.plans, exec_plan)) {
            r.plans.emplace_back(exec_plan);
        }
    }
    check_plan_names(r.plans, layout);
    r.timeout_seconds = parse_count("TIMEOUT", knob_value(env, "TIMEOUT"), 1, 7 * 86400);
    if (const std::string smp = knob_value(env, "SMP"); !smp.empty()) {
        r.smp = parse_count("SMP", smp, 1, 64);
    }
    if (const std::string mem = knob_value(env, "MEM"); !mem.empty()) {
        r.memory_mib = parse_count("MEM", mem, 256, 65536);
    }
    r.allow = split_words(knob_value(env, "ALLOW"));
    for (const auto &kind : r.allow) {
        if (!contains(splat_kinds(), kind)) {
            throw KnobError("ALLOW: unknown splat kind '" + kind +
                            "'; valid: " + join_words(splat_kinds(), " "));
        }
    }
    r.kselftests = split_words(knob_value(env, "KSELFTESTS"));
    check_kselftest_names(r.kselftests, layout);
    r.extra_args = knob_value(env, "PTLAB_ARGS");
    r.machine = knob_value(env, "PTLAB_MACHINE");
    r.verbose = knob_value(env, "V") == "1";
    r.prebuilt = knob_value(env, "PREBUILT") == "1";
    read_share(env, r);
    read_engine(env, r);
    return r;
}

std::map<std::string, std::string> request_env(const Request &r) {
    return {{"CONFIG", r.config},
            {"FLAVOUR", r.flavour},
            {"PLANS", join_words(r.plans, " ")},
            {"TIMEOUT", std::to_string(r.timeout_seconds)},
            {"SMP", r.smp == 0 ? "" : std::to_string(r.smp)},
            {"MEM", r.memory_mib == 0 ? "" : std::to_string(r.memory_mib)},
            {"ALLOW", join_words(r.allow, " ")},
            {"KSELFTESTS", join_words(r.kselftests, ",")},
            {"PTLAB_ARGS", r.extra_args},
            {"PTLAB_MACHINE", r.machine},
            {"V", r.verbose ? "1" : "0"},
            {"PREBUILT", r.prebuilt ? "1" : "0"},
            {"EXEC", r.exec},
            {"SHARE", r.share},
            {"SHARE_RO", r.share_read_only ? "1" : "0"},
            {"ENGINE", r.engine},
            {"LAVA_URL", r.lava.url},
            {"LAVA_USER", r.lava.user},
            {"LAVA_TOKEN", r.lava.token},
            {"LAVA_DEVICE_TYPE", r.lava.device_type},
            {"LAVA_ARTIFACTS_URL", r.lava.artifacts_url}};
}

} // namespace ptlab
