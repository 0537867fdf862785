#include "ptlab/lab_test.hpp"

#include "ktap_writer.hpp"
#include "lab_test_kinds.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/tree.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <ostream>
#include <regex>
#include <set>

namespace ptlab {

namespace {

// Fields every row may have, whatever its kind.
const std::set<std::string> common_fields = {
    "name", "kind", "about", "suite", "moves_tree", "env", "derived_files",
    // a row that stands for one check per geometry fragment
    "configs", "steps", "steps_when_pmd_folded"};

const CheckKind &kind_named(const std::string &name, const std::string &check) {
    for (const auto &kind : check_kinds()) {
        if (name == kind.name) {
            return kind;
        }
    }
    throw CheckTableError("check '" + check + "': unknown kind '" + name +
                          "'; kinds: " + join_words(check_kind_names(), ", "));
}

Suite suite_named(const std::string &name, const std::string &check) {
    if (name == "host") {
        return Suite::Host;
    }
    if (name == "guest") {
        return Suite::Guest;
    }
    if (name == "full") {
        return Suite::Full;
    }
    throw CheckTableError("check '" + check + "': unknown suite '" + name +
                          "'; suites: host, guest, full");
}

nlohmann::json expand_json(const nlohmann::json &value, const CheckPlaces &places) {
    if (value.is_string()) {
        return expand_places(value.get<std::string>(), places);
    }
    if (value.is_array() || value.is_object()) {
        nlohmann::json out = value;
        for (auto &item : out) {
            item = expand_json(item, places);
        }
        return out;
    }
    return value;
}

/// Every field of the row is common or the kind's own, and the kind's required ones are
/// there.
void check_fields(const nlohmann::json &row, const CheckKind &kind, const std::string &name) {
    for (const auto &[field, value] : row.items()) {
        const bool known =
            common_fields.contains(field) ||
            std::find(kind.required.begin(), kind.required.end(), field) != kind.required.end() ||
            std::find(kind.optional.begin(), kind.optional.end(), field) != kind.optional.end();
        if (!known) {
            throw CheckTableError("check '" + name + "': kind " + kind.name + " has no field '" +
                                  field + "'");
        }
    }
    for (const auto &field : kind.required) {
        if (!row.contains(field)) {
            throw CheckTableError("check '" + name + "': kind " + kind.name + " needs '" + field +
                                  "'");
        }
    }
}

std::string string_field(const nlohmann::json &row, const std::string &field,
                         const std::string &fallback = "") {
    if (!row.contains(field)) {
        return fallback;
    }
    if (!row.at(field).is_string()) {
        throw CheckTableError("check field '" + field + "' must be a string");
    }
    return row.at(field).get<std::string>();
}

CheckSpec spec_of_row(const nlohmann::json &row, const CheckPlaces &places) {
    CheckSpec spec;
    spec.name = string_field(row, "name");
    if (spec.name.empty()) {
        throw CheckTableError("a check has no name: " + row.dump());
    }
    spec.kind = string_field(row, "kind");
    const CheckKind &kind = kind_named(spec.kind, spec.name);
    check_fields(row, kind, spec.name);
    spec.suite = suite_named(string_field(row, "suite", "host"), spec.name);
    spec.moves_tree = row.value("moves_tree", false);
    spec.fields = expand_json(row, places);
    return spec;
}

std::vector<std::string> string_list(const nlohmann::json &row, const std::string &field) {
    std::vector<std::string> out;
    for (const auto &item : row.value(field, nlohmann::json::array())) {
        out.push_back(item.get<std::string>());
    }
    return out;
}

/// "configs": "all": the row once per geometry fragment and step, "{config}" and "{step}"
/// in its strings filled in. Which steps follows from the fragment's folding, not its name.
std::vector<nlohmann::json> rows_per_geometry(const nlohmann::json &row, const Layout &layout) {
    if (row.value("configs", "") != "all") {
        throw CheckTableError("check '" + row.value("name", "?") +
                              "': \"configs\" can only be \"all\"");
    }
    std::vector<nlohmann::json> rows;
    for (const auto &config : layout.config_names()) {
        const Geometry g = geometry_of_fragment(layout.geometry_fragment(config));
        const auto steps =
            string_list(row, g.split_pmd_possible() || !row.contains("steps_when_pmd_folded")
                                 ? "steps"
                                 : "steps_when_pmd_folded");
        for (const auto &step : steps) {
            std::string text = row.dump();
            for (const auto &[key, value] : {std::pair{"{config}", config}, {"{step}", step}}) {
                for (auto at = text.find(key); at != std::string::npos;
                     at = text.find(key, at + value.size())) {
                    text.replace(at, std::string(key).size(), value);
                }
            }
            nlohmann::json one = nlohmann::json::parse(text);
            one.erase("configs");
            one.erase("steps");
            one.erase("steps_when_pmd_folded");
            rows.push_back(std::move(one));
        }
    }
    return rows;
}

std::string outcome_text(const TestResult &result) {
    switch (result.status) {
    case Status::Pass:
        return "ok";
    case Status::Skip:
        return "SKIP (" + result.skip_reason + ")";
    case Status::XFail:
        return "XFAIL (" + result.skip_reason + ")";
    default:
        return "FAILED";
    }
}

void write_checks_ktap(const std::filesystem::path &file, const std::vector<TestResult> &results,
                       std::size_t planned) {
    std::ofstream out(file, std::ios::trunc);
    out << ktap::version_line << "\n1.." << planned << '\n';
    write_ktap_results(out, results);
    if (!out) {
        throw std::runtime_error("cannot write " + file.string());
    }
}

bool selected(const CheckSpec &check, const TestOptions &options) {
    if (static_cast<int>(check.suite) > static_cast<int>(options.suite)) {
        return false;
    }
    return options.only.empty() || std::regex_search(check.name, std::regex(options.only));
}

/// "derived_files": [{"path", "from", "replace": [pattern, with]}]: a copy of an input with
/// one change (a faked record, a machine QEMU rejects), made before the check runs.
void make_derived_files(const CheckSpec &check) {
    for (const auto &file : check.fields.value("derived_files", nlohmann::json::array())) {
        const auto replace = file.at("replace");
        const std::string text = read_text_file(file.at("from").get<std::string>());
        const std::string changed = std::regex_replace(
            text, std::regex(replace.at(0).get<std::string>()), replace.at(1).get<std::string>());
        if (changed == text) {
            throw CheckTableError("check '" + check.name + "': '" +
                                  replace.at(0).get<std::string>() + "' changes nothing in " +
                                  file.at("from").get<std::string>());
        }
        const std::filesystem::path path = file.at("path").get<std::string>();
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path, std::ios::trunc) << changed;
    }
}

/// HEAD of build/linux, or "" before make source made it.
std::string tree_head(const CheckPlaces &places) {
    const Tree tree(places.layout.src());
    return tree.exists() ? tree.head() : std::string();
}

} // namespace

