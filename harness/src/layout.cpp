#include "ptlab/layout.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>

namespace ptlab {

namespace {

/// The stems of dir/*<ext>, sorted.
std::vector<std::string> stems(const fs::path &dir, const std::string &ext) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ext) {
            names.push_back(entry.path().stem().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

fs::path KernelDir::module_ko() const {
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(module_src(), ec)) {
        if (entry.path().extension() == ".ko") {
            return entry.path();
        }
    }
    return {};
}

Layout Layout::at(const fs::path &top, const fs::path &build) {
    Layout layout;
    layout.top = fs::absolute(top).lexically_normal();
    layout.build = build.empty() ? layout.top / "build" : fs::absolute(build).lexically_normal();
    return layout;
}

fs::path Layout::flavour_fragment(const std::string &flavour) const {
    return top / "configs/flavour" / (flavour + ".config");
}

fs::path Layout::geometry_fragment(const std::string &config) const {
    return top / "configs/geometry" / (config + ".config");
}

std::vector<fs::path> Layout::fragments(const std::string &config,
                                        const std::string &flavour) const {
    return {base_fragment(), flavour_fragment(flavour), geometry_fragment(config)};
}

fs::path Layout::plan_file(const std::string &plan) const {
    return top / "rootfs/plans" / (plan + ".plan");
}

std::vector<std::string> Layout::config_names() const {
    return stems(top / "configs/geometry", ".config");
}

std::vector<std::string> Layout::flavour_names() const {
    return stems(top / "configs/flavour", ".config");
}

std::vector<std::string> Layout::plan_names() const { return stems(top / "rootfs/plans", ".plan"); }

fs::path Layout::kernels(const std::string &config, const std::string &flavour) const {
    return build / "out" / (config + "-" + flavour);
}

KernelDir Layout::kernel(const std::string &config, const std::string &flavour,
                         const std::string &step_name) const {
    return {kernels(config, flavour) / step_name};
}

fs::path Layout::run_dir(const std::string &config, const std::string &flavour,
                         const std::string &step_name,
                         const std::vector<std::string> &plans) const {
    return build / "runs" / (config + "-" + flavour) / step_name / plans_dirname(plans);
}

std::string plans_dirname(const std::vector<std::string> &plans) { return join_words(plans, "+"); }

} // namespace ptlab
