#include "ptlab/lava_run.hpp"

#include "ptlab/geometry.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/result.hpp"
#include "ptlab/tools.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <fstream>
#include <map>
#include <ostream>
#include <thread>

namespace ptlab {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

/// How many failed polls in a row lose a job (a minute, at the usual interval).
constexpr int polls_before_lost = 12;
constexpr int submit_attempts = 3;

std::string with_slash(std::string url) {
    if (!url.empty() && url.back() != '/') {
        url += '/';
    }
    return url;
}

/// The remote instance's client settings, written by the lab from the knobs (0600: the token).
fs::path write_remote_client(const Layout &layout, const LavaSettings &s) {
    const fs::path dir = layout.lava() / "remote";
    fs::create_directories(dir);
    YAML::Node identity;
    identity["uri"] = with_slash(s.url) + "RPC2";
    identity["username"] = s.user;
    identity["token"] = s.token;
    YAML::Node config;
    config["default"] = identity;
    YAML::Emitter out;
    out << config;
    const fs::path file = dir / lavacli_settings;
    write_output(file.string(), [&](std::ostream &o) { o << out.c_str() << '\n'; });
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    return dir;
}

/// The web address of the instance whose client settings are in dir: its RPC2 URI's base.
std::string url_of_client(const fs::path &dir) {
    const YAML::Node config = YAML::LoadFile((dir / lavacli_settings).string());
    std::string uri = config["default"]["uri"].as<std::string>();
    const std::string rpc = "RPC2";
    if (uri.size() >= rpc.size() && uri.compare(uri.size() - rpc.size(), rpc.size(), rpc) == 0) {
        uri.resize(uri.size() - rpc.size());
    }
    return with_slash(uri);
}

/// A copy under the artifacts folder: a queued job must fetch what was built for it, not
/// what a later boot of the same kernel wrote over it.
std::string publish(const LavaInstance &instance, const fs::path &file, const fs::path &relative) {
    const fs::path target = instance.artifacts_dir / relative;
    fs::create_directories(target.parent_path());
    fs::copy_file(file, target, fs::copy_options::overwrite_existing);
    return with_slash(instance.artifacts_url) + relative.generic_string();
}

/// Where a boot's files go: the run folder's path under build/runs, which is unique per
/// config, flavour, step and plans.
fs::path artifact_folder(const Layout &layout, const RunGuestArgs &args) {
    return fs::path(args.run_dir).lexically_relative(layout.build / "runs");
}

std::string cell_line(const LavaCell &cell) {
    return "lava: job " + cell.job_id + " " + cell.label + ": ";
}

void write_lava_json(const LavaInstance &instance, const LavaCell &cell, const LavaLog &log) {
    const nlohmann::json j = {{"job", cell.job_id},
                              {"url", instance.job_url(cell.job_id)},
                              {"state", cell.status.state},
                              {"health", cell.status.health},
                              {"device", cell.status.device},
                              {"error_type", log.error_type},
                              {"error_msg", log.error_msg},
                              {"problem", cell.problem},
                              {"monitor_results", log.monitor_results}};
    write_output((fs::path(cell.args.run_dir) / "lava.json").string(),
                 [&](std::ostream &o) { o << j.dump(2) << '\n'; });
}

/// The reason in the run folder's result.json ("" for a pass or no result).
std::string verdict_reason(const std::string &run_dir) {
    const std::string file = run_files(run_dir).result_json;
    return fs::exists(file) ? result_field(nlohmann::json::parse(read_text_file(file)), "reason")
                            : "";
}

/// The finished job's log becomes the run folder's console.log, judged as a local one.
void collect(const LavaClient &client, LavaCell &cell, std::ostream &out) {
    const std::string raw = client.raw_log(cell.job_id);
    const fs::path dir(cell.args.run_dir);
    write_output((dir / "lava-log.yaml").string(), [&](std::ostream &o) { o << raw; });
    const LavaLog log = parse_lava_log(raw);
    write_output(run_files(cell.args.run_dir).console_log, [&](std::ostream &o) {
        for (const auto &line : log.console) {
            o << line << '\n';
        }
    });
    cell.verdict = judge_console(cell.args, std::nullopt, log.monitor_timed_out, out);
    const LavaOutcome outcome = lava_outcome(cell.status, log, verdict_reason(cell.args.run_dir));
    cell.problem = outcome.problem;
    cell.infrastructure = outcome.infrastructure;
    write_lava_json(client.instance(), cell, log);
    cell.seconds = seconds_since(cell.submitted);
    cell.lock.reset();
    out << "LAVA job " << cell.job_id << " (" << client.instance().job_url(cell.job_id)
        << "): " << cell.status.health
        << (cell.problem.empty() ? "" : ", which is not a pass: " + cell.problem) << '\n';
}

std::string counts_line(const std::vector<LavaCell> &cells) {
    std::map<std::string, int> by;
    for (const auto &c : cells) {
        const std::string what = c.job_id.empty()              ? "not submitted"
                                 : c.lost                      ? "lost"
                                 : c.status.finished()         ? "done"
                                 : c.status.state == "Running" ? "running"
                                                               : "queued";
        ++by[what];
    }
    std::string line;
    for (const char *what : {"queued", "running", "done", "lost", "not submitted"}) {
        if (by.count(what) != 0) {
            line += (line.empty() ? "" : ", ") + std::to_string(by[what]) + " " + what;
        }
    }
    return "lava: " + line;
}

bool waiting(const LavaCell &c) { return !c.job_id.empty() && !c.lost && !c.status.finished(); }

} // namespace

