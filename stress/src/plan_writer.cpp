#include "plan_writer.hpp"

#include <ostream>
#include <sstream>

namespace ptlab {

namespace {

ktap::Node node_of(const std::string &name, ktap::Outcome outcome = ktap::Outcome::Ok,
                   const std::string &skip_reason = {}, const std::string &diagnostic = {}) {
    ktap::Node node;
    node.name = name;
    node.outcome = outcome;
    node.skip_reason = skip_reason;
    if (!diagnostic.empty()) {
        node.diagnostics.push_back(diagnostic);
    }
    return node;
}

} // namespace

PlanWriter::PlanWriter(std::ostream &out, int planned, const std::vector<std::string> &header)
    : out_(out), planned_(planned) {
    out_ << "KTAP version 1\n";
    for (const auto &line : header) {
        ktap::write_diagnostic(out_, "", line);
    }
    out_ << "1.." << planned << '\n' << std::flush;
}

void PlanWriter::result(const ktap::Node &node) {
    ++ran_;
    if (node.outcome == ktap::Outcome::NotOk) {
        ++failed_;
    }
    ktap::write_result(out_, node, ran_);
    out_ << std::flush;
}

void PlanWriter::ok(const std::string &name, const std::string &diagnostic) {
    result(node_of(name, ktap::Outcome::Ok, {}, diagnostic));
}

void PlanWriter::fail(const std::string &name, const std::string &diagnostic) {
    result(node_of(name, ktap::Outcome::NotOk, {}, diagnostic));
}

void PlanWriter::skip(const std::string &name, const std::string &reason) {
    result(node_of(name, ktap::Outcome::Skip, reason));
}

void PlanWriter::check(const std::string &name, bool ok, const std::string &ok_text,
                       const std::string &fail_text) {
    if (ok) {
        this->ok(name, ok_text);
    } else {
        fail(name, fail_text);
    }
}

void PlanWriter::note(const std::string &text) {
    ktap::write_diagnostic(out_, "", text);
    out_ << std::flush;
}

void PlanWriter::nested(const std::string &name, std::string_view block) {
    out_ << "    # Subtest: " << ktap::escape(name) << '\n';
    std::istringstream lines{std::string(block)};
    for (std::string line; std::getline(lines, line);) {
        out_ << "    " << line << '\n';
    }
    std::string reason;
    const ktap::Outcome outcome = block_outcome(block, &reason);
    result(node_of(name, outcome, reason));
}

void PlanWriter::nested_result(const std::string &name, int exit_status) {
    if (exit_status == 0) {
        result(node_of(name));
    } else if (exit_status == 4) {
        result(node_of(name, ktap::Outcome::Skip, "its own KTAP says why"));
    } else {
        result(
            node_of(name, ktap::Outcome::NotOk, {}, "exit status " + std::to_string(exit_status)));
    }
}

int PlanWriter::exit_code() const { return failed_ == 0 && ran_ == planned_ ? 0 : 1; }

void write_skipped_plan(std::ostream &out, const std::string &reason) {
    out << "KTAP version 1\n1..0 # SKIP " << ktap::escape(reason) << '\n' << std::flush;
}

ktap::Outcome block_outcome(std::string_view block, std::string *skip_reason) {
    std::istringstream lines{std::string(block)};
    bool planned = false;
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("1..0 # SKIP ")) {
            *skip_reason = line.substr(12);
            return ktap::Outcome::Skip;
        }
        if (line.starts_with("1..") && line != "1..0") {
            planned = true;
        }
        if (line.starts_with("not ok ")) {
            return ktap::Outcome::NotOk;
        }
    }
    return planned ? ktap::Outcome::Ok : ktap::Outcome::NotOk;
}

} // namespace ptlab
