#include "ptlab/matrix.hpp"

#include "ptlab/lines.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace ptlab {

namespace {

void read_result(MatrixCell &cell, const std::string &path) {
    nlohmann::json r;
    try {
        r = nlohmann::json::parse(read_text_file(path));
    } catch (const std::exception &e) {
        cell.outcome = "no result";
        cell.reason = e.what();
        return;
    }
    cell.outcome = r.value("outcome", "fail");
    const auto &counts = r.at("counts");
    cell.passed = counts.value("passed", 0);
    cell.failed = counts.value("failed", 0);
    cell.skipped = counts.value("skipped", 0);
    const std::string reason = r.value("reason", "");
    const std::string detail = r.value("detail", "");
    cell.reason = detail.empty() ? reason : reason + ": " + detail;
    for (const auto &t : r.value("tests", nlohmann::json::array())) {
        cell.plans.emplace_back(t.value("name", "?"), t.value("status", "?"));
        for (const auto &sub : t.value("subtests", nlohmann::json::array())) {
            cell.tests[t.value("name", "?") + "/" + sub.value("name", "?")] =
                sub.value("status", "?");
        }
    }
}

template <typename T> void add_unique(std::vector<T> &v, const T &x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) {
        v.push_back(x);
    }
}

std::string cell_text(const MatrixCell &c) {
    if (c.outcome != "pass" && c.outcome != "fail") {
        return c.outcome;
    }
    std::ostringstream s;
    s << (c.outcome == "pass" ? "PASS " : "FAIL ") << c.passed << "/" << c.failed << "/"
      << c.skipped;
    if (!c.lava_job.empty()) {
        s << " #" << c.lava_job;
    }
    return s.str();
}

std::string xml_escape(const std::string &s) {
    std::string out;
    for (const char ch : sanitize_utf8(s)) {
        switch (ch) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += static_cast<unsigned char>(ch) < 0x20 && ch != '\n' ? ' ' : ch;
        }
    }
    return out;
}

} // namespace

MatrixCell cell_from_result(const std::string &step, const std::string &config,
                            const std::string &result_json, double seconds) {
    MatrixCell cell;
    cell.step = step;
    cell.config = config;
    cell.seconds = seconds;
    read_result(cell, result_json);
    return cell;
}

MatrixCell stopped_cell(const std::string &step, const std::string &config, const std::string &what,
                        double seconds) {
    MatrixCell cell;
    cell.step = step;
    cell.config = config;
    cell.outcome = what;
    cell.seconds = seconds;
    return cell;
}

void print_matrix(std::ostream &out, const std::vector<MatrixCell> &cells) {
    std::vector<std::string> steps;
    std::vector<std::string> configs;
    for (const auto &c : cells) {
        add_unique(steps, c.step);
        add_unique(configs, c.config);
    }
    auto find = [&](const std::string &step, const std::string &config) -> const MatrixCell * {
        for (const auto &c : cells) {
            if (c.step == step && c.config == config) {
                return &c;
            }
        }
        return nullptr;
    };
    std::size_t step_width = 4;
    for (const auto &s : steps) {
        step_width = std::max(step_width, s.size());
    }
    constexpr int kWidth = 18;
    out << std::left << std::setw(static_cast<int>(step_width) + 2) << "STEP";
    for (const auto &c : configs) {
        out << std::setw(kWidth) << c;
    }
    out << "\n";
    for (const auto &s : steps) {
        out << std::setw(static_cast<int>(step_width) + 2) << s;
        for (const auto &c : configs) {
            const MatrixCell *cell = find(s, c);
            out << std::setw(kWidth) << (cell != nullptr ? cell_text(*cell) : "-");
        }
        out << "\n";
    }
    const bool lava = std::any_of(cells.begin(), cells.end(),
                                  [](const MatrixCell &c) { return !c.lava_job.empty(); });
    out << "(cells: PASS|FAIL passed/failed/skipped" << (lava ? " #LAVA job" : "") << ")\n";
    int pass = 0;
    int fail = 0;
    for (const auto &c : cells) {
        if (c.outcome == "pass") {
            ++pass;
        } else {
            ++fail;
            out << "  " << c.step << " x " << c.config << ": " << c.outcome
                << (c.reason.empty() ? "" : " (" + c.reason + ")")
                << (c.lava_job.empty() ? "" : ", LAVA job " + c.lava_job + " " + c.lava_health)
                << "\n";
        }
    }
    if (const auto differences = matrix_differences(cells); !differences.empty()) {
        out << "tests whose result differs between the first and the last step:\n";
        for (const auto &line : differences) {
            out << "  " << line << "\n";
        }
    }
    out << pass << " cells passed, " << fail << " failed\n";
}

