#include "ptlab/compare.hpp"

#include "ptlab/layout.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/tree.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace ptlab {

namespace {

using nlohmann::json;

void flatten_tests(const json &tests, const std::string &prefix, FlatResults &out) {
    for (const auto &t : tests) {
        const std::string path =
            prefix.empty() ? t.value("name", "?") : prefix + " / " + t.value("name", "?");
        FlatResult r{t.value("status", "?"), std::nullopt};
        if (t.contains("seconds") && t["seconds"].is_number()) {
            r.seconds = t["seconds"].get<double>();
        }
        out[path] = r;
        if (t.contains("subtests")) {
            flatten_tests(t["subtests"], path, out);
        }
    }
}

void flatten_cells(const json &cells, FlatResults &out) {
    for (const auto &c : cells) {
        const std::string cell = c.value("step", "?") + " x " + c.value("config", "?");
        FlatResult r{c.value("outcome", "?"), std::nullopt};
        if (c.contains("seconds") && c["seconds"].is_number()) {
            r.seconds = c["seconds"].get<double>();
        }
        out[cell] = r;
        const json plans = c.value("plans", json::object());
        for (const auto &[plan, status] : plans.items()) {
            out[cell + " / " + plan] = {status.get<std::string>(), std::nullopt};
        }
    }
}

bool failed(const std::string &status) { return status == "fail" || status == "error"; }

std::optional<Change> status_change(const std::string &path, const std::string &a,
                                    const std::string &b) {
    if (a == b) {
        return std::nullopt;
    }
    if (failed(b)) {
        return Change{"new failure", path, a, b};
    }
    if (failed(a)) {
        return Change{"fixed", path, a, b};
    }
    if (b == "skip") {
        return Change{"new skip", path, a, b};
    }
    if (a == "skip") {
        return Change{"unskipped", path, a, b};
    }
    return Change{"changed", path, a, b};
}

std::optional<Change> duration_change(const std::string &path, const FlatResult &a,
                                      const FlatResult &b, const CompareOptions &o) {
    if (!a.seconds || !b.seconds) {
        return std::nullopt;
    }
    const double x = *a.seconds;
    const double y = *b.seconds;
    if (std::abs(y - x) < o.duration_floor) {
        return std::nullopt;
    }
    if (y > x * o.duration_ratio) {
        return Change{"slower", path, seconds_text(x), seconds_text(y)};
    }
    if (x > y * o.duration_ratio) {
        return Change{"faster", path, seconds_text(x), seconds_text(y)};
    }
    return std::nullopt;
}

// A kept run's folder is <kind>-<YYYYmmdd-HHMMSS>; a kind may hold '-' (test-full).
constexpr std::size_t kStampSize = 15;

std::string run_time(const std::filesystem::path &p) {
    const std::string name = p.filename().string();
    return name.size() > kStampSize ? name.substr(name.size() - kStampSize) : name;
}

std::string run_kind(const std::filesystem::path &p) {
    const std::string name = p.filename().string();
    return name.size() > kStampSize + 1 ? name.substr(0, name.size() - kStampSize - 1) : name;
}

std::string first_line_of(const std::string &text) { return text.substr(0, text.find('\n')); }

std::string utc_stamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

} // namespace

FlatResults flatten_results(const json &results) {
    FlatResults out;
    if (results.contains("cells")) {
        flatten_cells(results["cells"], out);
    } else if (results.contains("tests")) {
        flatten_tests(results["tests"], "", out);
    } else {
        throw std::runtime_error("neither a make test summary (tests) nor a make matrix (cells)");
    }
    return out;
}

std::vector<Change> compare_results(const FlatResults &a, const FlatResults &b,
                                    const CompareOptions &options) {
    std::vector<Change> changes;
    for (const auto &[path, before] : a) {
        const auto it = b.find(path);
        if (it == b.end()) {
            changes.push_back({"vanished", path, before.status, "-"});
            continue;
        }
        if (auto c = status_change(path, before.status, it->second.status)) {
            changes.push_back(*c);
        } else if (auto d = duration_change(path, before, it->second, options)) {
            changes.push_back(*d);
        }
    }
    for (const auto &[path, after] : b) {
        if (a.count(path) == 0) {
            changes.push_back(
                {failed(after.status) ? "new failure" : "appeared", path, "-", after.status});
        }
    }
    // New failures first: what a reader must see.
    std::stable_sort(changes.begin(), changes.end(), [](const Change &x, const Change &y) {
        return (x.kind == "new failure") > (y.kind == "new failure");
    });
    return changes;
}

