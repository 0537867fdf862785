// Kconfig fragment vs. .config checker (in the spirit of kunit_tool's kunit_config.py).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

struct ConfigEntry {
    std::string symbol;               ///< with the CONFIG_ prefix
    std::optional<std::string> value; ///< raw value ("y", "m", "\"str\"", "123"); nullopt: not set
    int line = 0;
};

struct ConfigFragment {
    std::vector<ConfigEntry> entries; ///< in file order; a later entry overrides an earlier one
    std::vector<std::string> errors;  ///< "line N: cannot parse '...'"
};

/// Parse "CONFIG_FOO=y", "CONFIG_BAR=\"str\"", "# CONFIG_BAZ is not set"; other comments and
/// blank lines are ignored. "=n" means not set.
ConfigFragment parse_config_fragment(const std::vector<std::string> &lines);

/// symbol -> raw value of every set option of a .config (not-set options are absent).
using DotConfig = std::map<std::string, std::string>;
DotConfig parse_dotconfig(const std::vector<std::string> &lines);

struct ConfigMismatch {
    std::string symbol;
    std::string asked; ///< raw value or "not set"
    std::string got;   ///< raw value or "not set"
    /// "CONFIG_FOO: asked y, got m"
    [[nodiscard]] std::string message() const;
};

/// Every fragment option (last occurrence wins) whose final value differs from the .config.
std::vector<ConfigMismatch> check_config(const ConfigFragment &fragment, const DotConfig &config);

/// Number of distinct symbols in a fragment.
std::size_t distinct_symbols(const ConfigFragment &fragment);

/// Value of one symbol (with or without CONFIG_ prefix): "y", "m", the string without quotes,
/// a number, or "n" when not set.
std::string config_get(const DotConfig &config, std::string_view symbol);

/// Number of symbols set differently (or set in one only) in two .configs.
std::size_t config_distance(const DotConfig &a, const DotConfig &b);

/// Index of the candidate closest to `target` (fewest differing symbols); the first of equals,
/// so callers list the newest first. Throws on an empty list.
std::size_t closest_config(const DotConfig &target, const std::vector<DotConfig> &candidates);

/// Fragments merged in order (a later one overriding an earlier one, as merge_config.sh)
/// against a .config: "<fragment>: CONFIG_FOO: asked y, got not set" for each option not
/// set as the last fragment naming it asks, and each line a fragment cannot parse.
std::vector<std::string> check_fragments(const std::vector<std::filesystem::path> &fragments,
                                         const DotConfig &config);

/// Distinct symbols the fragments name.
std::size_t fragment_symbols(const std::vector<std::filesystem::path> &fragments);

} // namespace ptlab
