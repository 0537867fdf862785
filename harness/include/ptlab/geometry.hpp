// An arm64 page-table geometry, derived from the one place that states it: the Kconfig
// fragment configs/geometry/<name>.config (or a built .config). Page size and VA bits are
// what the fragment selects; the levels, the folded levels, the PMD huge page size and
// whether a split PMD lock can exist follow from those two, as arch/arm64/Kconfig derives
// CONFIG_PGTABLE_LEVELS.
#pragma once

#include "ptlab/kconfig.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct Geometry {
    std::uint64_t page_size = 0; ///< bytes
    unsigned va_bits = 0;
    unsigned levels = 0; ///< table levels that exist (CONFIG_PGTABLE_LEVELS)

    /// "4K", "16K", "64K"
    [[nodiscard]] std::string page_size_name() const;
    /// PMD_SIZE: what one PMD entry (a THP) maps, folded or not.
    [[nodiscard]] std::uint64_t pmd_size() const;
    /// p4d, pud, pmd: folded when the levels stop short of them (pgd and pte always exist).
    [[nodiscard]] bool folded(const std::string &level) const;
    [[nodiscard]] std::vector<std::string> folded_levels() const;
    /// With the PMD folded its entries live in the PGD: there is no PMD table to own a lock.
    [[nodiscard]] bool split_pmd_possible() const { return !folded("pmd"); }
    /// The facts a running kernel can be checked against: page_size, pmd_size, va_bits,
    /// levels, pmd (pmd_present or pmd_folded).
    [[nodiscard]] std::map<std::string, std::string> facts() const;
};

/// From a fragment: exactly one ARM64_{4K,16K,64K}_PAGES=y and one ARM64_VA_BITS_<n>=y. A
/// PGTABLE_LEVELS the fragment also states must agree with the derived one. Throws
/// std::runtime_error naming the file and what is missing or contradictory.
Geometry geometry_of_fragment(const std::filesystem::path &fragment);

/// From a built .config (the same options, merged).
Geometry geometry_of_config(const DotConfig &config, const std::string &what = ".config");

/// The facts of a built .config: the geometry's, and split_pmd (on when
/// ARCH_ENABLE_SPLIT_PMD_PTLOCK is set and NR_CPUS >= SPLIT_PTLOCK_CPUS, which is when
/// USE_SPLIT_PMD_PTLOCKS holds).
std::map<std::string, std::string> config_facts(const DotConfig &config);

} // namespace ptlab
