#include "ptlab/kernel_build.hpp"

#include "ptlab/kconfig.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/request.hpp"
#include "ptlab/tools.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace ptlab {

namespace {

std::string read_or_empty(const fs::path &path) {
    try {
        return read_text_file(path);
    } catch (const std::exception &) {
        return "";
    }
}

fs::file_time_type newest_source(const fs::path &dir) {
    auto newest = fs::file_time_type::min();
    std::error_code ec;
    for (const auto &entry : fs::recursive_directory_iterator(dir, ec)) {
        if (entry.is_regular_file()) {
            newest = std::max(newest, entry.last_write_time());
        }
    }
    return newest;
}

bool has_module_sources(const Layout &layout) {
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(layout.module_sources(), ec)) {
        if (entry.path().extension() == ".c") {
            return true;
        }
    }
    return false;
}

void configure(const Layout &layout, const KernelTarget &target, const KernelDir &dir,
               const std::string &key, const PhaseLog &log) {
    const auto make = kernel_make(layout, dir.dir);
    const fs::path prev = dir.dir / ".config.prev";
    if (fs::exists(dir.config())) {
        fs::copy_file(dir.config(), prev, fs::copy_options::overwrite_existing);
    }
    auto with = [&](const std::string &target_name) {
        auto argv = make;
        argv.push_back(target_name);
        return argv;
    };
    log.run(with("tinyconfig"));
    std::vector<std::string> merge = {(layout.src() / "scripts/kconfig/merge_config.sh").string(),
                                      "-m", "-O", dir.dir.string(), dir.config().string()};
    for (const auto &fragment : layout.fragments(target.config, target.flavour)) {
        merge.push_back(fragment.string());
    }
    log.run(merge);
    log.run(with("olddefconfig"));
    // The same .config as before keeps its timestamp: Kbuild then has nothing to redo.
    if (fs::exists(prev) && read_or_empty(prev) == read_or_empty(dir.config())) {
        fs::rename(prev, dir.config());
    } else {
        fs::remove(prev);
    }
    // An option Kconfig dropped (an unmet dependency) is an error, named with its fragment.
    const auto problems = check_fragments(layout.fragments(target.config, target.flavour),
                                          parse_dotconfig(read_lines(dir.config())));
    for (const auto &problem : problems) {
        log.note(problem);
    }
    if (!problems.empty()) {
        throw PhaseFailed(std::to_string(problems.size()) +
                          " options are not set as the fragments ask (" + problems.front() +
                          (problems.size() > 1 ? ", ..." : "") + ")");
    }
    std::ofstream(dir.config_key(), std::ios::trunc) << key;
}

/// A folder never built starts as a copy of the closest built one: Kbuild then rebuilds only
/// what differs (every file a checkout rewrote is newer than its objects, and syncconfig
/// sees every option that differs). Seconds instead of minutes, unless the .configs differ
/// in an option half the tree depends on (4/4's split PMD lock changes struct page).
void seed(const KernelDir &dir, const fs::path &from, const PhaseLog &log) {
    log.run({"rsync",
             "-a",
             "--exclude",
             "/ptlab-module",
             "--exclude",
             "/.ptlab-built",
             "--exclude",
             "/*.log",
             "--exclude",
             "/.config",
             "--exclude",
             "/.ptlab-config-key",
             "--exclude",
             "/expect.json",
             "--exclude",
             "/rules",
             "--exclude",
             "/initramfs*",
             from.string() + "/",
             dir.dir.string() + "/"});
}

/// The stamp holds the key the Image was built from: a .config made since (make test's
/// config-only checks) must not make an older Image look current.
void build(const Layout &layout, const KernelDir &dir, const std::string &key,
           const PhaseLog &log) {
    fs::remove(dir.built_stamp());
    auto argv = kernel_make(layout, dir.dir);
    argv.insert(argv.end(), {make_jobs(), "Image", "modules"});
    log.run(argv);
    if (!fs::exists(dir.image())) {
        throw PhaseFailed(dir.image().string() + " missing after the build");
    }
    std::ofstream(dir.built_stamp()) << key;
}

/// Kbuild puts an external module's objects next to its sources: each output folder gets
/// its own copy of module/.
void build_module(const Layout &layout, const KernelDir &dir, const PhaseLog &log) {
    fs::create_directories(dir.module_src());
    // A failed build must not leave the previous .ko to be booted.
    for (fs::path ko = dir.module_ko(); !ko.empty(); ko = dir.module_ko()) {
        fs::remove(ko);
    }
    log.run({"rsync", "-a", "--delete", "--exclude", "*.o", "--exclude", "*.ko", "--exclude",
             ".*.cmd", "--exclude", "*.mod*", "--exclude", "Module.symvers", "--exclude",
             "modules.order", layout.module_sources().string() + "/",
             dir.module_src().string() + "/"});
    auto argv = kernel_make(layout, dir.dir);
    argv.insert(argv.end(), {"M=" + dir.module_src().string(), make_jobs(), "modules"});
    log.run(argv);
}

} // namespace

std::vector<std::string> kernel_make(const Layout &layout, const fs::path &outdir) {
    return {"make", "-C", layout.src().string(), "O=" + outdir.string(), "ARCH=arm64",
            "CROSS_COMPILE=aarch64-linux-gnu-", "CC=ccache aarch64-linux-gnu-gcc",
            "KBUILD_BUILD_USER=ptlab", "KBUILD_BUILD_HOST=ptlab",
            "KBUILD_BUILD_TIMESTAMP=2019-03-12",
            // Not each folder's build count: the same sources give the same Image, which a
            // bisection compares with its parent's.
            "KBUILD_BUILD_VERSION=1"};
}

