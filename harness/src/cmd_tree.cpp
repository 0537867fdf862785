#include "ptlab/command.hpp"

#include "ptlab/base_record.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/patches.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

// The kernel tree: patch provenance and the Debian base it was built on.

namespace ptlab {

namespace {

struct BaseCheckArgs {
    std::string record;
    BaseRecord built;
    std::string readme;
    bool write = false;
};

/// Exit 0: the tree is the recorded one; 3: Debian moved the base (say so, go on); 1: the
/// same version gave other ids, or README quotes ids that are not the record's.
int base_check(const BaseCheckArgs &args, std::ostream &out) {
    if (args.write) {
        write_output(args.record, [&](std::ostream &o) { o << base_record_to_json(args.built); });
        out << "source: recorded " << args.built.package << " " << args.built.version << " in "
            << args.record << '\n';
        return 0;
    }
    const BaseRecord recorded = load_base_record(args.record);
    const BaseComparison c = compare_base(recorded, args.built);
    for (const auto &line : c.lines) {
        out << line << '\n';
    }
    int rc = c.drift == BaseDrift::NewVersion ? 3 : c.drift == BaseDrift::None ? 0 : 1;
    if (!args.readme.empty()) {
        for (const auto &id : unquoted_ids(recorded, read_text_file(args.readme))) {
            out << args.readme << " does not quote the recorded " << id << '\n';
            rc = 1;
        }
    }
    return rc;
}

struct PatchCheckArgs {
    std::string upstream;
    std::string series;
    std::string base;
};

int patch_check(const PatchCheckArgs &args, std::ostream &out) {
    const auto upstream = load_patches(args.upstream);
    const auto series = load_patches(args.series);
    const auto base = load_patches(args.base);
    const auto problems = check_provenance(upstream, series, base);
    for (const auto &p : problems) {
        out << p << '\n';
    }
    out << "patch-check: " << upstream.size() << " upstream, " << series.size() << " ported, "
        << base.size() << " baseline patches, " << problems.size() << " problems\n";
    return problems.empty() ? 0 : 1;
}

class PatchCheckCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "patch-check", "check the ported series and the baseline against the v4 patches");
        sub_->add_option("--upstream", patch_args.upstream, "patches/upstream-v4")
            ->required()
            ->check(CLI::ExistingDirectory);
        sub_->add_option("--series", patch_args.series, "patches/6.1/series")
            ->required()
            ->check(CLI::ExistingDirectory);
        sub_->add_option("--base", patch_args.base, "patches/6.1/base")
            ->required()
            ->check(CLI::ExistingDirectory);
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return patch_check(patch_args, out);
    }

private:
    PatchCheckArgs patch_args;
};

class BaseCheckCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand(
            "base-check",
            "compare the tree make source built with the recorded Debian base; exit 0 "
            "same, 3 another Debian version, 1 same version but other ids");
        sub_->add_option("--record", base_args.record, "patches/6.1/verified.json")->required();
        sub_->add_option("--package", base_args.built.package, "the Debian package")->required();
        sub_->add_option("--version", base_args.built.version, "its version in this tree")
            ->required();
        for (const char *tag : {"pristine", "series-base", "series-head"}) {
            sub_->add_option(std::string("--") + tag, base_args.built.commits[tag],
                             std::string("the tree's ") + tag + " commit")
                ->required();
        }
        sub_->add_option("--readme", base_args.readme,
                         "also check that this file quotes the "
                         "recorded ids")
            ->check(CLI::ExistingFile);
        sub_->add_flag("--write", base_args.write, "record this tree as the verified base");
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        return base_check(base_args, out);
    }

private:
    BaseCheckArgs base_args;
};

} // namespace

void add_tree_commands(Commands &into) {
    into.push_back(std::make_unique<PatchCheckCommand>());
    into.push_back(std::make_unique<BaseCheckCommand>());
}

} // namespace ptlab
