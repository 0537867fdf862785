#include "ptlab/command.hpp"

#include "ptlab/bench_run.hpp"
#include "ptlab/bisect.hpp"
#include "ptlab/boot.hpp"
#include "ptlab/compare.hpp"
#include "ptlab/kernel_build.hpp"
#include "ptlab/lab_test.hpp"
#include "ptlab/lava_run.hpp"
#include "ptlab/layout.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/matrix.hpp"
#include "ptlab/mutants.hpp"
#include "ptlab/request.hpp"
#include "ptlab/tree.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <ostream>

// The lab's jobs: build a step, boot it, bisect; each reads its request from make's
// variables (the environment), checked before anything builds.

namespace ptlab {

Layout lab_layout() {
    const char *top = std::getenv("PTLAB_TOP");
    const char *build = std::getenv("PTLAB_BUILD");
    const Layout layout = Layout::at(top == nullptr ? fs::current_path() : fs::path(top),
                                     build == nullptr ? fs::path() : fs::path(build));
    if (!fs::is_directory(layout.top / "configs/geometry")) {
        throw std::runtime_error(layout.top.string() +
                                 " is not the lab's clone (no configs/geometry): run ptlab from "
                                 "its top folder or set PTLAB_TOP");
    }
    // ccache hashes paths relative to the clone and not the working folder, so a clone
    // elsewhere (CI's) hits the cache another clone filled.
    setenv("CCACHE_BASEDIR", layout.top.c_str(), 0);
    setenv("CCACHE_NOHASHDIR", "1", 0);
    return layout;
}

namespace {

std::string self_path() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? "ptlab" : self.string();
}

class KernelCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("kernel", "build CONFIG at STEP (FLAVOUR) out of tree with its "
                                            "module; print the output folder (make kernel)");
        sub_->add_flag("--config-only", options_.config_only, "stop after .config and its check");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        const Request r = request_from(process_env(), layout);
        const BuiltKernel built =
            build_kernel(layout, {r.config, r.flavour, r.step}, options_, Progress(err, r.verbose));
        // What the step promises, beside what it built: config-promises judges the two.
        write_promises(layout, r, built.dir);
        out << built.dir.dir.string() << '\n';
        return 0;
    }

private:
    BuildOptions options_;
};

class RunCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("run", "build what is missing, boot CONFIG at STEP, run PLANS, "
                                         "judge; 0 pass, 1 fail (make run)");
        sub_->add_flag("--shell", shell_, "the terminal is the guest's console (make shell)");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        const Request r = request_from(process_env(), layout);
        const Progress progress(err, r.verbose);
        if (shell_) {
            return build_and_shell(layout, r, out, progress);
        }
        return build_and_boot(layout, r, out, progress);
    }

private:
    bool shell_ = false;
};

class BisectStepCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("bisect-step",
                                  "one step of git bisect run on build/linux's HEAD: 0 good, 1 "
                                  "bad, 125 does not build, 128 the lab cannot run");
    }
    int run(std::ostream &out, std::ostream &err) override {
        try {
            const Layout layout = lab_layout();
            const Request r = request_from(process_env(), layout);
            return bisect_step(layout, r, out, Progress(err, r.verbose),
                               step_options_from(process_env()));
        } catch (const std::exception &e) {
            err << "bisect-step: " << e.what() << '\n';
            return bisect_exit::abort;
        }
    }
};

class BisectCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("bisect", "git bisect run over GOOD..BAD (or SERIES=<dir> on "
                                            "series-base) with CONFIG and PLANS (make bisect)");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        const Getenv env = process_env();
        const Request r = request_from(env, layout);
        BisectRequest b = bisect_request_from(env);
        b.self = self_path();
        return bisect(layout, r, b, out, Progress(err, r.verbose));
    }
};

class MatrixCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ =
            app.add_subcommand("matrix", "every step x every config (CONFIGS): build, boot "
                                         "MATRIX_PLANS, judge; table, JSON, JUnit (make matrix)");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        const MatrixRequest m = matrix_request_from(process_env(), layout);
        return run_matrix(layout, m, out, Progress(err, m.boot.verbose));
    }
};

class LavaStatusCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("lava-status", "the LAVA instance ENGINE=lava uses (LAVA_URL, "
                                                 "else make lava-up's): version and devices");
        sub_->add_option("--wait", wait_, "seconds to wait for it to answer")
            ->check(CLI::Range(0, 3600));
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        const Layout layout = lab_layout();
        const Request r = request_from(process_env(), layout);
        return lava_status(lava_instance(layout, r.lava), wait_, out);
    }

private:
    int wait_ = 0;
};

class MutantsCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("mutants", "each known-bad patch of the catalogue (MUTANTS, "
                                             "CONFIGS) as a throwaway commit: build, boot, must "
                                             "be caught as stated; a table (make mutants)");
        sub_->add_flag("--fast", fast_, "only the cells make test runs");
        sub_->add_flag("--list", list_, "print the cells, run nothing");
        sub_->add_option("--catalogue", catalogue_, "default: tests/mutants/catalogue.json")
            ->check(CLI::ExistingFile);
        sub_->add_option("--json", json_, "also write the results here");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        MutantsRequest m = mutants_request_from(process_env(), layout);
        m.fast = fast_;
        m.json = json_;
        if (!catalogue_.empty()) {
            m.catalogue = catalogue_;
        }
        if (list_) {
            const auto catalogue = load_catalogue(m.catalogue, layout);
            for (const auto &cell : mutant_cells(catalogue, m.names, m.configs, m.fast)) {
                out << cell.mutant->name << '\t' << cell.config << '\t' << cell.step << '\t'
                    << join_words(cell.mutant->plans, " ") << '\t' << cell.mutant->defect << '\n';
            }
            return 0;
        }
        return run_mutants(layout, m, out, Progress(err, m.boot.verbose));
    }

