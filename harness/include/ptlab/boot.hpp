// Booting a built step: what the config at the step promises (for the judge, and the audit
// module's rules in the per-kernel initramfs), the kernel command line for the plans, and
// the guest started, streamed and judged by run-guest. `make run`, `make shell`, a bisect
// step, a matrix cell and a bench boot all come through here.
#pragma once

#include "ptlab/kernel_build.hpp"
#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"
#include "ptlab/run_guest.hpp"

#include <iosfwd>
#include <string>

namespace ptlab {

/// DIR/expect.json and DIR/rules for the config at the step: the geometry fragment,
/// configs/expectations.json and the series patches the step contains.
void write_promises(const Layout &layout, const Request &request, const KernelDir &dir);

/// The per-kernel archive (the module's rules, the module when it was built for this kernel,
/// and extra: more gen_init_cpio lines, the selftests when a plan runs them) appended to the
/// base initramfs: the kernel unpacks both.
void write_initramfs(const Layout &layout, const KernelDir &dir, const std::string &extra = {});

/// "ptlab.plans=boot,audit ptlab.config=4k-48 ptlab.step=series-head" and PTLAB_ARGS.
std::string plan_cmdline(const Request &request, const std::string &step_name);

/// The stress tool and the base initramfs, built by their glue scripts when out of date.
void build_guest_userspace(const Layout &layout);

/// Everything a boot of the built kernel needs but the guest itself: the promises, the
/// per-kernel initramfs, and the run's files, command line and judge's settings.
RunGuestArgs prepare_boot(const Layout &layout, const Request &request, const BuiltKernel &kernel,
                          const Progress &progress);

/// Boots an already built kernel with the request's plans, here or as a LAVA job (ENGINE).
/// 0 pass, 1 fail.
int boot_kernel(const Layout &layout, const Request &request, const BuiltKernel &kernel,
                std::ostream &out, const Progress &progress);

/// Builds what is missing (nothing with request.prebuilt) and boots: `make run`.
int build_and_boot(const Layout &layout, const Request &request, std::ostream &out,
                   const Progress &progress);

/// The terminal is the guest's console: `make shell`. Returns only on failure.
/// The console is kept in the run folder of the plan "shell" and its splats reported at the
/// end: 0 none, 1 some.
int build_and_shell(const Layout &layout, const Request &request, std::ostream &out,
                    const Progress &progress);

/// The kernel a request names, as built (PREBUILT=1, a bisect step): its files must exist.
BuiltKernel prebuilt_kernel(const Layout &layout, const Request &request);

} // namespace ptlab
