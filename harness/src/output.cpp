#include "ptlab/command.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <ostream>
#include <stdexcept>

namespace ptlab {

bool Command::given() const { return sub_ != nullptr && sub_->parsed(); }

void write_output(const std::string &path, const std::function<void(std::ostream &)> &writer) {
    if (path.empty()) {
        return;
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) {
        throw std::runtime_error("cannot write " + path);
    }
    writer(file);
    file.flush();
    if (!file) {
        throw std::runtime_error("error writing " + path);
    }
}

void add_output_options(CLI::App *cmd, OutputOptions &options) {
    cmd->add_option("--json", options.json, "write the verdict as JSON to this file");
    cmd->add_option("--junit", options.junit, "write JUnit XML to this file");
}

void write_outputs(const OutputOptions &options, const Summary &summary) {
    write_output(options.json, [&](std::ostream &o) { o << summary_to_json(summary); });
    write_output(options.junit, [&](std::ostream &o) { write_junit(o, summary); });
}

int report_run(const Verdict &verdict, const std::string &label, const OutputOptions &outputs,
               const std::string &ktap_out, std::ostream &out) {
    const Summary summary = summary_from_verdict(verdict, label);
    print_report(out, summary);
    write_outputs(outputs, summary);
    write_output(ktap_out, [&](std::ostream &o) { write_ktap_block(o, summary, label); });
    return verdict.outcome == Outcome::Pass ? 0 : 1;
}

} // namespace ptlab
