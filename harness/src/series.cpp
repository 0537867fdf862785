#include "ptlab/series.hpp"

#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"
#include "ptlab/tools.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>

namespace ptlab {

namespace {

/// The header's value, continuation lines joined ("Subject: [PATCH] a\n long" -> "a long").
std::string header(const std::vector<std::string> &lines, const std::string &name) {
    std::string value;
    bool in = false;
    for (const auto &line : lines) {
        if (line.empty()) {
            break;
        }
        if (in && (line[0] == ' ' || line[0] == '\t')) {
            value += " " + std::string(trim(line));
            continue;
        }
        in = false;
        if (line.size() > name.size() && line[name.size()] == ':' &&
            std::equal(name.begin(), name.end(), line.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
            value = std::string(trim(std::string_view(line).substr(name.size() + 1)));
            in = true;
        }
    }
    return value;
}

MboxMessage message_of(const std::vector<std::string> &lines) {
    MboxMessage m;
    m.subject = header(lines, "Subject");
    m.reply = std::regex_search(m.subject, std::regex("^(re|aw|sv):", std::regex::icase));
    // "[PATCH v2 1/3]", "[RFC PATCH v3 0/4]", "[PATCH 1/3]", "[PATCH]".
    static const std::regex tag(R"(\[[^\]]*PATCH[^\]]*\])", std::regex::icase);
    static const std::regex version(R"(\bv([0-9]+)\b)");
    static const std::regex position(R"(\b([0-9]+)/([0-9]+)\b)");
    bool tagged = false;
    if (std::smatch t; std::regex_search(m.subject, t, tag)) {
        tagged = true;
        const std::string inside = t.str();
        if (std::smatch v; std::regex_search(inside, v, version)) {
            m.version = std::stoi(v[1]);
        }
        if (std::smatch p; std::regex_search(inside, p, position)) {
            m.number = std::stoi(p[1]);
            m.total = std::stoi(p[2]);
        }
    }
    // A patch with nothing left to change (an empty commit, as 3/4 of our port) has no diff:
    // any PATCH message that is neither a reply nor a cover letter is one.
    const bool diff = std::any_of(lines.begin(), lines.end(), [](const std::string &l) {
        return l.starts_with("diff --git ");
    });
    m.patch = diff || (tagged && !m.reply && !(m.total > 0 && m.number == 0));
    return m;
}

/// git mailsplit: one file per message, in the mbox's order.
std::vector<fs::path> split_mbox(const fs::path &mbox, const fs::path &into) {
    fs::create_directories(into);
    ProcessOptions options;
    options.merge_stderr = true;
    const Captured split =
        capture_process({"git", "mailsplit", "-o" + into.string(), mbox.string()}, options);
    if (split.status != 0) {
        throw std::runtime_error("SERIES=" + mbox.string() + ": git mailsplit: " + split.out);
    }
    std::vector<fs::path> files;
    for (const auto &entry : fs::directory_iterator(into)) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// The messages that carry a diff, each as a file, with its subject.
SeriesPatches patches_of(const std::vector<fs::path> &messages) {
    SeriesPatches out;
    for (const auto &file : messages) {
        const MboxMessage m = message_of(read_lines(file));
        if (m.patch) {
            out.files.push_back(file);
            out.subjects.push_back(m.subject);
        }
    }
    return out;
}

/// b4 am, offline: the newest complete version with the replies' trailers, as one mbox.
fs::path b4_pick(const fs::path &mbox, const fs::path &work) {
    ProcessOptions options;
    options.merge_stderr = true;
    const Captured b4 =
        capture_process({"b4", "--offline-mode", "--no-interactive", "am", "--use-local-mbox",
                         mbox.string(), "--outdir", work.string(), "--mbox-name", "picked"},
                        options);
    const fs::path picked = work / "picked.mbx";
    if (b4.status != 0 || !fs::exists(picked)) {
        throw std::runtime_error("SERIES=" + mbox.string() + ": b4 am found no complete series:\n" +
                                 b4.out);
    }
    return picked;
}

} // namespace

std::vector<fs::path> patch_files(const fs::path &folder) {
    std::vector<fs::path> patches;
    for (const auto &entry : fs::directory_iterator(folder)) {
        if (entry.path().extension() == ".patch") {
            patches.push_back(entry.path());
        }
    }
    if (patches.empty()) {
        throw std::runtime_error("no *.patch in " + folder.string());
    }
    std::sort(patches.begin(), patches.end());
    return patches;
}

std::vector<MboxMessage> mbox_messages(std::string_view mbox) {
    std::vector<MboxMessage> out;
    std::vector<std::string> current;
    auto flush = [&] {
        if (!current.empty()) {
            out.push_back(message_of(current));
        }
        current.clear();
    };
    for (auto &line : split_lines(mbox)) {
        if (line.starts_with("From ")) {
            flush();
            continue;
        }
        current.push_back(std::move(line));
    }
    flush();
    return out;
}

bool is_thread(const std::vector<MboxMessage> &messages) {
    std::set<int> versions;
    std::set<int> numbers;
    for (const auto &m : messages) {
        if (m.reply) {
            return true;
        }
        versions.insert(m.version);
        if (m.patch && m.number > 0 && !numbers.insert(m.number).second) {
            return true;
        }
    }
    return versions.size() > 1;
}

SeriesPatches series_patches(const Layout &layout, const fs::path &series) {
    const fs::path work = layout.series_work();
    if (fs::is_directory(series)) {
        SeriesPatches out;
        out.files = patch_files(series);
        for (const auto &file : out.files) {
            out.subjects.push_back(message_of(read_lines(file)).subject);
        }
        out.how = "folder: " + std::to_string(out.files.size()) + " patches";
        return out;
    }
    if (!fs::is_regular_file(series)) {
        throw std::runtime_error("SERIES=" + series.string() +
                                 " is neither a folder of patches nor an mbox");
    }
    fs::remove_all(work);
    fs::create_directories(work);
    const auto messages = mbox_messages(read_text_file(series));
    SeriesPatches out;
    if (is_thread(messages)) {
        need_tools(layout.tool_packages(), {"b4"});
        out = patches_of(split_mbox(b4_pick(series, work), work / "split"));
        std::set<int> versions;
        for (const auto &m : messages) {
            versions.insert(m.version);
        }
        const int picked = out.files.empty() ? 0 : message_of(read_lines(out.files[0])).version;
        out.how = "thread: v" + std::to_string(picked) + " of " + std::to_string(versions.size()) +
                  " version(s), " + std::to_string(out.files.size()) + " patches, picked by b4 am";
    } else {
        out = patches_of(split_mbox(series, work / "split"));
        out.how = "mbox: " + std::to_string(out.files.size()) + " patches";
    }
    if (out.files.empty()) {
        throw std::runtime_error("SERIES=" + series.string() + " holds no patch (no diff)");
    }
    return out;
}

std::string apply_series(const Layout &layout, const Tree &tree, const fs::path &series,
                         const std::string &onto, const Progress &progress) {
    const SeriesPatches patches = series_patches(layout, series);
    progress.say("SERIES " + series.string() + ": " + patches.how);
    tree.checkout(onto);
    for (std::size_t i = 0; i < patches.files.size(); ++i) {
        try {
            am_patch(tree, patches.files[i]);
        } catch (const std::runtime_error &e) {
            throw std::runtime_error(std::string(e.what()) + "\nthat is patch " +
                                     std::to_string(i + 1) + "/" +
                                     std::to_string(patches.files.size()) +
                                     " of SERIES=" + series.string() + ": " + patches.subjects[i]);
        }
    }
    const std::string last = tree.head();
    progress.say("SERIES applied on " + onto + ": " +
                 std::to_string(tree.commits_between(onto, last).size()) + " commits, last " +
                 last.substr(0, 12));
    return last;
}

} // namespace ptlab
