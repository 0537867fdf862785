#include "ptlab/mutants.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/phase.hpp"

#include <algorithm>
#include <iomanip>
#include <map>
#include <ostream>
#include <regex>

// The catalogue as data, what a run found as detections, and the judgement of one cell;
// mutants_run.cpp applies, builds and boots.

namespace ptlab {

namespace {

using nlohmann::json;

std::vector<std::string> string_list(const json &value) {
    if (value.is_string()) {
        return split_words(value.get<std::string>());
    }
    return value.get<std::vector<std::string>>();
}

Mutant mutant_from(const json &entry, const fs::path &folder, const Layout &layout) {
    Mutant m;
    m.name = entry.at("name").get<std::string>();
    m.patch = folder / entry.at("patch").get<std::string>();
    m.defect = entry.at("defect").get<std::string>();
    m.steps = string_list(entry.at("onto"));
    m.configs = string_list(entry.at("configs"));
    m.plans = string_list(entry.at("plans"));
    const json &expect = entry.at("expect");
    m.expect.reason = expect.at("reason").get<std::string>();
    m.expect.by = expect.at("by").get<std::string>();
    m.expect.console_matches = string_list(expect.value("console_matches", json::array()));
    m.kernel_args = entry.value("kernel_args", "");
    m.timeout_seconds = entry.value("timeout", 0);
    m.fast_config = entry.value("make_test", "");
    if (!fs::exists(m.patch)) {
        throw CatalogueError("no patch " + m.patch.string());
    }
    if (m.steps.empty() || m.configs.empty() || m.plans.empty()) {
        throw CatalogueError("onto, configs and plans must each name at least one");
    }
    for (const auto &config : m.configs) {
        check_config_name(config, layout);
    }
    check_plan_names(m.plans, layout);
    if (!m.fast_config.empty() &&
        std::find(m.configs.begin(), m.configs.end(), m.fast_config) == m.configs.end()) {
        throw CatalogueError("make_test names " + m.fast_config + ", not one of its configs");
    }
    for (const auto &pattern : m.expect.console_matches) {
        (void)std::regex(pattern); // a bad pattern is the catalogue's error, not a miss
    }
    return m;
}

} // namespace

std::vector<Mutant> load_catalogue(const fs::path &file, const Layout &layout) {
    json table;
    try {
        table = json::parse(read_text_file(file));
    } catch (const json::exception &e) {
        throw CatalogueError(file.string() + ": " + e.what());
    }
    std::vector<Mutant> out;
    for (const auto &entry : table.at("mutants")) {
        const std::string name = entry.value("name", "entry " + std::to_string(out.size() + 1));
        try {
            out.push_back(mutant_from(entry, file.parent_path(), layout));
        } catch (const std::exception &e) {
            throw CatalogueError(file.string() + ": mutant " + name + ": " + e.what());
        }
        for (std::size_t i = 0; i + 1 < out.size(); ++i) {
            if (out[i].name == out.back().name) {
                throw CatalogueError(file.string() + ": two mutants named " + name);
            }
        }
    }
    return out;
}

std::vector<MutantCell> mutant_cells(const std::vector<Mutant> &catalogue,
                                     const std::vector<std::string> &names,
                                     const std::vector<std::string> &configs, bool fast) {
    std::vector<std::string> known;
    for (const auto &m : catalogue) {
        known.push_back(m.name);
    }
    for (const auto &name : names) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            throw CatalogueError("unknown mutant '" + name +
                                 "'; mutants: " + join_words(known, " "));
        }
    }
    auto wanted = [](const std::vector<std::string> &only, const std::string &x) {
        return only.empty() || std::find(only.begin(), only.end(), x) != only.end();
    };
    std::vector<MutantCell> cells;
    for (const auto &m : catalogue) {
        if (!wanted(names, m.name) || (fast && m.fast_config.empty())) {
            continue;
        }
        if (fast) {
            cells.push_back({&m, m.fast_config, m.steps.front()});
            continue;
        }
        for (const auto &step : m.steps) {
            for (const auto &config : m.configs) {
                if (wanted(configs, config)) {
                    cells.push_back({&m, config, step});
                }
            }
        }
    }
    return cells;
}

namespace {

void add_detection(std::vector<Detection> &into, const std::string &what) {
    for (auto &d : into) {
        if (d.what == what) {
            ++d.count;
            return;
        }
    }
    into.push_back({what, 1});
}

void failing_leaves(const json &tests, const std::string &path, std::vector<Detection> &into) {
    for (const auto &test : tests) {
        const std::string name = test.value("name", "?");
        const std::string here = path.empty() ? name : path + "/" + name;
        const auto subtests = test.value("subtests", json::array());
        const std::string status = test.value("status", "");
        if (!subtests.empty()) {
            failing_leaves(subtests, here, into);
        } else if (status == "fail" || status == "error") {
            add_detection(into, here.starts_with("promises/") ? "promise:" + here.substr(9)
                                                              : "test:" + here);
        }
    }
}

const Detection *find_detection(const MutantResult &r) {
    for (const auto &d : r.detections) {
        if (d.what == r.expect.by) {
            return &d;
        }
    }
    return nullptr;
}

std::string detection_text(const Detection &d) {
    std::string text = d.what;
    if (const auto colon = text.find(':'); colon != std::string::npos) {
        text[colon] = ' ';
    }
    return d.count > 1 ? text + " x" + std::to_string(d.count) : text;
}

} // namespace