std::vector<std::string> meta_differences(const json &a, const json &b) {
    std::vector<std::string> out;
    const json fa = a.flatten();
    const json fb = b.flatten();
    auto text = [](const json &flat, const std::string &key) {
        if (!flat.contains(key)) {
            return std::string("(none)");
        }
        const json &v = flat.at(key);
        return v.is_string() ? v.get<std::string>() : v.dump();
    };
    std::vector<std::string> keys;
    for (const auto &[k, _] : fa.items()) {
        keys.push_back(k);
    }
    for (const auto &[k, _] : fb.items()) {
        if (!fa.contains(k)) {
            keys.push_back(k);
        }
    }
    for (const auto &k : keys) {
        if (k == "/finished") {
            continue; // when, not what
        }
        if (text(fa, k) != text(fb, k)) {
            out.push_back(k.substr(1) + ": " + text(fa, k) + " -> " + text(fb, k));
        }
    }
    return out;
}

void print_comparison(std::ostream &out, const std::vector<Change> &changes,
                      const std::vector<std::string> &meta_diffs) {
    if (!meta_diffs.empty()) {
        out << "not like with like:\n";
        for (const auto &d : meta_diffs) {
            out << "  " << d << '\n';
        }
    }
    std::size_t width = 4;
    for (const auto &c : changes) {
        width = std::max(width, c.path.size());
    }
    width = std::min<std::size_t>(width, 90);
    if (!changes.empty()) {
        out << pad_right("CHANGE", 12) << "  " << pad_right("TEST", width) << "  BEFORE -> AFTER\n";
    }
    std::map<std::string, int> counts;
    for (const auto &c : changes) {
        out << pad_right(c.kind, 12) << "  " << pad_right(c.path, width) << "  " << c.before
            << " -> " << c.after << '\n';
        ++counts[c.kind];
    }
    std::string tally;
    for (const auto &[kind, n] : counts) {
        tally += (tally.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
    }
    out << (tally.empty() ? "no change" : tally) << '\n';
}

bool has_new_failure(const std::vector<Change> &changes) {
    return std::any_of(changes.begin(), changes.end(),
                       [](const Change &c) { return c.kind == "new failure"; });
}

json run_meta(const Layout &layout, const std::string &kind,
              const std::vector<std::string> &configs) {
    json meta;
    meta["kind"] = kind;
    meta["configs"] = configs;
    const Captured lab = capture_process({"git", "-C", layout.top.string(), "rev-parse", "HEAD"});
    meta["lab_commit"] = lab.status == 0 ? std::string(trim(lab.out)) : "unknown";
    const Tree tree(layout.src());
    for (const char *step : {"pristine", "series-base", "series-head"}) {
        try {
            meta["tree"][step] = tree.exists() ? tree.resolve_step(step) : "none";
        } catch (const std::exception &) {
            meta["tree"][step] = "none";
        }
    }
    for (const char *package :
         {"linux-source-6.1", "qemu-system-arm", "qemu-efi-aarch64", "gcc-aarch64-linux-gnu"}) {
        const Captured v = capture_process({"dpkg-query", "-W", "-f=${Version}", package});
        meta["debian"][package] = v.status == 0 ? std::string(trim(v.out)) : "not installed";
    }
    const Captured q = capture_process({"qemu-system-aarch64", "--version"});
    meta["qemu"] = q.status == 0 ? first_line_of(q.out) : "not installed";
    meta["finished"] = utc_stamp();
    return meta;
}

std::filesystem::path keep_results(const Layout &layout, const std::filesystem::path &dir,
                                   const std::string &kind,
                                   const std::vector<std::string> &configs) {
    namespace fs = std::filesystem;
    const json meta = run_meta(layout, kind, configs);
    std::ofstream(dir / "meta.json") << meta.dump(2) << '\n';
    const fs::path kept = layout.results_history() / (kind + "-" + utc_stamp());
    fs::create_directories(kept);
    for (const auto &entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            fs::copy_file(entry.path(), kept / entry.path().filename(),
                          fs::copy_options::overwrite_existing);
        }
    }
    return kept;
}

std::vector<std::filesystem::path> kept_results(const Layout &layout) {
    namespace fs = std::filesystem;
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(layout.results_history(), ec)) {
        if (entry.is_directory()) {
            out.push_back(entry.path());
        }
    }
    std::sort(out.begin(), out.end(),
              [](const fs::path &x, const fs::path &y) { return run_time(x) < run_time(y); });
    return out;
}

std::pair<std::filesystem::path, std::filesystem::path>
last_two_alike(const std::vector<std::filesystem::path> &kept) {
    if (kept.size() < 2) {
        throw std::runtime_error("two kept runs are needed, there are " +
                                 std::to_string(kept.size()));
    }
    for (std::size_t i = kept.size() - 1; i-- > 0;) {
        if (run_kind(kept[i]) == run_kind(kept.back())) {
            return {kept[i], kept.back()};
        }
    }
    return {kept[kept.size() - 2], kept.back()};
}

} // namespace ptlab
