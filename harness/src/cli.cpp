#include "ptlab/cli.hpp"

#include "ptlab/command.hpp"

#include <CLI/CLI.hpp>

#include <ostream>
#include <stdexcept>

namespace ptlab {

int run_cli(int argc, const char *const *argv, std::ostream &out, std::ostream &err) {
    CLI::App app{"ptlab: the kernel test lab's host tool: run guests, judge them, report", "ptlab"};
    app.require_subcommand(1);
    Commands commands;
    add_verdict_commands(commands);
    add_config_commands(commands);
    add_tree_commands(commands);
    add_report_commands(commands);
    add_lab_commands(commands);
    for (const auto &command : commands) {
        command->add(app);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e, out, err) == 0 ? 0 : 2;
    }
    try {
        for (const auto &command : commands) {
            if (command->given()) {
                return command->run(out, err);
            }
        }
    } catch (const std::exception &e) {
        err << "ptlab: error: " << e.what() << '\n';
        return 2;
    }
    err << app.help();
    return 2;
}

} // namespace ptlab
