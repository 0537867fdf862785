#include "ptlab/kconfig.hpp"

#include "ptlab/lines.hpp"

#include <map>
#include <set>
#include <stdexcept>

namespace ptlab {

namespace {

bool is_symbol_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_symbol(std::string_view s) {
    if (!s.starts_with("CONFIG_") || s.size() == 7) {
        return false;
    }
    for (const char c : s) {
        if (!is_symbol_char(c)) {
            return false;
        }
    }
    return true;
}

struct ParsedLine {
    enum class Kind { Ignore, Set, NotSet, Invalid } kind = Kind::Ignore;
    std::string symbol;
    std::string value;
};

ParsedLine parse_line(std::string_view raw) {
    ParsedLine p;
    const std::string_view line = trim(raw);
    if (line.empty()) {
        return p;
    }
    if (line[0] == '#') {
        // "# CONFIG_FOO is not set"; any other comment is ignored.
        const std::string_view rest = trim_left(line.substr(1));
        constexpr std::string_view suffix = " is not set";
        if (rest.ends_with(suffix)) {
            const std::string_view symbol = rest.substr(0, rest.size() - suffix.size());
            if (is_symbol(symbol)) {
                p.kind = ParsedLine::Kind::NotSet;
                p.symbol = std::string(symbol);
            }
        }
        return p;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || !is_symbol(trim(line.substr(0, eq)))) {
        p.kind = ParsedLine::Kind::Invalid;
        return p;
    }
    p.symbol = std::string(trim(line.substr(0, eq)));
    p.value = std::string(trim(line.substr(eq + 1)));
    if (p.value.empty()) {
        p.kind = ParsedLine::Kind::Invalid;
        return p;
    }
    p.kind = p.value == "n" ? ParsedLine::Kind::NotSet : ParsedLine::Kind::Set;
    return p;
}

std::string normalize_symbol(std::string_view symbol) {
    symbol = trim(symbol);
    return symbol.starts_with("CONFIG_") ? std::string(symbol) : "CONFIG_" + std::string(symbol);
}

/// "\"a \\\"b\\\"\"" -> "a \"b\"" (Kconfig string escapes: \" and \\).
std::string unquote(std::string_view value) {
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') {
        return std::string(value);
    }
    value = value.substr(1, value.size() - 2);
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) {
            ++i;
        }
        out += value[i];
    }
    return out;
}

} // namespace

ConfigFragment parse_config_fragment(const std::vector<std::string> &lines) {
    ConfigFragment fragment;
    int number = 0;
    for (const auto &raw : lines) {
        ++number;
        ParsedLine p = parse_line(raw);
        switch (p.kind) {
        case ParsedLine::Kind::Ignore:
            break;
        case ParsedLine::Kind::Set:
            fragment.entries.push_back({std::move(p.symbol), std::move(p.value), number});
            break;
        case ParsedLine::Kind::NotSet:
            fragment.entries.push_back({std::move(p.symbol), std::nullopt, number});
            break;
        case ParsedLine::Kind::Invalid:
            fragment.errors.push_back("line " + std::to_string(number) + ": cannot parse '" +
                                      std::string(trim(raw)) + "'");
            break;
        }
    }
    return fragment;
}

DotConfig parse_dotconfig(const std::vector<std::string> &lines) {
    DotConfig config;
    for (const auto &raw : lines) {
        ParsedLine p = parse_line(raw);
        if (p.kind == ParsedLine::Kind::Set) {
            config[p.symbol] = std::move(p.value);
        } else if (p.kind == ParsedLine::Kind::NotSet) {
            config.erase(p.symbol);
        }
    }
    return config;
}

std::string ConfigMismatch::message() const { return symbol + ": asked " + asked + ", got " + got; }

std::vector<ConfigMismatch> check_config(const ConfigFragment &fragment, const DotConfig &config) {
    // Last occurrence of a symbol wins, as with merge_config.sh; report in first-seen order.
    std::map<std::string, std::optional<std::string>> wanted;
    std::vector<std::string> order;
    for (const auto &entry : fragment.entries) {
        if (wanted.find(entry.symbol) == wanted.end()) {
            order.push_back(entry.symbol);
        }
        wanted[entry.symbol] = entry.value;
    }
    std::vector<ConfigMismatch> mismatches;
    for (const auto &symbol : order) {
        const auto &asked = wanted[symbol];
        const auto it = config.find(symbol);
        const std::optional<std::string> got =
            it == config.end() ? std::nullopt : std::optional<std::string>(it->second);
        if (asked != got) {
            mismatches.push_back({symbol, asked.value_or("not set"), got.value_or("not set")});
        }
    }
    return mismatches;
}

std::size_t distinct_symbols(const ConfigFragment &fragment) {
    std::set<std::string> symbols;
    for (const auto &entry : fragment.entries) {
        symbols.insert(entry.symbol);
    }
    return symbols.size();
}

std::string config_get(const DotConfig &config, std::string_view symbol) {
    const auto it = config.find(normalize_symbol(symbol));
    if (it == config.end()) {
        return "n";
    }
    return unquote(it->second);
}

std::size_t config_distance(const DotConfig &a, const DotConfig &b) {
    std::size_t differing = 0;
    for (const auto &[symbol, value] : a) {
        const auto it = b.find(symbol);
        differing += it == b.end() || it->second != value ? 1 : 0;
    }
    for (const auto &[symbol, value] : b) {
        differing += a.count(symbol) == 0 ? 1 : 0;
    }
    return differing;
}

std::size_t closest_config(const DotConfig &target, const std::vector<DotConfig> &candidates) {
    if (candidates.empty()) {
        throw std::runtime_error("closest_config: no candidates");
    }
    std::size_t best = 0;
    std::size_t best_distance = config_distance(target, candidates[0]);
    for (std::size_t i = 1; i < candidates.size(); ++i) {
        const std::size_t d = config_distance(target, candidates[i]);
        if (d < best_distance) {
            best = i;
            best_distance = d;
        }
    }
    return best;
}

namespace {

struct MergedFragments {
    ConfigFragment merged;
    std::map<std::string, std::string> asked_by; ///< symbol -> the last fragment naming it
    std::vector<std::string> errors;
};

MergedFragments merge_fragments(const std::vector<std::filesystem::path> &fragments) {
    MergedFragments m;
    for (const auto &path : fragments) {
        const ConfigFragment fragment = parse_config_fragment(read_lines(path));
        for (const auto &error : fragment.errors) {
            m.errors.push_back(path.string() + ": " + error);
        }
        for (const auto &entry : fragment.entries) {
            m.merged.entries.push_back(entry);
            m.asked_by[entry.symbol] = path.string();
        }
    }
    return m;
}

} // namespace

std::vector<std::string> check_fragments(const std::vector<std::filesystem::path> &fragments,
                                         const DotConfig &config) {
    MergedFragments m = merge_fragments(fragments);
    std::vector<std::string> problems = std::move(m.errors);
    for (const auto &mismatch : check_config(m.merged, config)) {
        problems.push_back(m.asked_by[mismatch.symbol] + ": " + mismatch.message());
    }
    return problems;
}

std::size_t fragment_symbols(const std::vector<std::filesystem::path> &fragments) {
    return distinct_symbols(merge_fragments(fragments).merged);
}

} // namespace ptlab
