#include "ptlab/promises.hpp"

#include "ptlab/lines.hpp"

#include <nlohmann/json.hpp>

#include <sstream>
#include <stdexcept>

namespace ptlab {

namespace {

constexpr std::string_view kTag = "ptlab-fact ";

// The text after "ptlab-fact " on a console line, or empty.
std::string_view fact_text(std::string_view line) {
    line = trim(line);
    if (line.rfind("# ", 0) == 0) {
        line.remove_prefix(2);
    }
    if (line.rfind(kTag, 0) != 0) {
        return {};
    }
    return line.substr(kTag.size());
}

} // namespace

std::vector<Fact> parse_facts(const std::vector<std::string> &lines) {
    std::vector<Fact> facts;
    for (const auto &line : lines) {
        std::istringstream words{std::string(fact_text(line))};
        std::string source;
        std::string word;
        if (!(words >> source)) {
            continue;
        }
        while (words >> word) {
            const auto eq = word.find('=');
            if (eq == 0 || eq == std::string::npos) {
                continue;
            }
            facts.push_back({source, word.substr(0, eq), word.substr(eq + 1)});
        }
    }
    return facts;
}

std::vector<Fact> facts_from(const std::string &source,
                             const std::map<std::string, std::string> &values) {
    std::vector<Fact> facts;
    for (const auto &[key, value] : values) {
        facts.push_back({source, key, value});
    }
    return facts;
}

bool PromiseCheck::kept() const {
    std::string_view rest = expected;
    while (true) {
        const auto bar = rest.find('|');
        if (rest.substr(0, bar) == found) {
            return true;
        }
        if (bar == std::string_view::npos) {
            return false;
        }
        rest.remove_prefix(bar + 1);
    }
}

std::string PromiseCheck::cause() const {
    // arm64 falls back to a 48-bit VA at boot (vabits_actual) when the CPU has no FEAT_LVA.
    if (!kept() && key == "va_bits" && expected == "52" && found == "48") {
        return "the kernel fell back to 48-bit VA: the CPU has no FEAT_LVA "
               "(ID_AA64MMFR2_EL1.VARange); QEMU's -cpu max has it";
    }
    return {};
}

std::string PromiseCheck::message() const {
    const std::string why = cause();
    return key + " (" + source + "): " + found + ", expected " + expected +
           (why.empty() ? "" : " (" + why + ")");
}

std::vector<PromiseCheck> check_promises(const std::map<std::string, std::string> &promised,
                                         const std::vector<Fact> &facts) {
    std::vector<PromiseCheck> checks;
    for (const auto &fact : facts) {
        const auto it = promised.find(fact.key);
        if (it != promised.end()) {
            checks.push_back({fact.key, fact.source, it->second, fact.value});
        }
    }
    return checks;
}

std::vector<PromiseCheck> broken(const std::vector<PromiseCheck> &checks) {
    std::vector<PromiseCheck> out;
    for (const auto &c : checks) {
        if (!c.kept()) {
            out.push_back(c);
        }
    }
    return out;
}

std::map<std::string, std::string> load_promises(const std::string &path) {
    try {
        return nlohmann::json::parse(read_text_file(path))
            .at("values")
            .get<std::map<std::string, std::string>>();
    } catch (const nlohmann::json::exception &e) {
        throw std::runtime_error(path +
                                 ": not an expectations file (ptlab expect --json): " + e.what());
    }
}

KnownFailures load_known_failures(const std::string &path) {
    return nlohmann::json::parse(read_text_file(path)).value("known_failures", KnownFailures{});
}

KnownSplats load_known_splats(const std::string &path) {
    return nlohmann::json::parse(read_text_file(path)).value("known_splats", KnownSplats{});
}

} // namespace ptlab