std::string LavaInstance::job_url(const std::string &id) const {
    return url + "scheduler/job/" + id;
}

LavaInstance lava_instance(const Layout &layout, const LavaSettings &settings) {
    LavaInstance i;
    i.artifacts_dir = layout.lava_artifacts();
    i.device_type = settings.device_type;
    if (const char *fake = std::getenv("PTLAB_LAVACLI"); fake != nullptr && *fake != '\0') {
        i.lavacli = fake;
    } else {
        need_tools(layout.tool_packages(), {"lavacli"});
    }
    if (!settings.url.empty()) {
        i.client_dir = write_remote_client(layout, settings);
        i.url = with_slash(settings.url);
        i.artifacts_url = with_slash(settings.artifacts_url);
        return i;
    }
    i.client_dir = layout.lava_client();
    if (!fs::exists(i.client_dir / lavacli_settings)) {
        throw std::runtime_error("ENGINE=lava: no LAVA instance; run 'make lava-up' for one "
                                 "on this machine, or give LAVA_URL, LAVA_USER, LAVA_TOKEN "
                                 "and LAVA_ARTIFACTS_URL");
    }
    i.url = url_of_client(i.client_dir);
    // The local instance's worker is this machine: it reads the files where they are.
    i.artifacts_url = "file://" + i.artifacts_dir.string() + "/";
    return i;
}

std::string LavaClient::call(const std::vector<std::string> &args) const {
    std::vector<std::string> argv = {instance_.lavacli};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.env["XDG_CONFIG_HOME"] = instance_.client_dir.string();
    options.merge_stderr = true;
    const Captured c = capture_process(argv, options);
    if (c.status != 0) {
        throw std::runtime_error("lavacli " + join_words(args, " ") + " failed (" +
                                 std::to_string(c.status) + "): " + std::string(trim(c.out)));
    }
    return c.out;
}

std::string LavaClient::submit(const fs::path &job) const {
    for (int attempt = 1;; ++attempt) {
        try {
            return std::string(trim(call({"jobs", "submit", job.string()})));
        } catch (const std::runtime_error &) {
            if (attempt == submit_attempts) {
                throw;
            }
            std::this_thread::sleep_for(instance_.timing.retry_pause * attempt);
        }
    }
}

LavaJobStatus LavaClient::status(const std::string &id) const {
    return parse_lava_job_status(call({"jobs", "show", id, "--yaml"}));
}

std::string LavaClient::raw_log(const std::string &id) const {
    return call({"jobs", "logs", "--raw", id});
}

std::string LavaClient::version() const { return std::string(trim(call({"system", "version"}))); }

std::vector<std::string> LavaClient::devices() const {
    std::vector<std::string> lines;
    for (const auto &d : YAML::Load(call({"devices", "list", "--yaml"}))) {
        lines.push_back(d["hostname"].as<std::string>() + " " + d["type"].as<std::string>() + " " +
                        d["state"].as<std::string>() + " " + d["health"].as<std::string>());
    }
    return lines;
}

