// A guest plan's KTAP, streamed as the plan runs (so a guest that hangs or panics mid-plan
// still shows what it did): the header and plan first, then each result as it is known,
// through the lab's one KTAP writer. A child's KTAP (the module's report, another
// ptlab-stress run) is nested under a result of its own, indented.
#pragma once

#include "ktap_writer.hpp"

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

class PlanWriter {
public:
    /// Writes "KTAP version 1", the header's diagnostics (what the whole plan ran with) and
    /// "1..planned".
    PlanWriter(std::ostream &out, int planned, const std::vector<std::string> &header = {});

    void ok(const std::string &name, const std::string &diagnostic = {});
    void fail(const std::string &name, const std::string &diagnostic);
    void skip(const std::string &name, const std::string &reason);
    void check(const std::string &name, bool ok, const std::string &ok_text,
               const std::string &fail_text);
    /// A diagnostic of the plan's own ("# text").
    void note(const std::string &text);

    /// "# Subtest: name", then block indented four spaces (a whole KTAP document), then
    /// the result line: the block's own "1..0 # SKIP reason" makes it a skip; a block with no
    /// tests planned, or a "not ok" among its own results, a failure.
    void nested(const std::string &name, std::string_view block);
    /// The same for a block whose verdict is known from elsewhere (a child's exit status:
    /// 0 ok, 4 skip, else not ok); the block was already streamed, indented, by the caller.
    void nested_result(const std::string &name, int exit_status);

    /// 0 when every planned test ran and none failed, else 1.
    [[nodiscard]] int exit_code() const;

private:
    void result(const ktap::Node &node);

    std::ostream &out_;
    int planned_;
    int ran_ = 0;
    int failed_ = 0;
};

/// A whole plan that cannot run here: "KTAP version 1", "1..0 # SKIP reason" (the reason
/// escaped by the one writer).
void write_skipped_plan(std::ostream &out, const std::string &reason);

/// The outcome of a KTAP document's own results (not its subtests'): Skip for
/// "1..0 # SKIP why" (reason in *skip_reason), NotOk for a "not ok" or no test planned.
ktap::Outcome block_outcome(std::string_view block, std::string *skip_reason);

} // namespace ptlab