std::string expand_places(const std::string &text, const CheckPlaces &places) {
    const std::map<std::string, std::string> values = {
        {"top", places.layout.top.string()},
        {"build", places.layout.build.string()},
        {"src", places.layout.src().string()},
        {"results", places.results.string()},
        {"ptlab", places.ptlab},
    };
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t open = text.find('{', at);
        const std::size_t close = open == std::string::npos ? open : text.find('}', open);
        if (close == std::string::npos) {
            out += text.substr(at);
            break;
        }
        const std::string key = text.substr(open + 1, close - open - 1);
        out += text.substr(at, open - at);
        if (const auto it = values.find(key); it != values.end()) {
            out += it->second;
        } else if (key.empty() ||
                   key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos ||
                   key == "config" || key == "step") {
            out += text.substr(open, close - open + 1); // a regex's {2}, a row's own {config}
        } else {
            throw CheckTableError("unknown place {" + key + "} in '" + text +
                                  "'; places: {top} {build} {src} {results} {ptlab}");
        }
        at = close + 1;
    }
    return out;
}

std::vector<std::string> check_kind_names() {
    std::vector<std::string> names;
    for (const auto &kind : check_kinds()) {
        names.emplace_back(kind.name);
    }
    return names;
}

std::vector<CheckSpec> load_checks(const nlohmann::json &table, const CheckPlaces &places) {
    if (!table.is_object() || !table.contains("checks") || !table.at("checks").is_array()) {
        throw CheckTableError("the check table is an object with an array \"checks\"");
    }
    std::vector<CheckSpec> checks;
    std::set<std::string> names;
    for (const auto &row : table.at("checks")) {
        const auto rows = row.contains("configs") ? rows_per_geometry(row, places.layout)
                                                  : std::vector<nlohmann::json>{row};
        for (const auto &one : rows) {
            CheckSpec spec = spec_of_row(one, places);
            if (!names.insert(spec.name).second) {
                throw CheckTableError("two checks are named '" + spec.name + "'");
            }
            checks.push_back(std::move(spec));
        }
    }
    return checks;
}

TestResult run_check(const CheckSpec &check, const CheckPlaces &places) {
    TestResult result;
    result.name = check.name;
    const auto start = std::chrono::steady_clock::now();
    const std::string head_before = tree_head(places);
    try {
        make_derived_files(check);
        kind_named(check.kind, check.name).run(check, places, result);
    } catch (const std::exception &e) {
        result.status = Status::Fail;
        result.diagnostics.push_back(e.what());
    }
    // No check may leave the user's tree elsewhere (make source makes it, so it may).
    const std::string head_after = tree_head(places);
    if (!check.moves_tree && !head_before.empty() && head_after != head_before) {
        result.status = Status::Fail;
        result.diagnostics.push_back("build/linux was left at " + head_after.substr(0, 12) +
                                     ", it was at " + head_before.substr(0, 12));
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

std::vector<TestResult> run_checks(const std::vector<CheckSpec> &checks, const CheckPlaces &places,
                                   const TestOptions &options, std::ostream &err) {
    std::vector<const CheckSpec *> chosen;
    for (const auto &check : checks) {
        if (selected(check, options)) {
            chosen.push_back(&check);
        }
    }
    std::vector<TestResult> results;
    if (options.list) {
        for (const auto *check : chosen) {
            err << check->kind << '\t' << check->name << '\n';
        }
        return results;
    }
    std::filesystem::create_directories(places.results);
    const auto ktap = places.results / "checks.ktap";
    for (const auto *check : chosen) {
        err << check->name
            << std::string(check->name.size() < 58 ? 58 - check->name.size() : 0, ' ') << ' '
            << std::flush;
        results.push_back(run_check(*check, places));
        const TestResult &r = results.back();
        err << outcome_text(r) << " (" << elapsed_text(r.seconds) << ")\n";
        if (r.status == Status::Fail || r.status == Status::Error) {
            const auto &d = r.diagnostics;
            for (auto it = d.size() > 15 ? d.end() - 15 : d.begin(); it != d.end(); ++it) {
                err << "    " << *it << '\n';
            }
        }
        write_checks_ktap(ktap, results, chosen.size());
    }
    return results;
}

} // namespace ptlab