int lava_status(const LavaInstance &instance, int wait_seconds, std::ostream &out) {
    const LavaClient client(instance);
    const auto deadline = Clock::now() + std::chrono::seconds(wait_seconds);
    for (;;) {
        try {
            out << "LAVA " << client.version() << " at " << instance.url << " (jobs ask for "
                << instance.device_type << ")\n";
            for (const auto &device : client.devices()) {
                out << "  " << device << '\n';
            }
            return 0;
        } catch (const std::runtime_error &e) {
            if (Clock::now() >= deadline) {
                out << "LAVA at " << instance.url << " does not answer: " << e.what() << '\n';
                return 1;
            }
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

fs::path write_lava_job(const LavaInstance &instance, const Layout &layout,
                        const RunGuestArgs &args) {
    const fs::path folder = artifact_folder(layout, args);
    LavaJobRequest job;
    job.name = args.label;
    job.device_type = instance.device_type;
    job.machine = load_machine(args.machine);
    job.guest = guest_request_of(args);
    job.firmware_url = publish(instance, job.machine.firmware,
                               "firmware" / fs::path(job.machine.firmware).filename());
    job.kernel_url = publish(instance, args.kernel, folder / "Image");
    job.initrd_url = publish(instance, args.initrd, folder / "initramfs.cpio.gz");
    job.timeout_seconds = args.timeout_seconds;
    fs::remove_all(args.run_dir);
    fs::create_directories(args.run_dir);
    const fs::path file = fs::path(args.run_dir) / "job.yaml";
    write_output(file.string(), [&](std::ostream &o) { o << lava_job_yaml(job); });
    return file;
}

void submit_lava_cell(const LavaClient &client, const Layout &layout, LavaCell &cell,
                      const Progress &progress) {
    cell.submitted = Clock::now();
    try {
        // As a local run does: a second run of the same cell refuses, not clobbers.
        cell.lock = std::make_shared<RunDirLock>(cell.args.run_dir);
        const fs::path job = write_lava_job(client.instance(), layout, cell.args);
        cell.job_id = client.submit(job);
    } catch (const std::runtime_error &e) {
        cell.problem = std::string("not submitted: ") + e.what();
        progress.say("lava: " + cell.label + ": " + cell.problem);
        return;
    }
    progress.say(cell_line(cell) + "submitted, " + client.instance().job_url(cell.job_id));
}

void collect_lava_cells(const LavaClient &client, std::vector<LavaCell> &cells, std::ostream &out,
                        const Progress &progress) {
    std::map<std::string, int> failed_polls;
    std::string last_counts;
    while (std::any_of(cells.begin(), cells.end(), waiting)) {
        for (auto &cell : cells) {
            if (!waiting(cell)) {
                continue;
            }
            LavaJobStatus now;
            try {
                now = client.status(cell.job_id);
                failed_polls[cell.job_id] = 0;
            } catch (const std::runtime_error &e) {
                if (++failed_polls[cell.job_id] >= polls_before_lost) {
                    cell.lost = true;
                    cell.problem = std::string("LAVA job lost: ") + e.what();
                    cell.status.health = "lost";
                    write_lava_json(client.instance(), cell, LavaLog{});
                    progress.say(cell_line(cell) + cell.problem);
                }
                continue;
            }
            if (now.state != cell.status.state) {
                progress.say(cell_line(cell) + now.state +
                             (now.device.empty() ? "" : " on " + now.device) +
                             (now.finished() ? ", " + now.health : ""));
            }
            cell.status = now;
            if (cell.status.finished()) {
                try {
                    collect(client, cell, out);
                } catch (const std::runtime_error &e) {
                    // Finished, but its log cannot be had: as good as lost.
                    cell.lost = true;
                    cell.problem = std::string("LAVA job log not fetched: ") + e.what();
                    progress.say(cell_line(cell) + cell.problem);
                }
            }
        }
        if (const std::string counts = counts_line(cells); counts != last_counts) {
            progress.say(counts);
            last_counts = counts;
        }
        if (std::any_of(cells.begin(), cells.end(), waiting)) {
            std::this_thread::sleep_for(client.instance().timing.poll_interval);
        }
    }
}

int lava_boot(const Layout &layout, const Request &request, const RunGuestArgs &args,
              std::ostream &out, const Progress &progress, const LavaTiming &timing) {
    LavaInstance instance = lava_instance(layout, request.lava);
    instance.timing = timing;
    const LavaClient client(instance);
    std::vector<LavaCell> cells(1);
    cells[0].label = args.label;
    cells[0].args = args;
    submit_lava_cell(client, layout, cells[0], progress);
    if (cells[0].job_id.empty()) {
        throw std::runtime_error("ENGINE=lava: " + cells[0].problem);
    }
    collect_lava_cells(client, cells, out, progress);
    if (cells[0].lost || cells[0].infrastructure) {
        // Not the kernel's doing: a bisection must not blame the step for it.
        throw std::runtime_error("ENGINE=lava: " + cells[0].problem);
    }
    return cells[0].verdict == 0 && cells[0].problem.empty() ? 0 : 1;
}

} // namespace ptlab