private:
    bool fast_ = false;
    bool list_ = false;
    std::string catalogue_;
    std::string json_;
};

class BenchCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("bench", "series-base against series-head of CONFIG: fault "
                                           "throughput and lock contention (make bench)");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        const BenchRequest b = bench_request_from(process_env(), layout);
        return run_bench(layout, b, out, Progress(err, b.boot.verbose));
    }
};

class TestCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("test", "the checks of tests/checks.json, one KTAP stream; the "
                                          "last line is 'N passed, N failed' (make test)");
        auto *host = sub_->add_flag("--host-only", host_only_, "no guest boots (make check)");
        sub_->add_flag("--full", full_, "also the full suite's boots (make test-full)")
            ->excludes(host);
        sub_->add_option("--only", options_.only,
                         "only the checks whose name matches this "
                         "regular expression");
        sub_->add_flag("--list", options_.list, "list the selected checks, run nothing");
        sub_->add_option("--table", table_, "the check table (default: tests/checks.json)");
    }
    int run(std::ostream &out, std::ostream &err) override {
        const Layout layout = lab_layout();
        options_.suite = host_only_ ? Suite::Host : full_ ? Suite::Full : Suite::Guest;
        // Its own folder: make bench and make matrix results in build/results stay.
        const CheckPlaces places{layout, layout.test_results(), self_path()};
        const auto checks =
            load_checks(nlohmann::json::parse(read_text_file(
                            table_.empty() ? layout.top / "tests/checks.json" : fs::path(table_))),
                        places);
        if (!options_.list) {
            fs::remove_all(places.results);
        }
        const auto start = std::chrono::steady_clock::now();
        run_checks(checks, places, options_, err);
        if (options_.list) {
            return 0;
        }
        err << "== summary (make test took "
            << elapsed_text(
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count())
            << ")\n";
        const int status = summarize(
            {(places.results / "checks.ktap").string()},
            {(places.results / "summary.json").string(), (places.results / "summary.xml").string()},
            out);
        const std::string kind = host_only_ ? "check" : full_ ? "test-full" : "test";
        err << "results kept as " << keep_results(layout, places.results, kind, {}).string()
            << " (make compare)\n";
        return status;
    }

private:
    bool host_only_ = false;
    bool full_ = false;
    TestOptions options_;
    std::string table_;
};

class KnobsCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("knobs", "the make variables, their defaults and meaning");
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        print_knobs(out);
        return 0;
    }
};

class LayoutCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("layout", "print where the request's outputs are: kernel-dir, "
                                            "run-dir, step-name, config, src, results, lava, "
                                            "lava-client");
        sub_->add_option("WHAT", what_,
                         "kernel-dir, run-dir, step-name, config, src, results, lava (make "
                         "lava-up's folder) or lava-client (its lavacli settings)")
            ->required()
            ->check(CLI::IsMember({"kernel-dir", "run-dir", "step-name", "config", "src", "results",
                                   "lava", "lava-client"}));
    }
    int run(std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        const Layout layout = lab_layout();
        if (what_ == "src") {
            out << layout.src().string() << '\n';
            return 0;
        }
        if (what_ == "results") {
            out << layout.results().string() << '\n';
            return 0;
        }
        if (what_ == "lava" || what_ == "lava-client") {
            out << (what_ == "lava" ? layout.lava() : layout.lava_client() / lavacli_settings)
                       .string()
                << '\n';
            return 0;
        }
        const Request r = request_from(process_env(), layout);
        if (what_ == "config") {
            out << r.config << '\n';
            return 0;
        }
        const std::string step = Tree(layout.src()).step_name(r.step);
        if (what_ == "step-name") {
            out << step << '\n';
            return 0;
        }
        out << (what_ == "run-dir" ? layout.run_dir(r.config, r.flavour, step, r.plans)
                                   : layout.kernel(r.config, r.flavour, step).dir)
                   .string()
            << '\n';
        return 0;
    }

private:
    std::string what_;
};

class AmCommand final : public Command {
public:
    void add(CLI::App &app) override {
        sub_ = app.add_subcommand("am", "git am patches onto a tree with the lab's committer; a "
                                        "patch that does not apply names itself and its files");
        sub_->add_option("--repo", repo_, "the git tree")
            ->required()
            ->check(CLI::ExistingDirectory);
        sub_->add_option("PATCH", patches_, "patches, applied in order")
            ->required()
            ->check(CLI::ExistingFile);
    }
    int run([[maybe_unused]] std::ostream &out, [[maybe_unused]] std::ostream &err) override {
        const Tree tree(repo_);
        for (const auto &patch : patches_) {
            am_patch(tree, patch);
        }
        return 0;
    }

private:
    std::string repo_;
    std::vector<std::string> patches_;
};

} // namespace

void add_lab_commands(Commands &into) {
    into.push_back(std::make_unique<KernelCommand>());
    into.push_back(std::make_unique<RunCommand>());
    into.push_back(std::make_unique<BisectStepCommand>());
    into.push_back(std::make_unique<BisectCommand>());
    into.push_back(std::make_unique<MatrixCommand>());
    into.push_back(std::make_unique<LavaStatusCommand>());
    into.push_back(std::make_unique<MutantsCommand>());
    into.push_back(std::make_unique<BenchCommand>());
    into.push_back(std::make_unique<TestCommand>());
    into.push_back(std::make_unique<KnobsCommand>());
    into.push_back(std::make_unique<LayoutCommand>());
    into.push_back(std::make_unique<AmCommand>());
}

} // namespace ptlab
