#include "guest_facts.hpp"

#include <sstream>

namespace ptlab {

unsigned address_bits(std::uint64_t address) {
    unsigned bits = 0;
    for (; address != 0; address >>= 1) {
        ++bits;
    }
    return bits;
}

std::map<std::string, std::string> kconfig_values(std::string_view text) {
    std::map<std::string, std::string> values;
    std::istringstream lines{std::string(text)};
    for (std::string line; std::getline(lines, line);) {
        const auto eq = line.find('=');
        if (line.rfind("CONFIG_", 0) != 0 || eq == std::string::npos) {
            continue;
        }
        values[line.substr(7, eq - 7)] = line.substr(eq + 1);
    }
    return values;
}

std::string split_pmd_lock(const std::map<std::string, std::string> &config) {
    const auto get = [&](const std::string &key) {
        const auto it = config.find(key);
        return it == config.end() ? std::string() : it->second;
    };
    try {
        if (get("ARCH_ENABLE_SPLIT_PMD_PTLOCK") == "y" &&
            std::stoul(get("NR_CPUS")) >= std::stoul(get("SPLIT_PTLOCK_CPUS"))) {
            return "on";
        }
    } catch (const std::exception &) {
        // NR_CPUS or SPLIT_PTLOCK_CPUS missing: no split lock can be selected.
    }
    return "off";
}

std::string timing_options(const std::map<std::string, std::string> &config) {
    std::string line;
    for (const char *option : {"LOCK_STAT", "PROVE_LOCKING", "DEBUG_VM", "DEBUG_SPINLOCK",
                               "ARCH_ENABLE_SPLIT_PMD_PTLOCK"}) {
        const auto it = config.find(option);
        line += std::string(line.empty() ? "" : " ") + option + "=" +
                (it != config.end() && it->second == "y" ? "y" : "n");
    }
    return line;
}

std::string fact_line(const BootFacts &facts) {
    std::ostringstream line;
    line << "page_size=" << facts.page_size << " pmd_size=";
    if (facts.pmd_size == 0) {
        line << "unknown";
    } else {
        line << facts.pmd_size;
    }
    line << " va_bits=" << facts.va_bits;
    if (!facts.levels.empty()) {
        line << " levels=" << facts.levels << " split_pmd=" << facts.split_pmd;
    }
    return line.str();
}

} // namespace ptlab
