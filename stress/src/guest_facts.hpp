// What the guest reports about the kernel it runs, for the host to judge: the page-table
// geometry as user space sees it, and the kernel's own .config. Pure functions over the
// text of procfs and sysfs files, so they are tested on the host.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace ptlab {

/// The number of bits an address needs: 48 for 0xffff'ffff'ffff.
unsigned address_bits(std::uint64_t address);

/// "CONFIG_X=value" lines of a .config: {"X", "value"} (quotes kept, "is not set" left out).
std::map<std::string, std::string> kconfig_values(std::string_view text);

/// on when PMD tables have their own lock (USE_SPLIT_PMD_PTLOCKS: ARCH_ENABLE_SPLIT_PMD_PTLOCK
/// and NR_CPUS >= SPLIT_PTLOCK_CPUS), else off.
std::string split_pmd_lock(const std::map<std::string, std::string> &config);

/// "LOCK_STAT=y PROVE_LOCKING=n ...": the options that change what a fault costs, for a bench
/// report to say what it measured.
std::string timing_options(const std::map<std::string, std::string> &config);

struct BootFacts {
    std::uint64_t page_size = 0;
    std::uint64_t pmd_size = 0; ///< 0: no THP in this kernel
    unsigned va_bits = 0;       ///< the widest user address the kernel hands out
    std::string levels;         ///< CONFIG_PGTABLE_LEVELS, empty without /proc/config.gz
    std::string split_pmd;      ///< on, off, empty without /proc/config.gz
};

/// "page_size=4096 pmd_size=2097152 va_bits=48 levels=4 split_pmd=on": the keys the host's
/// promises name (harness/src/promises.cpp).
std::string fact_line(const BootFacts &facts);

} // namespace ptlab