std::string config_key(const Layout &layout, const KernelTarget &target, const std::string &sha) {
    std::string key = "commit " + sha + "\n";
    for (const auto &fragment : layout.fragments(target.config, target.flavour)) {
        key += "# " + fragment.filename().string() + "\n" + read_text_file(fragment);
    }
    return key;
}

bool kernel_up_to_date(const Layout &layout, const KernelDir &dir, const std::string &key) {
    if (!fs::exists(dir.image()) || read_or_empty(dir.built_stamp()) != key) {
        return false;
    }
    if (!has_module_sources(layout)) {
        return true;
    }
    const fs::path ko = dir.module_ko();
    return !ko.empty() && newest_source(layout.module_sources()) <= fs::last_write_time(ko);
}

fs::path seed_source(const KernelDir &dir, const std::string &parent_sha) {
    if (fs::exists(dir.built_stamp()) || fs::exists(dir.dir / "vmlinux")) {
        return {};
    }
    std::vector<std::pair<fs::file_time_type, fs::path>> built;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir.dir.parent_path(), ec)) {
        const KernelDir sibling{entry.path()};
        if (entry.path() != dir.dir && fs::exists(sibling.built_stamp()) &&
            fs::exists(sibling.config())) {
            built.emplace_back(fs::last_write_time(sibling.built_stamp()), entry.path());
        }
    }
    if (built.empty()) {
        return {};
    }
    std::sort(built.begin(), built.end(), [](const auto &a, const auto &b) { return a > b; });
    // Of equally close configs, the parent's build differs from this commit in its own
    // files only (a throwaway mutant's, a bisection step's); the newest may differ in many.
    if (!parent_sha.empty()) {
        const std::string parent_key = "commit " + parent_sha + "\n";
        std::stable_partition(built.begin(), built.end(), [&](const auto &b) {
            return read_or_empty(KernelDir{b.second}.built_stamp()).starts_with(parent_key);
        });
    }
    std::vector<DotConfig> candidates;
    for (const auto &[when, path] : built) {
        candidates.push_back(parse_dotconfig(read_lines(path / ".config")));
    }
    return built[closest_config(parse_dotconfig(read_lines(dir.config())), candidates)].second;
}

BuiltKernel build_kernel(const Layout &layout, const KernelTarget &target,
                         const BuildOptions &options, const Progress &progress) {
    check_config_name(target.config, layout);
    check_flavour_name(target.flavour, layout);
    need_tools(layout.tool_packages(), {"aarch64-linux-gnu-gcc", "ccache", "flex", "bison", "bc",
                                        "make", "depmod", "rsync"});
    const Tree tree(layout.src());
    if (!tree.exists()) {
        throw std::runtime_error("build/linux does not exist: run 'make source' first");
    }
    BuiltKernel built;
    built.sha = options.checkout ? tree.resolve_step(target.step) : tree.head();
    built.step_name = options.checkout ? tree.step_name(target.step) : tree.step_name(built.sha);
    built.dir = layout.kernel(target.config, target.flavour, built.step_name);
    const std::string key = config_key(layout, target, built.sha);
    const bool edited = tree.head() == built.sha && !tree.clean();
    if (!options.config_only && !edited && kernel_up_to_date(layout, built.dir, key)) {
        return built;
    }

    const FileLock lock(layout.src_lock(), "kernel", progress);
    std::optional<KeepHead> keep;
    if (options.checkout) {
        keep.emplace(tree);
        tree.checkout(built.sha);
    }
    fs::create_directories(built.dir.dir);
    const std::string what =
        "kernel " + target.config + "-" + target.flavour + " @ " + built.step_name;
    if (!fs::exists(built.dir.config()) || read_or_empty(built.dir.config_key()) != key) {
        progress.phase(what + ": configure", built.dir.log("configure"), [&](const PhaseLog &log) {
            configure(layout, target, built.dir, key, log);
        });
    }
    if (options.config_only) {
        return built;
    }
    if (const fs::path from = seed_source(built.dir, tree.resolve(built.sha + "^").value_or(""));
        !from.empty()) {
        const std::size_t distance =
            config_distance(parse_dotconfig(read_lines(built.dir.config())),
                            parse_dotconfig(read_lines(from / ".config")));
        progress.phase(what + ": seed from " + from.filename().string() + " (" +
                           std::to_string(distance) + " options differ)",
                       built.dir.log("seed"),
                       [&](const PhaseLog &log) { seed(built.dir, from, log); });
    }
    progress.phase(what + ": build Image + modules", built.dir.log("build"),
                   [&](const PhaseLog &log) { build(layout, built.dir, key, log); });
    if (!has_module_sources(layout)) {
        return built;
    }
    try {
        progress.phase(what + ": build module/", built.dir.log("module"),
                       [&](const PhaseLog &log) { build_module(layout, built.dir, log); });
    } catch (const PhaseFailed &) {
        if (!options.module_optional) {
            throw;
        }
        progress.say("kernel: module/ does not build against this step; going on without it");
    }
    return built;
}

} // namespace ptlab
