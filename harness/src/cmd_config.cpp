#include "ptlab/command.hpp"

#include "ptlab/expect.hpp"
#include "ptlab/geometry.hpp"
#include "ptlab/kconfig.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/promises.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

// Kconfig: fragments against a .config, single options, the closest build, expectations.

namespace ptlab {

namespace {

int config_check(const std::string &config_path, const std::vector<std::string> &fragments,
                 std::ostream &out) {
    const std::vector<std::filesystem::path> paths(fragments.begin(), fragments.end());
    const auto problems = check_fragments(paths, parse_dotconfig(read_lines(config_path)));
    for (const auto &problem : problems) {
        out << problem << '\n';
    }
    const std::size_t checked = fragment_symbols(paths);
    if (problems.empty()) {
        out << "config-check: " << checked << " options checked, all set as asked\n";
        return 0;
    }
    out << "config-check: " << checked << " options checked, " << problems.size()
        << " not set as asked\n";
    return 1;
}

struct ExpectArgs {
    std::string data;
    std::string geometry;
    std::string subjects;
    std::string json_out;
    std::string rules_out;
};

int expect_cmd(const ExpectArgs &args, std::ostream &out, std::ostream &err) {
    const auto data = nlohmann::json::parse(read_text_file(args.data));
    std::vector<std::string> subjects;
    for (const auto &line : read_lines(args.subjects)) {
        if (!trim(line).empty()) {
            subjects.emplace_back(trim(line));
        }
    }
    const Expectations e = expect(data, geometry_of_fragment(args.geometry), subjects);
    for (const auto &s : e.unknown_subjects) {
        err << "ptlab expect: no expectations for a commit named '" << s
            << "'; it is taken to change nothing\n";
    }
    const std::string json =
        nlohmann::json{{"values", e.values}, {"patches", e.patches}}.dump(2) + "\n";
    if (args.json_out.empty() && args.rules_out.empty()) {
        out << json;
    }
    write_output(args.json_out, [&](std::ostream &o) { o << json; });
    write_output(args.rules_out, [&](std::ostream &o) { o << to_module_rules(e); });
    return 0;
}

/// Each fact of a built .config against the promises; 1 when one is broken.
int config_promises(const PromiseFiles &files, std::ostream &out) {
    RunOptions options;
    apply_promise_files(files, options);
    const auto checks = check_promises(options.promised, options.host_facts);
    for (const auto &check : checks) {
        out << (check.kept() ? "kept   " : "BROKEN ") << check.message() << '\n';
    }
    const std::size_t n_broken = broken(checks).size();
    out << "config-promises: " << checks.size() << " checked, " << n_broken << " broken\n";
    return n_broken == 0 ? 0 : 1;
}

class ConfigCheckCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "config-check", "check that a .config has every option as a Kconfig fragment asks");
        sub_->add_option("--config", config_path, "the .config to check")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("FRAGMENT", fragments, "Kconfig fragment")
            ->required()
            ->check(CLI::ExistingFile);
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return config_check(config_path, fragments, out);
    }

private:
    std::string config_path;
    std::vector<std::string> fragments;
};

class ConfigGetCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("config-get",
                                  "print one symbol's value in a .config (n if not set)");
        sub_->add_option("--config", get_config_path, "the .config to read")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("SYMBOL", symbol, "symbol, with or without CONFIG_")->required();
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        out << config_get(parse_dotconfig(read_lines(get_config_path)), symbol) << '\n';
        return 0;
    }

private:
    std::string get_config_path;
    std::string symbol;
};

class ClosestConfigCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "closest-config", "print the candidate .config closest to --config (fewest differing "
                              "options; the first of equals), and the distance");
        sub_->add_option("--config", seed_target, "the .config to match")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("CANDIDATE", seed_candidates, ".config of a built folder, newest first")
            ->required()
            ->check(CLI::ExistingFile);
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        const DotConfig target = parse_dotconfig(read_lines(seed_target));
        std::vector<DotConfig> candidates;
        for (const auto &path : seed_candidates) {
            candidates.push_back(parse_dotconfig(read_lines(path)));
        }
        const std::size_t best = closest_config(target, candidates);
        out << seed_candidates[best] << '\t' << config_distance(target, candidates[best]) << '\n';
        return 0;
    }

private:
    std::string seed_target;
    std::vector<std::string> seed_candidates;
};

class GeometryCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("geometry",
                                  "print the page-table geometry a fragment states: page size, VA "
                                  "bits, levels, folded levels, PMD size, split PMD lock possible");
        sub_->add_option("FRAGMENT", fragment, "configs/geometry/<name>.config")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--get", key, "print only this key's value");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Geometry g = geometry_of_fragment(fragment);
        auto facts = g.facts();
        facts["page_size_name"] = g.page_size_name();
        std::string folded;
        for (const auto &level : g.folded_levels()) {
            folded += (folded.empty() ? "" : ",") + level;
        }
        facts["folded"] = folded.empty() ? "none" : folded;
        facts["split_pmd_possible"] = g.split_pmd_possible() ? "yes" : "no";
        if (!key.empty()) {
            const auto it = facts.find(key);
            if (it == facts.end()) {
                err << "ptlab geometry: no key '" << key << "'; keys:";
                for (const auto &[k, _] : facts) {
                    err << ' ' << k;
                }
                err << '\n';
                return 2;
            }
            out << it->second << '\n';
            return 0;
        }
        for (const auto &[k, v] : facts) {
            out << k << '=' << v << '\n';
        }
        return 0;
    }

private:
    std::string fragment;
    std::string key;
};

class ExpectCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "expect", "what a geometry at a step promises: JSON (for the host's judgement) and "
                      "the audit module's per-table rules");
        sub_->add_option("--data", expect_args.data, "configs/expectations.json")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--geometry", expect_args.geometry, "configs/geometry/<name>.config")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--subjects", expect_args.subjects,
                         "file with the subjects of the step's commits on top of series-base")
            ->required()
            ->check(CLI::ExistingFile);
        sub_->add_option("--json-out", expect_args.json_out, "write the promises as JSON here");
        sub_->add_option("--rules-out", expect_args.rules_out,
                         "write the module's rules (key:value lines) here");
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return expect_cmd(expect_args, out, err);
    }

private:
    ExpectArgs expect_args;
};

class ConfigPromisesCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("config-promises",
                                  "check a built .config's facts (geometry, split PMD lock) "
                                  "against a step's promises; exit 1 when one is broken");
        add_promise_options(sub_, files);
        sub_->get_option("--expect")->required();
        sub_->get_option("--kconfig")->required();
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return config_promises(files, out);
    }

private:
    PromiseFiles files;
};

} // namespace

void add_config_commands(Commands &into) {
    into.push_back(std::make_unique<ConfigCheckCommand>());
    into.push_back(std::make_unique<ConfigGetCommand>());
    into.push_back(std::make_unique<ClosestConfigCommand>());
    into.push_back(std::make_unique<GeometryCommand>());
    into.push_back(std::make_unique<ExpectCommand>());
    into.push_back(std::make_unique<ConfigPromisesCommand>());
}

} // namespace ptlab
