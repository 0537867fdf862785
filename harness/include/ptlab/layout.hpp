// Where everything is: the lab's own inputs (configs/, rootfs/plans/, module/) and every path
// under build/. The one place that names them; scripts ask `ptlab layout` instead of
// rebuilding a path.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ptlab {

namespace fs = std::filesystem;

/// A kernel's output folder: build/out/<config>-<flavour>/<step>.
struct KernelDir {
    fs::path dir;

    [[nodiscard]] fs::path image() const { return dir / "arch/arm64/boot/Image"; }
    [[nodiscard]] fs::path config() const { return dir / ".config"; }
    /// Written once Image and modules built: the only kind of folder worth seeding from.
    [[nodiscard]] fs::path built_stamp() const { return dir / ".ptlab-built"; }
    /// What .config was made from (fragments and commit): unchanged, no olddefconfig.
    [[nodiscard]] fs::path config_key() const { return dir / ".ptlab-config-key"; }
    [[nodiscard]] fs::path expect_json() const { return dir / "expect.json"; }
    [[nodiscard]] fs::path module_rules() const { return dir / "rules"; }
    [[nodiscard]] fs::path initramfs() const { return dir / "initramfs.cpio.gz"; }
    [[nodiscard]] fs::path module_src() const { return dir / "ptlab-module/src"; }
    /// The lab's module built for this kernel, or empty.
    [[nodiscard]] fs::path module_ko() const;
    [[nodiscard]] fs::path log(const std::string &phase) const { return dir / (phase + ".log"); }
};

struct Layout {
    fs::path top;   ///< the clone
    fs::path build; ///< build/, or $PTLAB_BUILD

    /// top from the executable's place is not reliable (tests, other clones): the caller says.
    static Layout at(const fs::path &top, const fs::path &build = {});

    // The lab's inputs.
    [[nodiscard]] fs::path base_fragment() const { return top / "configs/base.config"; }
    [[nodiscard]] fs::path flavour_fragment(const std::string &flavour) const;
    [[nodiscard]] fs::path geometry_fragment(const std::string &config) const;
    /// In merge order: a later fragment overrides an earlier one, the geometry last so it
    /// can turn off what its page-table layout cannot build.
    [[nodiscard]] std::vector<fs::path> fragments(const std::string &config,
                                                  const std::string &flavour) const;
    [[nodiscard]] fs::path expectations() const { return top / "configs/expectations.json"; }
    [[nodiscard]] fs::path machine() const { return top / "configs/machine/arm64.json"; }
    /// Which Debian package provides each program the lab runs.
    [[nodiscard]] fs::path tool_packages() const { return top / "configs/tool-packages"; }
    [[nodiscard]] fs::path plan_file(const std::string &plan) const;
    /// The upstream selftests the kselftest plans run, and their known results.
    [[nodiscard]] fs::path kselftest_table() const { return top / "configs/kselftests.json"; }
    /// The known-bad patches make mutants must catch, and what each must be caught by.
    [[nodiscard]] fs::path mutant_catalogue() const { return top / "tests/mutants/catalogue.json"; }
    [[nodiscard]] fs::path module_sources() const { return top / "module"; }
    /// The glue scripts that build the guest's user space (scripts/stress.sh, rootfs.sh).
    [[nodiscard]] fs::path script(const std::string &name) const { return top / "scripts" / name; }
    [[nodiscard]] std::vector<std::string> config_names() const;
    [[nodiscard]] std::vector<std::string> flavour_names() const;
    [[nodiscard]] std::vector<std::string> plan_names() const;

    // What the lab builds.
    [[nodiscard]] fs::path src() const { return build / "linux"; }
    [[nodiscard]] fs::path src_lock() const { return build / "linux.lock"; }
    [[nodiscard]] fs::path logs() const { return build / "logs"; }
    [[nodiscard]] fs::path results() const { return build / "results"; }
    /// make bisect: git bisect run's output, and what its steps noted (flaky, same Image).
    [[nodiscard]] fs::path bisect_log() const { return logs() / "bisect.log"; }
    [[nodiscard]] fs::path bisect_notes() const { return logs() / "bisect-notes.txt"; }
    /// make bisect's answer as JSON (bisect.json).
    [[nodiscard]] fs::path bisect_results() const { return results() / "bisect"; }
    /// SERIES=<mbox>: its messages split, one file per patch (b4 am's pick first).
    [[nodiscard]] fs::path series_work() const { return build / "series"; }
    /// make test's and make matrix's results (summary, JUnit, meta.json) ...
    [[nodiscard]] fs::path test_results() const { return results() / "test"; }
    [[nodiscard]] fs::path matrix_results() const { return results() / "matrix"; }
    [[nodiscard]] fs::path mutants_results() const { return results() / "mutants"; }
    /// ... and a copy of each finished run, <kind>-<UTC time>, for make compare.
    [[nodiscard]] fs::path results_history() const { return results() / "history"; }
    /// make lava-up's instance: its database, logs and PIDs, the client's settings (with the
    /// token, never committed), and the files its jobs fetch.
    [[nodiscard]] fs::path lava() const { return build / "lava"; }
    [[nodiscard]] fs::path lava_client() const { return lava() / "client"; }
    [[nodiscard]] fs::path lava_artifacts() const { return lava() / "artifacts"; }
    [[nodiscard]] fs::path base_initramfs() const { return build / "rootfs/base.cpio.gz"; }
    [[nodiscard]] fs::path gen_init_cpio() const { return build / "tools/gen_init_cpio"; }
    /// A git worktree of build/linux where the upstream selftests of a step are built.
    [[nodiscard]] fs::path kselftest_src() const { return build / "kselftest-src"; }
    [[nodiscard]] fs::path kselftest_lock() const { return build / "kselftest-src.lock"; }
    /// The selftest builds, one folder per key (sources and uapi of the step).
    [[nodiscard]] fs::path kselftest_builds() const { return build / "kselftests"; }
    /// Debian's arm64 packages the guest and the selftests need, unpacked by make deps.
    [[nodiscard]] fs::path arm64_root() const { return build / "arm64"; }
    [[nodiscard]] fs::path guest_bash() const { return arm64_root() / "bin/bash-static"; }
    [[nodiscard]] fs::path stress_tool() const { return build / "stress-aarch64/ptlab-stress"; }
    [[nodiscard]] fs::path kernels(const std::string &config, const std::string &flavour) const;
    [[nodiscard]] KernelDir kernel(const std::string &config, const std::string &flavour,
                                   const std::string &step_name) const;
    [[nodiscard]] fs::path run_dir(const std::string &config, const std::string &flavour,
                                   const std::string &step_name,
                                   const std::vector<std::string> &plans) const;
};

/// "boot+audit": the plans as one folder name.
std::string plans_dirname(const std::vector<std::string> &plans);

} // namespace ptlab
