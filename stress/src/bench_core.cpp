#include "bench_core.hpp"

#include <iterator>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>

namespace ptlab::bench {

namespace {

std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
            ++i;
        }
        const std::size_t b = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
            ++i;
        }
        if (i > b) {
            out.push_back(s.substr(b, i - b));
        }
    }
    return out;
}

bool to_u64(std::string_view s, std::uint64_t &v) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// lock_stat prints times as "%lld.%02d" (microseconds).
bool to_time(std::string_view s, double &v) {
    if (s.empty()) {
        return false;
    }
    std::size_t digits = 0;
    std::size_t dots = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '.') {
            ++dots;
        } else if (c >= '0' && c <= '9') {
            ++digits;
        } else if (!(c == '-' && i == 0)) {
            return false;
        }
    }
    if (digits == 0 || dots > 1) {
        return false;
    }
    v = std::stod(std::string(s));
    return true;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto nl = text.find('\n', pos);
        const auto end = nl == std::string_view::npos ? text.size() : nl;
        out.push_back(text.substr(pos, end - pos));
        if (nl == std::string_view::npos) {
            break;
        }
        pos = nl + 1;
    }
    return out;
}

std::string_view trim_view(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

} // namespace

Geometry Geometry::for_page_size(std::uint64_t page) {
    Geometry g;
    g.page = page;
    g.pmd = page * (page / 8);
    return g;
}

std::string LayoutName::str() const {
    return std::string(level == Level::Pmd ? "thp" : "pte") + "-" +
           (sharing == Sharing::Private ? "private" : "shared");
}

std::optional<LayoutName> parse_layout(std::string_view s) {
    for (const auto &l : all_layouts()) {
        if (l.str() == s) {
            return l;
        }
    }
    return std::nullopt;
}

std::optional<Access> parse_access(std::string_view s) {
    if (s == "write") {
        return Access::Write;
    }
    if (s == "read") {
        return Access::Read;
    }
    return std::nullopt;
}

std::string access_name(Access a) { return a == Access::Write ? "write" : "read"; }

std::vector<LayoutName> all_layouts() {
    return {{Level::Pmd, Sharing::Private},
            {Level::Pmd, Sharing::Shared},
            {Level::Pte, Sharing::Private},
            {Level::Pte, Sharing::Shared}};
}

std::uint64_t Layout::offset(unsigned thread, std::uint64_t k) const {
    if (name.sharing == Sharing::Private) {
        return thread * geo.pmd_table_span() + k * chunk;
    }
    return (k * threads + thread) * chunk;
}

std::uint64_t Layout::reservation() const {
    const std::uint64_t span = geo.pmd_table_span();
    if (name.sharing == Sharing::Private) {
        return threads * span;
    }
    const std::uint64_t used = chunks_per_thread * threads * chunk;
    return std::max<std::uint64_t>(1, (used + span - 1) / span) * span;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> Layout::used_ranges() const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> r;
    if (name.sharing == Sharing::Private) {
        for (unsigned t = 0; t < threads; ++t) {
            r.emplace_back(offset(t, 0), offset(t, 0) + chunks_per_thread * chunk);
        }
    } else {
        r.emplace_back(0, chunks_per_thread * threads * chunk);
    }
    return r;
}

std::string Layout::problem() const {
    if (granule == 0 || chunk == 0 || chunk % granule != 0 || chunks_per_thread == 0) {
        return "empty layout";
    }
    const bool thp = name.level == Level::Pmd;
    // The table whose lock a fault takes: the PMD table for THP, the PTE table otherwise.
    auto table_of = [&](std::uint64_t off) { return thp ? pmd_table_of(off) : pte_table_of(off); };
    std::map<std::uint64_t, std::set<unsigned>> users; // table -> threads faulting under it
    for (unsigned t = 0; t < threads; ++t) {
        for (std::uint64_t k = 0; k < chunks_per_thread; ++k) {
            const auto off = offset(t, k);
            if (off % granule != 0) {
                return "chunk " + std::to_string(k) + " of thread " + std::to_string(t) +
                       " is not aligned to the fault granule";
            }
            users[table_of(off)].insert(t);
            users[table_of(off + chunk - 1)].insert(t);
        }
    }
    for (const auto &[table, who] : users) {
        if (name.sharing == Sharing::Private && who.size() != 1) {
            return "private layout: table " + std::to_string(table) + " has " +
                   std::to_string(who.size()) + " threads";
        }
        if (name.sharing == Sharing::Shared && who.size() != threads) {
            return "shared layout: table " + std::to_string(table) + " has " +
                   std::to_string(who.size()) + " of " + std::to_string(threads) + " threads";
        }
    }
    if (thp && name.sharing == Sharing::Shared && users.size() != 1) {
        return "shared THP layout spans " + std::to_string(users.size()) + " PMD tables";
    }
    for (const auto &[b, e] : used_ranges()) {
        if (e > reservation() || b >= e) {
            return "a used range lies outside the reservation";
        }
    }
    return {};
}

