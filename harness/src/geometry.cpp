#include "ptlab/geometry.hpp"

#include "ptlab/lines.hpp"

#include <array>
#include <stdexcept>

namespace ptlab {

namespace {

unsigned page_shift(std::uint64_t page_size) {
    unsigned shift = 0;
    while ((std::uint64_t{1} << shift) < page_size) {
        ++shift;
    }
    return shift;
}

// ARM64_HW_PGTABLE_LEVELS(va_bits): each level resolves PAGE_SHIFT - 3 bits above the page
// offset, rounded up.
unsigned levels_for(std::uint64_t page_size, unsigned va_bits) {
    const unsigned shift = page_shift(page_size);
    const unsigned per_level = shift - 3;
    return (va_bits - shift + per_level - 1) / per_level;
}

struct Selected {
    std::uint64_t page_size = 0;
    unsigned va_bits = 0;
    std::string levels; ///< stated PGTABLE_LEVELS, if any
};

Selected selected_options(const std::map<std::string, std::string> &set, const std::string &what) {
    static constexpr std::array<std::pair<const char *, std::uint64_t>, 3> kPages{
        {{"CONFIG_ARM64_4K_PAGES", 4096},
         {"CONFIG_ARM64_16K_PAGES", 16384},
         {"CONFIG_ARM64_64K_PAGES", 65536}}};
    static const std::string kVaPrefix = "CONFIG_ARM64_VA_BITS_";
    Selected s;
    for (const auto &[symbol, size] : kPages) {
        const auto it = set.find(symbol);
        if (it == set.end() || it->second != "y") {
            continue;
        }
        if (s.page_size != 0) {
            throw std::runtime_error(what + ": selects more than one of ARM64_{4K,16K,64K}_PAGES");
        }
        s.page_size = size;
    }
    for (const auto &[symbol, value] : set) {
        if (symbol.rfind(kVaPrefix, 0) != 0 || value != "y") {
            continue;
        }
        const std::string bits = symbol.substr(kVaPrefix.size());
        if (bits.empty() || bits.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        if (s.va_bits != 0) {
            throw std::runtime_error(what + ": selects more than one ARM64_VA_BITS_<n>");
        }
        s.va_bits = static_cast<unsigned>(std::stoul(bits));
    }
    if (const auto it = set.find("CONFIG_PGTABLE_LEVELS"); it != set.end()) {
        s.levels = it->second;
    }
    if (s.page_size == 0) {
        throw std::runtime_error(what + ": sets none of CONFIG_ARM64_{4K,16K,64K}_PAGES=y");
    }
    if (s.va_bits == 0) {
        throw std::runtime_error(what + ": sets no CONFIG_ARM64_VA_BITS_<n>=y");
    }
    return s;
}

Geometry geometry_from(const std::map<std::string, std::string> &set, const std::string &what) {
    const Selected s = selected_options(set, what);
    Geometry g;
    g.page_size = s.page_size;
    g.va_bits = s.va_bits;
    g.levels = levels_for(s.page_size, s.va_bits);
    if (g.levels < 2 || g.levels > 4) {
        throw std::runtime_error(what + ": " + g.page_size_name() + " pages with " +
                                 std::to_string(g.va_bits) + "-bit VA is not an arm64 geometry");
    }
    if (!s.levels.empty() && s.levels != std::to_string(g.levels)) {
        throw std::runtime_error(what + ": CONFIG_PGTABLE_LEVELS=" + s.levels + ", but " +
                                 g.page_size_name() + " pages with " + std::to_string(g.va_bits) +
                                 "-bit VA have " + std::to_string(g.levels) + " levels");
    }
    return g;
}

} // namespace

std::string Geometry::page_size_name() const { return std::to_string(page_size / 1024) + "K"; }

std::uint64_t Geometry::pmd_size() const {
    // PMD_SHIFT = (PAGE_SHIFT - 3) * 2 + 3: a PMD entry maps a full PTE table of pages.
    return page_size * (page_size / 8);
}

bool Geometry::folded(const std::string &level) const {
    // pgd, then p4d (never on 6.1 arm64: at most 4 levels), pud (4 levels), pmd (3 or more).
    if (level == "p4d") {
        return levels < 5;
    }
    if (level == "pud") {
        return levels < 4;
    }
    if (level == "pmd") {
        return levels < 3;
    }
    return false;
}

std::vector<std::string> Geometry::folded_levels() const {
    std::vector<std::string> out;
    for (const char *level : {"p4d", "pud", "pmd"}) {
        if (folded(level)) {
            out.emplace_back(level);
        }
    }
    return out;
}

std::map<std::string, std::string> Geometry::facts() const {
    return {{"page_size", std::to_string(page_size)},
            {"pmd_size", std::to_string(pmd_size())},
            {"va_bits", std::to_string(va_bits)},
            {"levels", std::to_string(levels)},
            {"pmd", folded("pmd") ? "pmd_folded" : "pmd_present"}};
}

Geometry geometry_of_fragment(const std::filesystem::path &fragment) {
    const ConfigFragment f = parse_config_fragment(read_lines(fragment));
    if (!f.errors.empty()) {
        throw std::runtime_error(fragment.string() + ": " + f.errors.front());
    }
    std::map<std::string, std::string> set;
    for (const auto &entry : f.entries) {
        if (entry.value) {
            set[entry.symbol] = *entry.value;
        } else {
            set.erase(entry.symbol);
        }
    }
    return geometry_from(set, fragment.string());
}

Geometry geometry_of_config(const DotConfig &config, const std::string &what) {
    return geometry_from(config, what);
}

std::map<std::string, std::string> config_facts(const DotConfig &config) {
    auto facts = geometry_of_config(config).facts();
    facts.erase("pmd_size"); // not an option: the guest reports it
    const auto number = [&](const char *symbol) {
        const std::string v = config_get(config, symbol);
        return v.find_first_not_of("0123456789") == std::string::npos && !v.empty() ? std::stol(v)
                                                                                    : -1L;
    };
    const bool split = config_get(config, "ARCH_ENABLE_SPLIT_PMD_PTLOCK") == "y" &&
                       number("NR_CPUS") >= number("SPLIT_PTLOCK_CPUS") &&
                       number("SPLIT_PTLOCK_CPUS") >= 0;
    facts["split_pmd"] = split ? "on" : "off";
    return facts;
}

} // namespace ptlab
