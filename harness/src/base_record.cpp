#include "ptlab/base_record.hpp"

#include "ptlab/lines.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace ptlab {

namespace {

const char *const tree_tags[] = {"pristine", "series-base", "series-head"};

std::string short_id(const std::string &sha) { return sha.substr(0, 12); }

} // namespace

BaseRecord load_base_record(const std::filesystem::path &path) {
    BaseRecord r;
    try {
        const auto j = nlohmann::json::parse(read_text_file(path));
        r.package = j.at("package").get<std::string>();
        r.version = j.at("version").get<std::string>();
        r.commits = j.at("commits").get<std::map<std::string, std::string>>();
    } catch (const nlohmann::json::exception &e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
    for (const char *tag : tree_tags) {
        if (r.commits.count(tag) == 0) {
            throw std::runtime_error(path.string() + ": no commit for " + tag);
        }
    }
    return r;
}

std::string base_record_to_json(const BaseRecord &record) {
    nlohmann::ordered_json j;
    j["package"] = record.package;
    j["version"] = record.version;
    j["commits"] = nlohmann::ordered_json::object();
    for (const char *tag : tree_tags) {
        j["commits"][tag] = record.commits.at(tag);
    }
    return j.dump(2) + "\n";
}

BaseComparison compare_base(const BaseRecord &recorded, const BaseRecord &built) {
    BaseComparison c;
    std::vector<std::string> moved;
    for (const char *tag : tree_tags) {
        const std::string &was = recorded.commits.at(tag);
        const std::string &now = built.commits.at(tag);
        if (was != now) {
            moved.push_back(std::string(tag) + " " + short_id(now) + " here, " + short_id(was) +
                            " recorded");
        }
    }
    c.lines.push_back("source: " + built.package + " " + built.version + ", series-head " +
                      short_id(built.commits.at("series-head")));
    if (built.version != recorded.version) {
        c.drift = BaseDrift::NewVersion;
        c.lines.push_back("source: BASE DRIFT: Debian serves " + built.package + " " +
                          built.version + "; the series was last verified on " + recorded.version +
                          ". The patches applied, but this is not the "
                          "tree the lab's results were recorded on.");
    } else if (!moved.empty()) {
        c.drift = BaseDrift::NotReproducible;
        c.lines.push_back("source: " + built.version +
                          " is the recorded version, yet the tree's commit ids differ: the "
                          "tree was not built as recorded");
    }
    for (const auto &m : moved) {
        c.lines.push_back("source:   " + m);
    }
    return c;
}

std::vector<std::string> unquoted_ids(const BaseRecord &record, const std::string &text) {
    std::vector<std::string> missing;
    for (const char *tag : tree_tags) {
        const std::string id = short_id(record.commits.at(tag));
        if (text.find(id) == std::string::npos) {
            missing.push_back(std::string(tag) + " " + id);
        }
    }
    return missing;
}

} // namespace ptlab
