#include "ptlab/bench.hpp"

#include "ptlab/kconfig.hpp"
#include "ptlab/lines.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <set>
#include <sstream>
#include <tuple>

namespace ptlab {

namespace {

using Json = nlohmann::json;

std::string fmt(const char *format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// Faults per second: 3 significant digits at least, no noise beyond.
std::string fmt_rate(double v) {
    if (v >= 100) {
        return fmt("%.0f", v);
    }
    if (v >= 10) {
        return fmt("%.1f", v);
    }
    return fmt("%.2f", v);
}

// A median of counts is an integer or a half.
std::string fmt_count(double v) { return v == std::floor(v) ? fmt("%.0f", v) : fmt("%.1f", v); }

std::string fmt_ratio(const std::optional<double> &r) { return r ? fmt("%.3f", *r) : "-"; }

double num(const Json &j, const char *key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

double lock_value(const Json &rep, const char *family, const char *key) {
    const auto ls = rep.find("lock_stat");
    if (ls == rep.end() || !ls->contains(family)) {
        return 0;
    }
    return num((*ls)[family], key);
}

Json stats_json(const BenchStats &s) {
    return {{"n", s.n}, {"median", s.median}, {"min", s.min}, {"max", s.max}};
}

using Key = std::tuple<std::string, std::string, unsigned>; // layout, access, threads

// Samples of one step and one row, before statistics.
struct Samples {
    std::vector<double> rate;
    std::vector<double> round_medians;
    std::vector<double> ptl_con, ptl_acq, ptl_wait;
    std::vector<double> ptlock_con, ptlock_acq, ptlock_wait;
    std::vector<double> faults;
    double thp_alloc = 0;
    double thp_faults = 0;
    bool thp_measured = false;
};

BenchSide side_of(const Samples &s) {
    BenchSide b;
    b.faults_per_sec = bench_stats(s.rate);
    b.round_medians = s.round_medians;
    b.ptl_contentions = bench_stats(s.ptl_con);
    b.ptl_acquisitions = bench_stats(s.ptl_acq);
    b.ptl_wait_us = bench_stats(s.ptl_wait);
    b.ptlock_contentions = bench_stats(s.ptlock_con);
    b.ptlock_acquisitions = bench_stats(s.ptlock_acq);
    b.ptlock_wait_us = bench_stats(s.ptlock_wait);
    b.faults = bench_stats(s.faults);
    if (s.thp_measured && s.thp_faults > 0) {
        b.thp_share = s.thp_alloc / s.thp_faults;
    }
    return b;
}

std::optional<double> ratio_of(const BenchStats &head, const BenchStats &base) {
    if (head.n == 0 || base.n == 0 || base.median == 0) {
        return std::nullopt;
    }
    return head.median / base.median;
}

// Rows of one role, in the order the cells first appear.
std::vector<BenchRow> rows_for(const std::vector<BenchRun> &runs, const std::string &role,
                               const std::string &base, const std::string &head,
                               std::vector<std::string> &problems) {
    std::vector<Key> order;
    std::map<Key, std::map<std::string, Samples>> by_key;
    for (const auto &run : runs) {
        if (run.role != role || !run.data || (run.step != base && run.step != head)) {
            continue;
        }
        const auto cells = run.data->find("cells");
        if (cells == run.data->end() || !cells->is_array()) {
            continue;
        }
        for (const auto &c : *cells) {
            const Key key{c.value("layout", ""), c.value("access", ""), c.value("threads", 0U)};
            const std::string cell_label = role + " " + std::get<0>(key) + " " + std::get<1>(key) +
                                           " T=" + std::to_string(std::get<2>(key)) + " at " +
                                           run.step + " round " + std::to_string(run.round);
            if (c.contains("skip")) {
                problems.push_back(cell_label + ": skipped: " + c.value("skip", ""));
                continue;
            }
            if (c.value("pmd_mapped", true) == false) {
                problems.push_back(cell_label +
                                   ": its faults did not map PMDs (probe): no huge pages");
            }
            if (by_key.find(key) == by_key.end()) {
                order.push_back(key);
            }
            Samples &s = by_key[key][run.step];
            std::vector<double> rates;
            for (const auto &rep : c.value("reps", Json::array())) {
                const double rate = num(rep, "faults_per_sec");
                rates.push_back(rate);
                s.rate.push_back(rate);
                s.faults.push_back(num(rep, "faults"));
                s.ptl_con.push_back(lock_value(rep, "page_table_lock", "contentions"));
                s.ptl_acq.push_back(lock_value(rep, "page_table_lock", "acquisitions"));
                s.ptl_wait.push_back(lock_value(rep, "page_table_lock", "waittime_total_us"));
                s.ptlock_con.push_back(lock_value(rep, "ptlock", "contentions"));
                s.ptlock_acq.push_back(lock_value(rep, "ptlock", "acquisitions"));
                s.ptlock_wait.push_back(lock_value(rep, "ptlock", "waittime_total_us"));
                if (std::get<0>(key).starts_with("thp") && std::get<1>(key) == "write") {
                    s.thp_measured = true;
                    s.thp_faults += num(rep, "faults");
                    if (rep.contains("vmstat")) {
                        s.thp_alloc += num(rep["vmstat"], "thp_fault_alloc");
                    }
                }
            }
            if (!rates.empty()) {
                s.round_medians.push_back(bench_stats(rates).median);
            }
        }
    }
    std::vector<BenchRow> rows;
    for (const auto &key : order) {
        BenchRow row;
        std::tie(row.layout, row.access, row.threads) = key;
        const auto &steps = by_key[key];
        if (const auto it = steps.find(base); it != steps.end()) {
            row.base = side_of(it->second);
        }
        if (const auto it = steps.find(head); it != steps.end()) {
            row.head = side_of(it->second);
        }
        row.ratio = ratio_of(row.head.faults_per_sec, row.base.faults_per_sec);
        if (role == "contention") {
            row.ptl_ratio = ratio_of(row.head.ptl_contentions, row.base.ptl_contentions);
        }
        for (const auto &[step, side] : {std::pair{base, &row.base}, std::pair{head, &row.head}}) {
            if (side->thp_share >= 0 && side->thp_share < 0.9) {
                std::string p = role;
                p += " " + row.layout + " " + row.access + " T=" + std::to_string(row.threads);
                p += " at " + step + ": only " + fmt("%.0f", 100 * side->thp_share);
                p += "% of the faults got a PMD huge page";
                problems.push_back(std::move(p));
            }
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// Columns padded to their widest cell; the first `left` columns left-aligned.
void print_table(std::ostream &out, const std::vector<std::vector<std::string>> &rows,
                 std::size_t left) {
    std::vector<std::size_t> width;
    for (const auto &r : rows) {
        width.resize(std::max(width.size(), r.size()));
        for (std::size_t i = 0; i < r.size(); ++i) {
            width[i] = std::max(width[i], r[i].size());
        }
    }
    for (const auto &r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            const std::string pad(width[i] - r[i].size(), ' ');
            line += i == 0 ? "" : "  ";
            line += i < left ? r[i] + pad : pad + r[i];
        }
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
        out << line << '\n';
    }
}

std::string range_of(const BenchStats &s) {
    return s.n == 0 ? "-" : "[" + fmt_rate(s.min) + ".." + fmt_rate(s.max) + "]";
}

Json side_json(const BenchSide &s, bool contention) {
    Json j{{"faults_per_sec", stats_json(s.faults_per_sec)}, {"round_medians", s.round_medians}};
    if (s.thp_share >= 0) {
        j["thp_share"] = s.thp_share;
    }
    if (contention) {
        j["faults_per_rep"] = stats_json(s.faults);
        j["page_table_lock"] = {{"contentions", stats_json(s.ptl_contentions)},
                                {"acquisitions", stats_json(s.ptl_acquisitions)},
                                {"waittime_total_us", stats_json(s.ptl_wait_us)}};
        j["ptlock"] = {{"contentions", stats_json(s.ptlock_contentions)},
                       {"acquisitions", stats_json(s.ptlock_acquisitions)},
                       {"waittime_total_us", stats_json(s.ptlock_wait_us)}};
    }
    return j;
}

Json opt_json(const std::optional<double> &v) { return v ? Json(*v) : Json(nullptr); }

std::string gnuplot_quote(const std::string &s) {
    std::string out = "'";
    for (const char c : s) {
        out += c == '\'' ? std::string("''") : std::string(1, c);
    }
    return out + "'";
}

// A double-quoted gnuplot string: newlines become "\n" (gnuplot's escapes work in these).
std::string gnuplot_dquote(const std::string &s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
    }
    return out + "\"";
}

std::string layout_description(const std::string &layout) {
    if (layout == "thp-private") {
        return "THP, a PMD table per thread";
    }
    if (layout == "thp-shared") {
        return "THP, one PMD table for all";
    }
    if (layout == "pte-private") {
        return "base pages, tables per thread";
    }
    if (layout == "pte-shared") {
        return "base pages, shared PTE tables";
    }
    return layout;
}

std::string flavour_of(const BenchReport &r, const char *role) {
    const auto it = r.flavours.find(role);
    return it != r.flavours.end() ? it->second : "?";
}

} // namespace

std::string bench_tcg_note(const BenchReport &r) {
    return "QEMU TCG emulates every guest instruction, with " + std::to_string(r.cpus) +
           " guest CPUs on as many host threads: this is not a large system, and faults/s "
           "measure TCG's costs as much as the kernel's; the lock_stat contention counts carry "
           "the series' claim better than the throughput does";
}

std::optional<nlohmann::json> extract_bench_json(const std::vector<std::string> &console_lines,
                                                 std::string *error) {
    std::optional<nlohmann::json> found;
    std::string err = "no '" + std::string(kBenchJsonMarker) + "' line in the console log";
    for (const auto &line : console_lines) {
        const auto at = line.find(kBenchJsonMarker);
        if (at == std::string::npos) {
            continue;
        }
        const std::string text(
            trim(std::string_view(line).substr(at + std::string_view(kBenchJsonMarker).size())));
        try {
            found = nlohmann::json::parse(text);
            err.clear();
        } catch (const nlohmann::json::exception &e) {
            err = std::string("bench JSON does not parse: ") + e.what();
            found.reset();
        }
    }
    if (error != nullptr) {
        *error = found ? std::string() : err;
    }
    return found;
}

BenchStats bench_stats(std::vector<double> samples) {
    BenchStats s;
    s.n = samples.size();
    if (samples.empty()) {
        return s;
    }
    std::sort(samples.begin(), samples.end());
    s.min = samples.front();
    s.max = samples.back();
    const std::size_t mid = samples.size() / 2;
    s.median = samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
    return s;
}

const std::vector<std::string> &bench_kernel_options() {
    static const std::vector<std::string> opts = {
        "LOCK_STAT",        "PROVE_LOCKING",    "DEBUG_VM",       "DEBUG_SPINLOCK",
        "DEBUG_LOCK_ALLOC", "PAGE_TABLE_CHECK", "DEBUG_KMEMLEAK", "ARCH_ENABLE_SPLIT_PMD_PTLOCK"};
    return opts;
}

std::optional<bool> KernelFacts::alloc_split_ptlocks() const {
    if (spinlock_size < 0) {
        return std::nullopt;
    }
    return spinlock_size > 8; // SPINLOCK_SIZE > BITS_PER_LONG / 8 on arm64
}

std::string KernelFacts::describe() const {
    std::string s;
    for (const auto &o : bench_kernel_options()) {
        if (o == "ARCH_ENABLE_SPLIT_PMD_PTLOCK") {
            continue; // the difference between the steps, reported apart
        }
        const auto it = options.find(o);
        if (it != options.end()) {
            s += (s.empty() ? "" : " ") + o + "=" + it->second;
        }
    }
    if (s.empty()) {
        s = "no .config";
    }
    if (const auto split = alloc_split_ptlocks()) {
        s += "; spinlock_t " + std::to_string(spinlock_size) + " bytes: " +
             (*split ? "ALLOC_SPLIT_PTLOCKS, page->ptl kmalloc'ed by each page-table ctor"
                     : "page->ptl embedded in struct page");
    }
    return s;
}

KernelFacts read_kernel_facts(const std::string &kernel_out) {
    KernelFacts k;
    if (kernel_out.empty()) {
        return k;
    }
    const std::filesystem::path out(kernel_out);
    if (std::filesystem::exists(out / ".config")) {
        const DotConfig c = parse_dotconfig(read_lines(out / ".config"));
        for (const auto &o : bench_kernel_options()) {
            k.options[o] = config_get(c, o);
        }
    }
    const auto bounds = out / "include/generated/bounds.h";
    if (std::filesystem::exists(bounds)) {
        for (const auto &line : read_lines(bounds)) {
            int v = 0;
            if (std::sscanf(line.c_str(), "#define SPINLOCK_SIZE %d", &v) == 1) {
                k.spinlock_size = v;
            }
        }
    }
    return k;
}

void read_bench_run(BenchRun &r) {
    const std::filesystem::path dir(r.dir);
    r.outcome = "missing";
    if (std::filesystem::exists(dir / "result.json")) {
        try {
            const auto j = nlohmann::json::parse(read_text_file(dir / "result.json"));
            r.outcome = j.value("outcome", "missing");
            const std::string reason = j.value("reason", "");
            const std::string detail = j.value("detail", "");
            r.reason = reason;
            if (!detail.empty()) {
                r.reason += ": " + detail;
            }
        } catch (const std::exception &e) {
            r.reason = std::string("result.json: ") + e.what();
        }
    }
    if (std::filesystem::exists(dir / "console.log")) {
        r.data = extract_bench_json(read_lines(dir / "console.log"), &r.error);
    } else {
        r.error = "no console.log in " + r.dir;
    }
    r.kernel = read_kernel_facts(r.kernel_out);
}

nlohmann::json bench_index_entry(const BenchRun &r) {
    return {{"config", r.config},
            {"step", r.step},
            {"flavour", r.flavour},
            {"role", r.role},
            {"round", r.round},
            {"dir", r.dir},
            {"kernel_out", r.kernel_out},
            {"host_load", r.host_load ? nlohmann::json(*r.host_load) : nlohmann::json()}};
}

std::vector<BenchRun> load_bench_runs(const nlohmann::json &index, const std::string &relative_to) {
    auto resolve = [&](const std::string &p) {
        if (p.empty() || relative_to.empty() || std::filesystem::path(p).is_absolute()) {
            return p;
        }
        return (std::filesystem::path(relative_to) / p).lexically_normal().string();
    };
    std::vector<BenchRun> runs;
    for (const auto &entry : index.at("runs")) {
        BenchRun r;
        r.config = entry.at("config").get<std::string>();
        r.step = entry.at("step").get<std::string>();
        r.flavour = entry.at("flavour").get<std::string>();
        r.role = entry.at("role").get<std::string>();
        r.round = entry.at("round").get<int>();
        r.dir = resolve(entry.at("dir").get<std::string>());
        r.kernel_out = resolve(entry.value("kernel_out", ""));
        if (entry.contains("host_load") && entry["host_load"].is_number()) {
            r.host_load = entry["host_load"].get<double>();
        }
        read_bench_run(r);
        runs.push_back(std::move(r));
    }
    return runs;
}

BenchReport build_bench_report(std::vector<BenchRun> runs, const std::string &base_step,
                               const std::string &head_step) {
    BenchReport r;
    r.base_step = base_step;
    r.head_step = head_step;
    std::map<std::pair<std::string, std::string>, int> boots; // (role, step) -> count
    for (const auto &run : runs) {
        if (r.config.empty()) {
            r.config = run.config;
        }
        const std::string label = run.role + " " + run.step + " round " +
                                  std::to_string(run.round) + " (" + run.config + "-" +
                                  run.flavour + ")";
        if (run.outcome != "pass") {
            r.problems.push_back(label + ": run " + run.outcome +
                                 (run.reason.empty() ? "" : " (" + run.reason + ")"));
        }
        if (!run.data) {
            r.problems.push_back(label + ": " + run.error);
            continue;
        }
        ++boots[{run.role, run.step}];
        r.flavours[run.role] = run.flavour;
        r.kernels[run.role + " " + run.step] = run.kernel.describe();
        if (const auto it = run.kernel.options.find("ARCH_ENABLE_SPLIT_PMD_PTLOCK");
            it != run.kernel.options.end()) {
            r.split_pmd[run.step] = it->second;
        }
        const Json &d = *run.data;
        r.reps[run.role] = d.value("reps", 0U);
        if (r.cpus == 0) {
            r.cpus = d.value("cpus", 0U);
            r.page_size = d.value("page_size", std::uint64_t{0});
            r.pmd_size = d.value("pmd_size", std::uint64_t{0});
            r.mem_available_kb = d.value("mem_available_kb", std::uint64_t{0});
        } else if (d.value("cpus", 0U) != r.cpus) {
            r.problems.push_back(label + ": the guest had " + std::to_string(d.value("cpus", 0U)) +
                                 " CPUs, not " + std::to_string(r.cpus));
        }
        if (run.role == "contention" && !d.value("lock_stat", false)) {
            r.problems.push_back(label + ": no /proc/lock_stat in this kernel");
        }
    }
    for (const auto &[k, n] : boots) {
        r.rounds[k.first] = std::max(r.rounds[k.first], n);
    }
    r.throughput = rows_for(runs, "throughput", base_step, head_step, r.problems);
    r.contention = rows_for(runs, "contention", base_step, head_step, r.problems);
    r.runs = std::move(runs);
    return r;
}

namespace {

/// What ran: the guest, the order of the boots, the host's load, the caveat of TCG timing.
void print_bench_setup(std::ostream &out, const BenchReport &r) {
    out << "bench " << r.config << ": " << r.base_step << " vs " << r.head_step << ", guest "
        << r.cpus << " CPUs, " << (r.page_size >> 10) << " KiB pages, PMD " << (r.pmd_size >> 20)
        << " MiB, MemAvailable " << (r.mem_available_kb >> 10) << " MiB\n";
    out << "boots alternate " << r.base_step << ", " << r.head_step << ", " << r.base_step
        << ", ...";
    for (const auto &role : {"throughput", "contention"}) {
        if (r.rounds.count(role) != 0) {
            out << "; " << role << ": " << r.rounds.at(role) << " per step x "
                << (r.reps.count(role) != 0 ? r.reps.at(role) : 0) << " reps";
        }
    }
    out << '\n';
    out << "note: " << bench_tcg_note(r) << '\n';
    std::vector<double> loads;
    for (const auto &run : r.runs) {
        if (run.host_load) {
            loads.push_back(*run.host_load);
        }
    }
    if (!loads.empty()) {
        const auto [lo, hi] = std::minmax_element(loads.begin(), loads.end());
        out << "host load average (1 min) before the boots: " << fmt("%.2f", *lo) << ".."
            << fmt("%.2f", *hi) << " (other work on the host adds noise to faults/s)\n";
    }
}

/// The kernels of each role: their timing-relevant options and the split PMD lock.
void print_bench_kernels(std::ostream &out, const BenchReport &r) {
    for (const auto &role : {"throughput", "contention"}) {
        if (r.flavours.count(role) == 0) {
            continue;
        }
        const auto b = r.kernels.find(std::string(role) + " " + r.base_step);
        const auto h = r.kernels.find(std::string(role) + " " + r.head_step);
        out << role << " kernels: flavour " << r.flavours.at(role) << ": ";
        if (b != r.kernels.end() && h != r.kernels.end() && b->second != h->second) {
            out << r.base_step << " " << b->second << "; " << r.head_step << " " << h->second;
        } else {
            out << (b != r.kernels.end() ? b->second : h != r.kernels.end() ? h->second : "?");
        }
        out << (std::string(role) == "contention"
                    ? " (lock_stat's hooks slow every lock: counts only, not timing)"
                    : "")
            << '\n';
    }
    if (!r.split_pmd.empty()) {
        out << "split PMD lock (ARCH_ENABLE_SPLIT_PMD_PTLOCK):";
        for (const auto &step : {r.base_step, r.head_step}) {
            const auto it = r.split_pmd.find(step);
            out << ' ' << step << '=' << (it != r.split_pmd.end() ? it->second : "?");
        }
        out << '\n';
    }
}

void print_bench_throughput(std::ostream &out, const BenchReport &r) {
    if (r.throughput.empty()) {
        return;
    }
    out << "\nfaults/s of the throughput kernels (flavour " << flavour_of(r, "throughput")
        << "), median [min..max] over every repetition of every boot\n";
    std::vector<std::vector<std::string>> t{
        {"layout", "access", "T", r.base_step, "min..max", r.head_step, "min..max", "head/base"}};
    for (const auto &row : r.throughput) {
        t.push_back({row.layout, row.access, std::to_string(row.threads),
                     row.base.faults_per_sec.n ? fmt_rate(row.base.faults_per_sec.median) : "-",
                     range_of(row.base.faults_per_sec),
                     row.head.faults_per_sec.n ? fmt_rate(row.head.faults_per_sec.median) : "-",
                     range_of(row.head.faults_per_sec), fmt_ratio(row.ratio)});
    }
    print_table(out, t, 2);
}

/// One lock family's contention table: the per-mm lock, or the split locks.
struct LockFamily {
    const char *title;
    BenchStats BenchSide::*con;
    BenchStats BenchSide::*acq;
    BenchStats BenchSide::*wait;
};

void print_bench_lock_family(std::ostream &out, const BenchReport &r, const LockFamily &f) {
    const unsigned reps = r.reps.count("contention") != 0 ? r.reps.at("contention") : 0;
    const int boots = r.rounds.count("contention") != 0 ? r.rounds.at("contention") : 0;
    out << "\n"
        << f.title << ": per repetition, median of " << boots << " x " << reps
        << " reps of the contention kernels (flavour " << flavour_of(r, "contention")
        << "; counts, not timing)\n";
    std::vector<std::vector<std::string>> t{{"layout", "access", "T", "faults:base", "faults:head",
                                             "con:base", "con:head", "con h/b", "wait_us:base",
                                             "wait_us:head", "acq:base", "acq:head"}};
    auto med = [](const BenchStats &s) { return s.n ? fmt_count(s.median) : "-"; };
    auto us = [](const BenchStats &s) { return s.n ? fmt("%.1f", s.median) : "-"; };
    for (const auto &row : r.contention) {
        t.push_back({row.layout, row.access, std::to_string(row.threads), med(row.base.faults),
                     med(row.head.faults), med(row.base.*f.con), med(row.head.*f.con),
                     fmt_ratio(ratio_of(row.head.*f.con, row.base.*f.con)), us(row.base.*f.wait),
                     us(row.head.*f.wait), med(row.base.*f.acq), med(row.head.*f.acq)});
    }
    print_table(out, t, 2);
}

void print_bench_contention(std::ostream &out, const BenchReport &r) {
    if (r.contention.empty()) {
        return;
    }
    print_bench_lock_family(out, r,
                            {"&mm->page_table_lock", &BenchSide::ptl_contentions,
                             &BenchSide::ptl_acquisitions, &BenchSide::ptl_wait_us});
    print_bench_lock_family(out, r,
                            {"ptlock_ptr(page) (split PTE/PMD locks, every class of that name)",
                             &BenchSide::ptlock_contentions, &BenchSide::ptlock_acquisitions,
                             &BenchSide::ptlock_wait_us});
    out << "(con: contentions, wait_us: total wait in microseconds, acq: acquisitions, each "
           "summed over the lock's classes and over all threads of the repetition; con h/b is "
           "'-' when the base has none)\n";
}

} // namespace

void print_bench_report(std::ostream &out, const BenchReport &r) {
    print_bench_setup(out, r);
    print_bench_kernels(out, r);
    print_bench_throughput(out, r);
    print_bench_contention(out, r);
    for (const auto &p : r.problems) {
        out << "problem: " << p << '\n';
    }
    out << "bench " << r.config << ": " << r.runs.size() << " runs, " << r.problems.size()
        << " problems\n";
}

std::string bench_report_to_json(const BenchReport &r) {
    Json j;
    j["config"] = r.config;
    j["base"] = r.base_step;
    j["head"] = r.head_step;
    j["guest"] = {{"cpus", r.cpus},
                  {"page_size", r.page_size},
                  {"pmd_size", r.pmd_size},
                  {"mem_available_kb", r.mem_available_kb}};
    j["flavours"] = r.flavours;
    j["notes"] = {
        {"throughput", "faults/s from the throughput runs, flavour " + flavour_of(r, "throughput") +
                           ": no lock or VM debugging"},
        {"contention", "lock_stat counts from the contention runs, flavour " +
                           flavour_of(r, "contention") +
                           ": LOCK_STAT's hooks slow every lock, so counts only, not timing"},
        {"timing", bench_tcg_note(r)}};
    j["kernels"] = r.kernels;
    j["split_pmd_ptlock"] = r.split_pmd;
    j["rounds"] = r.rounds;
    j["reps"] = r.reps;
    auto &runs = j["runs"] = Json::array();
    for (const auto &run : r.runs) {
        Json k = Json::object();
        for (const auto &[o, v] : run.kernel.options) {
            k[o] = v;
        }
        if (run.kernel.spinlock_size >= 0) {
            k["spinlock_size"] = run.kernel.spinlock_size;
        }
        runs.push_back({{"step", run.step},
                        {"flavour", run.flavour},
                        {"role", run.role},
                        {"round", run.round},
                        {"dir", run.dir},
                        {"outcome", run.outcome},
                        {"reason", run.reason},
                        {"report", run.data.has_value()},
                        {"kernel", k},
                        {"host_load", opt_json(run.host_load)}});
    }
    auto rows = [](const std::vector<BenchRow> &in, bool contention) {
        Json a = Json::array();
        for (const auto &row : in) {
            Json e{{"layout", row.layout},
                   {"access", row.access},
                   {"threads", row.threads},
                   {"base", side_json(row.base, contention)},
                   {"head", side_json(row.head, contention)},
                   {"ratio_faults_per_sec", opt_json(row.ratio)}};
            if (contention) {
                e["ratio_page_table_lock_contentions"] = opt_json(row.ptl_ratio);
            }
            a.push_back(std::move(e));
        }
        return a;
    };
    j["throughput"] = rows(r.throughput, false);
    j["contention"] = rows(r.contention, true);
    j["problems"] = r.problems;
    return j.dump(2) + "\n";
}

std::vector<std::tuple<std::string, std::string, std::string>>
bench_plot_blocks(const BenchReport &r) {
    std::vector<std::tuple<std::string, std::string, std::string>> blocks;
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto &row : r.throughput) {
        if (seen.insert({row.layout, row.access}).second) {
            blocks.emplace_back(row.layout, row.access, r.base_step);
            blocks.emplace_back(row.layout, row.access, r.head_step);
        }
    }
    return blocks;
}

std::string bench_plot_data(const BenchReport &r) {
    std::ostringstream o;
    bool first = true;
    for (const auto &[layout, access, step] : bench_plot_blocks(r)) {
        if (!first) {
            o << "\n\n";
        }
        first = false;
        o << "# " << layout << ' ' << access << ' ' << step << ": threads median min max\n";
        for (const auto &row : r.throughput) {
            if (row.layout != layout || row.access != access) {
                continue;
            }
            const BenchStats &s =
                step == r.base_step ? row.base.faults_per_sec : row.head.faults_per_sec;
            if (s.n != 0) {
                o << row.threads << ' ' << fmt("%.3f", s.median) << ' ' << fmt("%.3f", s.min) << ' '
                  << fmt("%.3f", s.max) << '\n';
            }
        }
    }
    return o.str();
}

std::string bench_gnuplot_script(const BenchReport &r, const std::string &data_path,
                                 const std::string &png_path) {
    const auto blocks = bench_plot_blocks(r);
    const std::size_t panels = blocks.size() / 2;
    const std::size_t cols = panels > 1 ? 2 : 1;
    const std::size_t rows = (panels + cols - 1) / cols;
    std::set<unsigned> threads;
    for (const auto &row : r.throughput) {
        threads.insert(row.threads);
    }
    const unsigned max_t = threads.empty() ? 1 : *threads.rbegin();
    std::string xtics;
    for (const unsigned t : threads) {
        xtics += (xtics.empty() ? "" : ", ") + std::to_string(t);
    }
    const std::string flavour =
        r.flavours.count("throughput") != 0 ? r.flavours.at("throughput") : "?";
    std::ostringstream o;
    o << "# make bench " << r.config << ": faults/s against threads, " << r.base_step << " and "
      << r.head_step << "\n";
    o << "set terminal pngcairo size " << 640 * cols << "," << 420 * rows + 60 << " font ',10'\n";
    o << "set output " << gnuplot_quote(png_path) << "\n";
    o << "set multiplot layout " << rows << "," << cols << " title "
      << gnuplot_dquote(r.config +
                        ": page faults per second against threads, median with "
                        "min..max bars, " +
                        r.base_step + " vs " + r.head_step + "\nthroughput kernels (flavour " +
                        flavour + ": no lock or VM debugging) under QEMU TCG with " +
                        std::to_string(r.cpus) + " guest CPUs: not a large system")
      << " font ',11'\n";
    o << "set xlabel 'threads'\nset ylabel 'faults/s'\nset grid\n";
    // The key on top of each panel, with headroom so that no point hides under it.
    o << "set key top center horizontal\nset offsets 0, 0, graph 0.2, 0\n";
    o << "set xrange [0.5:" << max_t << ".5]\nset yrange [0:*]\n";
    o << "set xtics (" << xtics << ")\n";
    for (std::size_t p = 0; p < panels; ++p) {
        const std::string &layout = std::get<0>(blocks[2 * p]);
        const std::string &access = std::get<1>(blocks[2 * p]);
        std::string title = layout + " (" + layout_description(layout) + "), " + access;
        // head/base at the largest thread count measured on both steps.
        const BenchRow *widest = nullptr;
        for (const auto &row : r.throughput) {
            if (row.layout == layout && row.access == access && row.ratio &&
                (widest == nullptr || row.threads > widest->threads)) {
                widest = &row;
            }
        }
        if (widest != nullptr) {
            title += "; head/base at T=" + std::to_string(widest->threads) + ": " +
                     fmt_ratio(widest->ratio);
        }
        o << "set title " << gnuplot_quote(title) << "\n";
        o << "plot " << gnuplot_quote(data_path) << " index " << 2 * p
          << " using ($1-0.04):2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1f77b4' title "
          << gnuplot_quote(r.base_step) << ", \\\n     '' index " << 2 * p + 1
          << " using ($1+0.04):2:3:4 with yerrorlines lw 2 pt 5 lc rgb '#d62728' title "
          << gnuplot_quote(r.head_step) << "\n";
    }
    o << "unset multiplot\n";
    return o.str();
}

} // namespace ptlab
