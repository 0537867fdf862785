// The subcommands of ptlab: each one a class that registers its options and runs, grouped by
// job in src/cmd_*.cpp; run_cli() (cli.cpp) only parses and dispatches.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/report.hpp"
#include "ptlab/run.hpp"

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace ptlab {

class Command {
public:
    virtual ~Command() = default;
    /// Adds the subcommand and its options to app.
    virtual void add(CLI::App &app) = 0;
    /// Runs it; 0 pass, 1 fail (other codes as the subcommand documents).
    virtual int run(std::ostream &out, std::ostream &err) = 0;
    [[nodiscard]] bool given() const;

protected:
    CLI::App *sub_ = nullptr;
};

using Commands = std::vector<std::unique_ptr<Command>>;

/// check-log, summarize, result-get, run-guest
void add_verdict_commands(Commands &into);
/// config-check, config-get, closest-config, geometry, expect, config-promises
void add_config_commands(Commands &into);
/// patch-check, base-check
void add_tree_commands(Commands &into);
/// bench-report
void add_report_commands(Commands &into);
/// kernel, run, bisect-step, bisect, matrix, mutants, bench, knobs, layout, am
void add_lab_commands(Commands &into);

/// The clone: $PTLAB_TOP, else the working folder (make runs from the clone's top); the
/// build folder $PTLAB_BUILD, else build/ in it.
Layout lab_layout();

/// Writes a file through writer; nothing when path is empty; throws when it cannot.
void write_output(const std::string &path, const std::function<void(std::ostream &)> &writer);

struct OutputOptions {
    std::string json;
    std::string junit;
};
void add_output_options(CLI::App *cmd, OutputOptions &options);
void write_outputs(const OutputOptions &options, const Summary &summary);

/// What a run is judged against beyond its own KTAP: the step's promises (`ptlab expect
/// --json`) and the built .config's facts.
struct PromiseFiles {
    std::string expect;
    std::string kconfig;
};
void add_promise_options(CLI::App *cmd, PromiseFiles &files);
void apply_promise_files(const PromiseFiles &files, RunOptions &options);

/// KTAP files and GoogleTest JSON reports as one summary on out (ending "N passed, N
/// failed"), JSON and JUnit; 0 when nothing failed.
int summarize(const std::vector<std::string> &files, const OutputOptions &outputs,
              std::ostream &out);

/// One boot's verdict as a report on out, JSON, JUnit and a KTAP block (each skipped when
/// its path is empty); 0 on pass, 1 on fail. check-log and run-guest share it.
int report_run(const Verdict &verdict, const std::string &label, const OutputOptions &outputs,
               const std::string &ktap_out, std::ostream &out);

} // namespace ptlab
