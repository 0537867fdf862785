// What a config at a step of the series promises: the geometry's facts (from its fragment,
// geometry.hpp), then what series-base promises, then the changes of every series patch the
// step contains, in series order (configs/expectations.json, the one place where the
// promises live). The host compares what the guest reports with it (promises.hpp); the
// module gets the per-table rules from it (to_module_rules()).
#pragma once

#include "ptlab/geometry.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace ptlab {

struct Expectations {
    std::map<std::string, std::string> values; ///< key -> promised value
    std::vector<int> patches;                  ///< series patches found in the step, in order
    std::vector<std::string> unknown_subjects; ///< subjects in the step that the data lacks
};

/// Fold the data for a geometry and the subjects of the commits a step has on top of
/// series-base (any order, as `git log` prints them). A value in the data may depend on
/// the geometry: an object keyed "pmd_present" / "pmd_folded".
Expectations expect(const nlohmann::json &data, const Geometry &geometry,
                    const std::vector<std::string> &subjects);

/// The rules the audit module judges per table page, one "key:value" per line: the states
/// of each (mm, level) and user.pmd_lock.
std::string to_module_rules(const Expectations &e);

} // namespace ptlab