std::vector<std::string> matrix_differences(const std::vector<MatrixCell> &cells) {
    std::vector<std::string> configs;
    for (const auto &c : cells) {
        add_unique(configs, c.config);
    }
    std::vector<std::string> lines;
    for (const auto &config : configs) {
        const MatrixCell *first = nullptr;
        const MatrixCell *last = nullptr;
        for (const auto &c : cells) {
            if (c.config == config) {
                first = first == nullptr ? &c : first;
                last = &c;
            }
        }
        if (first == last) {
            continue;
        }
        for (const auto &[test, status] : first->tests) {
            const auto it = last->tests.find(test);
            if (it != last->tests.end() && it->second != status) {
                lines.push_back(config + ": " + test + ": " + first->step + " " + status + ", " +
                                last->step + " " + it->second);
            }
        }
    }
    return lines;
}

std::vector<std::string> matrix_disagreements(const nlohmann::json &a, const nlohmann::json &b) {
    const auto key = [](const nlohmann::json &c) {
        return c.value("step", "?") + " x " + c.value("config", "?");
    };
    std::map<std::string, nlohmann::json> theirs;
    for (const auto &c : b.at("cells")) {
        theirs[key(c)] = c;
    }
    std::vector<std::string> lines;
    for (const auto &mine : a.at("cells")) {
        const auto it = theirs.find(key(mine));
        if (it == theirs.end()) {
            lines.push_back(key(mine) + ": only in the first");
            continue;
        }
        for (const char *field : {"outcome", "passed", "failed", "skipped", "plans"}) {
            if (mine.value(field, nlohmann::json()) != it->second.value(field, nlohmann::json())) {
                lines.push_back(key(mine) + ": " + field + " " +
                                mine.value(field, nlohmann::json()).dump() + " vs " +
                                it->second.value(field, nlohmann::json()).dump());
            }
        }
        theirs.erase(it);
    }
    for (const auto &[k, _] : theirs) {
        lines.push_back(k + ": only in the second");
    }
    return lines;
}

std::string matrix_to_json(const std::vector<MatrixCell> &cells) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto &c : cells) {
        nlohmann::json plans = nlohmann::json::object();
        for (const auto &[name, status] : c.plans) {
            plans[name] = status;
        }
        j.push_back(
            {{"step", c.step},
             {"config", c.config},
             {"outcome", c.outcome},
             {"reason", c.reason},
             {"passed", c.passed},
             {"failed", c.failed},
             {"skipped", c.skipped},
             {"seconds", c.seconds < 0 ? nlohmann::json(nullptr) : nlohmann::json(c.seconds)},
             {"plans", plans}});
        if (!c.lava_job.empty()) {
            j.back()["lava"] = {{"job", c.lava_job}, {"health", c.lava_health}};
        }
    }
    return nlohmann::json{{"cells", j}}.dump(2) + "\n";
}

void write_matrix_junit(std::ostream &out, const std::vector<MatrixCell> &cells) {
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"matrix\">\n";
    for (const auto &c : cells) {
        const std::string suite = c.step + "/" + c.config;
        int failures = 0;
        int skipped = 0;
        for (const auto &[_, status] : c.plans) {
            failures += status == "fail" || status == "error" ? 1 : 0;
            skipped += status == "skip" ? 1 : 0;
        }
        const bool cell_failed = c.outcome != "pass";
        out << "  <testsuite name=\"" << xml_escape(suite) << "\" tests=\"" << c.plans.size() + 1
            << "\" failures=\"" << failures + (cell_failed ? 1 : 0) << "\" skipped=\"" << skipped
            << "\">\n";
        if (!c.lava_job.empty()) {
            out << "    <properties><property name=\"lava_job\" value=\"" << xml_escape(c.lava_job)
                << "\"/><property name=\"lava_health\" value=\"" << xml_escape(c.lava_health)
                << "\"/></properties>\n";
        }
        out << "    <testcase classname=\"" << xml_escape(suite) << "\" name=\"verdict\"";
        if (cell_failed) {
            out << "><failure message=\"" << xml_escape(c.outcome + ": " + c.reason)
                << "\"/></testcase>\n";
        } else {
            out << "/>\n";
        }
        for (const auto &[name, status] : c.plans) {
            out << "    <testcase classname=\"" << xml_escape(suite) << "\" name=\""
                << xml_escape(name) << "\"";
            if (status == "fail" || status == "error") {
                out << "><failure message=\"" << xml_escape(status) << "\"/></testcase>\n";
            } else if (status == "skip") {
                out << "><skipped/></testcase>\n";
            } else {
                out << "/>\n";
            }
        }
        out << "  </testsuite>\n";
    }
    out << "</testsuites>\n";
}

} // namespace ptlab
