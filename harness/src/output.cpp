#include "ptlab/command.hpp"

#include "ptlab/geometry.hpp"
#include "ptlab/kconfig.hpp"
#include "ptlab/lines.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <unistd.h>

namespace ptlab {

bool Command::given() const { return sub_ != nullptr && sub_->parsed(); }

void write_output(const std::string &path, const std::function<void(std::ostream &)> &writer) {
    if (path.empty()) {
        return;
    }
    // Written aside and renamed: a reader (another run of the same kernel, gen_init_cpio)
    // never sees a half-written file.
    const std::string aside = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream file(aside, std::ios::binary | std::ios::trunc);
        if (!file) {
            throw std::runtime_error("cannot write " + path);
        }
        writer(file);
        file.flush();
        if (!file) {
            std::filesystem::remove(aside);
            throw std::runtime_error("error writing " + path);
        }
    }
    std::filesystem::rename(aside, path);
}

void add_output_options(CLI::App *cmd, OutputOptions &options) {
    cmd->add_option("--json", options.json, "write the verdict as JSON to this file");
    cmd->add_option("--junit", options.junit, "write JUnit XML to this file");
}

void write_outputs(const OutputOptions &options, const Summary &summary) {
    write_output(options.json, [&](std::ostream &o) { o << summary_to_json(summary); });
    write_output(options.junit, [&](std::ostream &o) { write_junit(o, summary); });
}

void add_promise_options(CLI::App *cmd, PromiseFiles &files) {
    cmd->add_option("--expect", files.expect,
                    "what the config at the step promises (ptlab expect --json)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--kconfig", files.kconfig,
                    "the built .config: its facts are checked against the promises")
        ->check(CLI::ExistingFile);
}

void apply_promise_files(const PromiseFiles &files, RunOptions &options) {
    if (!files.expect.empty()) {
        options.promised = load_promises(files.expect);
        options.known_failures = load_known_failures(files.expect);
        options.known_splats = load_known_splats(files.expect);
    }
    if (!files.kconfig.empty()) {
        options.host_facts =
            facts_from("config", config_facts(parse_dotconfig(read_lines(files.kconfig))));
    }
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