std::uint64_t chunks_per_thread(const LayoutName &name, const Geometry &geo, unsigned max_threads,
                                std::uint64_t budget_bytes) {
    if (max_threads == 0) {
        return 0;
    }
    const std::uint64_t chunk = name.level == Level::Pmd ? geo.pmd : geo.page * kPteChunkPages;
    const std::uint64_t want = name.level == Level::Pmd ? 8 : 64;
    std::uint64_t fits = budget_bytes / (chunk * max_threads);
    if (name.level == Level::Pmd && name.sharing == Sharing::Shared) {
        // Every thread's PMDs under one PMD table.
        fits = std::min<std::uint64_t>(fits, geo.entries_per_table() / max_threads);
    }
    return std::min(want, fits);
}

Layout make_layout(const LayoutName &name, const Geometry &geo, unsigned threads,
                   std::uint64_t chunks) {
    Layout l;
    l.name = name;
    l.geo = geo;
    l.threads = threads;
    l.granule = name.level == Level::Pmd ? geo.pmd : geo.page;
    l.chunk = name.level == Level::Pmd ? geo.pmd : geo.page * kPteChunkPages;
    l.chunks_per_thread = chunks;
    return l;
}

std::vector<unsigned> default_thread_counts(unsigned cpus) {
    std::vector<unsigned> out;
    cpus = std::max(1U, cpus);
    for (unsigned t = 1; t < cpus; t *= 2) {
        out.push_back(t);
    }
    out.push_back(cpus);
    return out;
}

LockStat &LockStat::operator+=(const LockStat &o) {
    // A minimum of a class with no events is no minimum.
    if (o.contentions != 0) {
        waittime_min = contentions == 0 ? o.waittime_min : std::min(waittime_min, o.waittime_min);
    }
    if (o.acquisitions != 0) {
        holdtime_min = acquisitions == 0 ? o.holdtime_min : std::min(holdtime_min, o.holdtime_min);
    }
    con_bounces += o.con_bounces;
    contentions += o.contentions;
    acq_bounces += o.acq_bounces;
    acquisitions += o.acquisitions;
    waittime_total += o.waittime_total;
    holdtime_total += o.holdtime_total;
    waittime_max = std::max(waittime_max, o.waittime_max);
    holdtime_max = std::max(holdtime_max, o.holdtime_max);
    return *this;
}

nlohmann::json LockStat::to_json() const {
    return {{"con_bounces", con_bounces},          {"contentions", contentions},
            {"waittime_min_us", waittime_min},     {"waittime_max_us", waittime_max},
            {"waittime_total_us", waittime_total}, {"acq_bounces", acq_bounces},
            {"acquisitions", acquisitions},        {"holdtime_min_us", holdtime_min},
            {"holdtime_max_us", holdtime_max},     {"holdtime_total_us", holdtime_total}};
}

