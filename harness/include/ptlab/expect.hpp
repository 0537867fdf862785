// What a config at a step of the series promises (configs/expectations.json), so the guest's
// plans can compare what they observe with it. The data is the one place where the promises
// live; this module only folds it: geometry of the config, then the baseline, then the changes
// of every series patch the step contains, in series order.
#pragma once

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

/// Names of the configs the data describes.
std::vector<std::string> expectation_configs(const nlohmann::json &data);

/// Fold the data for `config` and the subjects of the commits a step has on top of
/// series-base (any order, as `git log` prints them). Throws std::invalid_argument for an
/// unknown config, naming the valid ones.
Expectations expect(const nlohmann::json &data, const std::string &config,
                    const std::vector<std::string> &subjects);

/// "k:v,k:v" (keys sorted), the form the guest reads from the kernel command line.
std::string to_cmdline_value(const Expectations &e);

} // namespace ptlab
