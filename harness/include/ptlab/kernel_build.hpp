// Building a step: build/linux at the step, configured from the merged fragments (checked
// after olddefconfig), built out of tree in its own folder (a new one seeded from the closest
// built .config), and the lab's module built against it. Phases, as in tuxmake's Build.run:
// checkout, configure, seed, build, module. HEAD is back where the user left it afterwards.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/tree.hpp"

#include <string>
#include <vector>

namespace ptlab {

struct KernelTarget {
    std::string config;
    std::string flavour;
    std::string step;
};

struct BuildOptions {
    /// false: build whatever build/linux has checked out (a step of `git bisect run`).
    bool checkout = true;
    /// A step the lab's module does not build against is still built (a bisection): its
    /// audit plan then fails.
    bool module_optional = false;
    /// Stop after .config and its check.
    bool config_only = false;
};

struct BuiltKernel {
    KernelDir dir;
    std::string step_name;
    std::string sha;
};

/// The make command line for one output folder: ARCH, the cross compiler through ccache,
/// and a fixed build user, host and date so that rebuilds are reproducible.
std::vector<std::string> kernel_make(const Layout &layout, const fs::path &outdir);

/// What .config is made from: the fragments' text and the commit. Unchanged: no reconfigure.
std::string config_key(const Layout &layout, const KernelTarget &target, const std::string &sha);

/// Built for this key, complete, and its module newer than module/'s sources.
bool kernel_up_to_date(const Layout &layout, const KernelDir &dir, const std::string &key);

/// The output folder a new one is best seeded from: the built sibling whose .config differs
/// in the fewest options (of equals, the build of parent_sha, else the newest); empty when
/// there is none.
fs::path seed_source(const KernelDir &dir, const std::string &parent_sha = {});

/// Throws PhaseFailed when a phase fails (the step does not build), std::runtime_error for
/// everything else (a missing tool, a tree with local changes).
BuiltKernel build_kernel(const Layout &layout, const KernelTarget &target,
                         const BuildOptions &options, const Progress &progress);

} // namespace ptlab
