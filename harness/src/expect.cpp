#include "ptlab/expect.hpp"

#include <algorithm>
#include <stdexcept>

namespace ptlab {

namespace {

std::string scalar(const nlohmann::json &v) {
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_boolean()) {
        return v.get<bool>() ? "1" : "0";
    }
    return v.dump();
}

// A value is a scalar, or an object keyed by the geometry's "pmd" (pmd_present/pmd_folded).
std::string resolve(const nlohmann::json &v, const std::string &pmd, const std::string &key) {
    if (!v.is_object()) {
        return scalar(v);
    }
    if (!v.contains(pmd)) {
        throw std::invalid_argument("expectation '" + key + "' has no value for " + pmd);
    }
    return scalar(v.at(pmd));
}

void apply(std::map<std::string, std::string> &values, const nlohmann::json &changes,
           const std::string &pmd) {
    for (const auto &[key, v] : changes.items()) {
        values[key] = resolve(v, pmd, key);
    }
}

} // namespace

Expectations expect(const nlohmann::json &data, const Geometry &geometry,
                    const std::vector<std::string> &subjects) {
    Expectations e;
    e.values = geometry.facts();
    const std::string pmd = e.values.at("pmd");
    apply(e.values, data.value("base", nlohmann::json::object()), pmd);

    std::vector<std::string> remaining = subjects;
    for (const auto &patch : data.at("series")) {
        const auto subject = patch.at("subject").get<std::string>();
        auto it = std::find(remaining.begin(), remaining.end(), subject);
        if (it == remaining.end()) {
            continue;
        }
        remaining.erase(it);
        e.patches.push_back(patch.at("patch").get<int>());
        apply(e.values, patch.value("changes", nlohmann::json::object()), pmd);
    }
    e.unknown_subjects = remaining;
    return e;
}

std::string to_module_rules(const Expectations &e) {
    std::string out;
    for (const auto &[key, value] : e.values) {
        const auto dot = key.find('.');
        if (dot != std::string::npos) {
            out += key + ":" + value + "\n";
        }
    }
    return out;
}

} // namespace ptlab