LockStatFile parse_lock_stat(std::string_view text) {
    LockStatFile f;
    for (const auto raw : lines_of(text)) {
        const auto line = trim_view(raw);
        if (line.starts_with("lock_stat version")) {
            f.valid = true;
            continue;
        }
        if (line.starts_with("*WARNING* lock debugging disabled")) {
            f.debug_locks_off = true;
            continue;
        }
        // A class row: "<name>: " (or "<name>-W:", "<name>-R:") and exactly 12 numbers. The
        // name is right-aligned in 40 columns and may itself contain ':' or spaces, so the
        // split is at the last ':' that leaves 12 numbers behind it.
        for (auto colon = line.rfind(':'); colon != std::string_view::npos && colon > 0;
             colon = line.rfind(':', colon - 1)) {
            const auto fields = split_ws(line.substr(colon + 1));
            if (fields.size() != 12) {
                if (fields.size() > 12) {
                    break;
                }
                continue;
            }
            LockStat s;
            double wait_avg = 0;
            double hold_avg = 0;
            const bool ok =
                to_u64(fields[0], s.con_bounces) && to_u64(fields[1], s.contentions) &&
                to_time(fields[2], s.waittime_min) && to_time(fields[3], s.waittime_max) &&
                to_time(fields[4], s.waittime_total) && to_time(fields[5], wait_avg) &&
                to_u64(fields[6], s.acq_bounces) && to_u64(fields[7], s.acquisitions) &&
                to_time(fields[8], s.holdtime_min) && to_time(fields[9], s.holdtime_max) &&
                to_time(fields[10], s.holdtime_total) && to_time(fields[11], hold_avg);
            if (!ok) {
                break;
            }
            const auto name = trim_view(line.substr(0, colon));
            if (!name.empty()) {
                f.classes[std::string(name)] = s;
            }
            break;
        }
    }
    return f;
}

std::string lock_class_base(std::string_view printed) {
    std::string s(trim_view(printed));
    if (s.ends_with("-W") || s.ends_with("-R")) {
        s.resize(s.size() - 2);
    }
    // "/N" (subclass) then "#N" (name version), each one digit as lockdep prints them.
    for (const char mark : {'/', '#'}) {
        if (s.size() >= 2 && s[s.size() - 2] == mark && s.back() >= '0' && s.back() <= '9') {
            s.resize(s.size() - 2);
        }
    }
    return s;
}

LockStat lock_family(const LockStatFile &f, std::string_view base) {
    LockStat sum;
    for (const auto &[name, s] : f.classes) {
        if (lock_class_base(name) == base) {
            sum += s;
        }
    }
    return sum;
}

LockStat lock_delta(const LockStat &before, const LockStat &after) {
    auto sub = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : 0; };
    LockStat d = after;
    d.con_bounces = sub(after.con_bounces, before.con_bounces);
    d.contentions = sub(after.contentions, before.contentions);
    d.acq_bounces = sub(after.acq_bounces, before.acq_bounces);
    d.acquisitions = sub(after.acquisitions, before.acquisitions);
    d.waittime_total = std::max(0.0, after.waittime_total - before.waittime_total);
    d.holdtime_total = std::max(0.0, after.holdtime_total - before.holdtime_total);
    return d;
}

std::map<std::string, std::uint64_t, std::less<>> parse_vmstat(std::string_view text) {
    std::map<std::string, std::uint64_t, std::less<>> out;
    for (const auto line : lines_of(text)) {
        const auto f = split_ws(line);
        std::uint64_t v = 0;
        if (f.size() == 2 && to_u64(f[1], v)) {
            out[std::string(f[0])] = v;
        }
    }
    return out;
}

Stats stats_of(std::vector<double> samples) {
    Stats s;
    s.n = samples.size();
    if (samples.empty()) {
        return s;
    }
    std::sort(samples.begin(), samples.end());
    s.min = samples.front();
    s.max = samples.back();
    const std::size_t mid = samples.size() / 2;
    s.median = samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
    s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.n);
    return s;
}

nlohmann::json to_json(const Stats &s) {
    return {{"n", s.n}, {"median", s.median}, {"min", s.min}, {"max", s.max}, {"mean", s.mean}};
}

std::vector<std::string> lock_stat_excerpt(std::string_view text) {
    std::vector<std::string> rows;
    bool in_class = false;
    std::istringstream lines{std::string(text)};
    for (std::string line; std::getline(lines, line);) {
        const auto first = line.find_first_not_of(' ');
        if (first != std::string::npos && line.compare(first, 11, "class name ") == 0) {
            rows.push_back(line);
            continue;
        }
        if (first == std::string::npos || line.starts_with("....")) {
            in_class = false;
            continue;
        }
        // A class row: its name, ':' and twelve numbers; its contention points follow it.
        std::istringstream words(line);
        const std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
        if (w.size() >= 13 && w[w.size() - 13].ends_with(":")) {
            const std::string name = line.substr(0, line.find(": ") + 1);
            in_class = name.find("page_table_lock") != std::string::npos ||
                       name.find("ptlock_ptr") != std::string::npos;
        }
        if (in_class) {
            rows.push_back(line);
        }
    }
    return rows;
}

} // namespace ptlab::bench
