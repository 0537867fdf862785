#include "ptlab/patches.hpp"

#include "ptlab/lines.hpp"

#include <algorithm>
#include <regex>

namespace ptlab {

namespace {

bool is_tag(const std::string &line) {
    static const std::regex tag(R"(^[A-Z][A-Za-z-]*-by: .+)");
    return std::regex_match(line, tag);
}

std::string strip_patch_prefix(const std::string &subject) {
    static const std::regex prefix(R"(^\[PATCH[^\]]*\]\s*)");
    return std::regex_replace(subject, prefix, "");
}

// The message of an upstream patch splits into prose and the trailing tag block.
struct Message {
    std::vector<std::string> prose;
    std::vector<std::string> tags;
};

Message split_message(const std::vector<std::string> &lines) {
    Message m;
    auto end = lines.end();
    while (end != lines.begin() && trim(*(end - 1)).empty()) {
        --end;
    }
    auto tags_begin = end;
    while (tags_begin != lines.begin() && is_tag(*(tags_begin - 1))) {
        --tags_begin;
    }
    m.prose.assign(lines.begin(), tags_begin);
    while (!m.prose.empty() && trim(m.prose.back()).empty()) {
        m.prose.pop_back();
    }
    m.tags.assign(tags_begin, end);
    return m;
}

bool contains_block(const std::vector<std::string> &hay, const std::vector<std::string> &needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

void check_port(const Patch &up, const Patch &port, std::vector<std::string> &problems) {
    auto problem = [&](const std::string &what) { problems.push_back(port.file + ": " + what); };
    if (port.author != up.author) {
        problem("author '" + port.author + "', the v4 patch has '" + up.author + "'");
    }
    if (port.date != up.date) {
        problem("date '" + port.date + "', the v4 patch has '" + up.date + "'");
    }
    if (port.subject != up.subject) {
        problem("subject '" + port.subject + "', the v4 patch has '" + up.subject + "'");
    }
    const Message upm = split_message(up.message);
    if (!contains_block(port.message, upm.prose)) {
        problem("does not keep the v4 commit message verbatim");
    }
    // The v4 tags, in order, then the bracketed port note, then the porter's sign-off.
    auto tags_at =
        std::search(port.message.begin(), port.message.end(), upm.tags.begin(), upm.tags.end());
    if (upm.tags.empty() || tags_at == port.message.end()) {
        problem("does not keep the v4 tags");
        return;
    }
    auto after = tags_at + static_cast<std::ptrdiff_t>(upm.tags.size());
    if (after == port.message.end() || !after->starts_with("[ Port to v6.1:")) {
        problem("no '[ Port to v6.1: ... ]' note right after the v4 tags");
        return;
    }
    auto note_end = std::find_if(after, port.message.end(), [](const std::string &l) {
        return !trim_right(l).empty() && trim_right(l).back() == ']';
    });
    if (note_end == port.message.end() || note_end + 1 == port.message.end() ||
        !(note_end + 1)->starts_with("Signed-off-by: ")) {
        problem("the port note is not closed by ']' and followed by the porter's Signed-off-by");
    }
}

} // namespace

Patch parse_patch(const std::string &file, const std::vector<std::string> &lines) {
    Patch p;
    p.file = file;
    std::size_t i = 0;
    if (i < lines.size() && lines[i].starts_with("From ")) {
        ++i; // mbox separator
    }
    std::string last_header;
    for (; i < lines.size() && !lines[i].empty(); ++i) {
        const std::string &l = lines[i];
        if ((l[0] == ' ' || l[0] == '\t') && !last_header.empty()) {
            if (last_header == "From" || last_header == "Subject") {
                std::string &target = last_header == "From" ? p.author : p.subject;
                target.push_back(' ');
                target.append(trim(l));
            }
            continue;
        }
        const auto colon = l.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        last_header = l.substr(0, colon);
        const std::string value(trim(std::string_view(l).substr(colon + 1)));
        if (last_header == "From") {
            p.author = value;
        } else if (last_header == "Date") {
            p.date = value;
        } else if (last_header == "Subject") {
            p.subject = value;
        }
    }
    p.subject = strip_patch_prefix(p.subject);
    for (++i; i < lines.size() && lines[i] != "---"; ++i) {
        p.message.push_back(lines[i]);
    }
    p.has_diff = std::any_of(lines.begin(), lines.end(),
                             [](const std::string &l) { return l.starts_with("diff --git "); });
    return p;
}

std::vector<Patch> load_patches(const std::filesystem::path &dir) {
    std::vector<std::filesystem::path> files;
    for (const auto &entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".patch") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<Patch> patches;
    patches.reserve(files.size());
    for (const auto &f : files) {
        patches.push_back(parse_patch(f.filename().string(), read_lines(f)));
    }
    return patches;
}

std::vector<std::string> check_provenance(const std::vector<Patch> &upstream,
                                          const std::vector<Patch> &series,
                                          const std::vector<Patch> &base) {
    std::vector<std::string> problems;
    if (upstream.size() != series.size()) {
        problems.push_back("the series has " + std::to_string(series.size()) +
                           " patches, upstream v4 has " + std::to_string(upstream.size()));
    }
    for (std::size_t i = 0; i < std::min(upstream.size(), series.size()); ++i) {
        if (!upstream[i].has_diff) {
            problems.push_back(upstream[i].file + ": has no diff");
        }
        check_port(upstream[i], series[i], problems);
    }
    // The baseline reverts, newest first, every ported patch that changes 6.1.
    std::vector<std::string> wanted;
    for (auto it = series.rbegin(); it != series.rend(); ++it) {
        if (it->has_diff) {
            wanted.push_back("Revert \"" + it->subject + "\"");
        }
    }
    std::vector<std::string> got;
    for (const auto &b : base) {
        got.push_back(b.subject);
        const bool signed_off = std::any_of(b.message.begin(), b.message.end(), [](const auto &l) {
            return l.starts_with("Signed-off-by: ");
        });
        if (!signed_off) {
            problems.push_back(b.file + ": no Signed-off-by");
        }
        if (!b.has_diff) {
            problems.push_back(b.file + ": has no diff");
        }
    }
    if (got != wanted) {
        std::string w;
        for (const auto &s : wanted) {
            w += (w.empty() ? "" : "; ") + s;
        }
        problems.push_back("the baseline should be, in order: " + w);
    }
    return problems;
}

} // namespace ptlab