std::vector<Detection> detections_of(const json &result) {
    std::vector<Detection> out;
    for (const auto &splat : result.value("splats", json::array())) {
        add_detection(out, "splat:" + splat.value("kind", "?"));
    }
    failing_leaves(result.value("tests", json::array()), "", out);
    return out;
}

const char *outcome_name(MutantOutcome outcome) {
    switch (outcome) {
    case MutantOutcome::Caught:
        return "yes";
    case MutantOutcome::Missed:
        return "NO";
    case MutantOutcome::Other:
        return "OTHER";
    case MutantOutcome::Error:
        return "ERROR";
    }
    return "?";
}

void judge_mutant(const json &result, const std::string &console, MutantResult &into) {
    into.reason = result.value("reason", "");
    into.detections = detections_of(result);
    if (result.value("outcome", "fail") == "pass") {
        into.outcome = MutantOutcome::Missed;
        into.problems.push_back("the run passed: the lab did not see the defect");
        return;
    }
    if (into.reason != into.expect.reason) {
        into.problems.push_back("caught as '" + into.reason + "', the catalogue says '" +
                                into.expect.reason + "'");
    }
    if (find_detection(into) == nullptr) {
        into.problems.push_back("no " + into.expect.by + " among what the run found");
    }
    for (const auto &pattern : into.expect.console_matches) {
        if (!has_matching_line(console, pattern)) {
            into.problems.push_back("the console has no line matching '" + pattern + "'");
        }
    }
    into.outcome = into.problems.empty() ? MutantOutcome::Caught : MutantOutcome::Other;
}

std::string caught_by_text(const MutantResult &r) {
    if (const Detection *d = find_detection(r)) {
        return detection_text(*d);
    }
    std::vector<std::string> found;
    for (const auto &d : r.detections) {
        if (found.size() == 3) {
            found.push_back("...");
            break;
        }
        found.push_back(detection_text(d));
    }
    return found.empty() ? r.reason : join_words(found, ", ");
}

void print_mutant_table(std::ostream &out, const std::vector<MutantResult> &results) {
    std::size_t name_width = 6;
    std::size_t by_width = 2;
    for (const auto &r : results) {
        name_width = std::max(name_width, r.name.size());
        by_width = std::max(by_width, caught_by_text(r).size());
    }
    auto row = [&](const std::string &name, const std::string &config, const std::string &step,
                   const std::string &caught, const std::string &by, const std::string &time) {
        out << pad_right(name, name_width + 2) << pad_right(config, 8) << pad_right(step, 14)
            << pad_right(caught, 8) << pad_right(by, by_width + 2) << time << '\n';
    };
    row("MUTANT", "CONFIG", "STEP", "CAUGHT", "BY", "TIME");
    std::map<MutantOutcome, int> counts;
    for (const auto &r : results) {
        ++counts[r.outcome];
        row(r.name, r.config, r.step, outcome_name(r.outcome), caught_by_text(r),
            elapsed_text(r.seconds));
        for (const auto &problem : r.problems) {
            out << "    " << problem << '\n';
        }
    }
    out << counts[MutantOutcome::Caught] << " caught as stated, " << counts[MutantOutcome::Missed]
        << " missed, " << counts[MutantOutcome::Other] << " caught otherwise, "
        << counts[MutantOutcome::Error] << " errors\n";
}

std::string mutant_results_json(const std::vector<MutantResult> &results) {
    json cells = json::array();
    for (const auto &r : results) {
        json detections = json::array();
        for (const auto &d : r.detections) {
            detections.push_back({{"what", d.what}, {"count", d.count}});
        }
        cells.push_back({{"mutant", r.name},
                         {"config", r.config},
                         {"step", r.step},
                         {"sha", r.sha},
                         {"caught", outcome_name(r.outcome)},
                         {"by", caught_by_text(r)},
                         {"reason", r.reason},
                         {"expected_reason", r.expect.reason},
                         {"expected_by", r.expect.by},
                         {"detections", detections},
                         {"problems", r.problems},
                         {"run_dir", r.run_dir},
                         {"seconds", r.seconds}});
    }
    return json{{"cells", cells}}.dump(2) + "\n";
}

} // namespace ptlab
