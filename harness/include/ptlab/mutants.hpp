// The mutant catalogue (tests/mutants/catalogue.json, make mutants): small patches that each
// put one page-table ctor, dtor or lock defect into the kernel, and what the lab must say
// about each. A mutant is applied as a throwaway commit, built, booted with its plans and
// judged as any run; the run must fail for the reason its entry states, with the detection
// it names among what the run found.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/phase.hpp"
#include "ptlab/request.hpp"

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptlab {

/// A catalogue that cannot be used: which entry, which field, what is valid.
struct CatalogueError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// How the lab must catch a mutant.
struct MutantExpectation {
    std::string reason;                       ///< the verdict's reason: "test failures", "splat"
    std::string by;                           ///< a detection the run must report (below)
    std::vector<std::string> console_matches; ///< ECMAScript patterns, each some console line
};

struct Mutant {
    std::string name;
    fs::path patch;
    std::string defect;             ///< what is broken, and which review concern it is
    std::vector<std::string> steps; ///< the revisions it applies on ("series-head", ...)
    std::vector<std::string> configs;
    std::vector<std::string> plans;
    MutantExpectation expect;
    std::string kernel_args; ///< more kernel parameters ("oops=panic"), or empty
    int timeout_seconds = 0; ///< 0: the request's TIMEOUT
    /// The config of the one cell make test runs (the first step), or empty: not in make test.
    std::string fast_config;
};

/// The catalogue's mutants; configs and plans checked against the lab's, every patch
/// present. Throws CatalogueError naming the entry and what is valid.
std::vector<Mutant> load_catalogue(const fs::path &file, const Layout &layout);

/// One mutant on one config at one step.
struct MutantCell {
    const Mutant *mutant = nullptr;
    std::string config;
    std::string step;
};

/// What `make mutants` runs: every mutant (or those named) on each of its configs (or
/// those of them in configs) at each of its steps; fast: only each mutant's make test cell.
/// An unknown name is refused with the list of names.
std::vector<MutantCell> mutant_cells(const std::vector<Mutant> &catalogue,
                                     const std::vector<std::string> &names,
                                     const std::vector<std::string> &configs, bool fast);

/// What a run found, as detections a catalogue entry can name: "splat:bad_page" (x55),
/// "test:audit/efi_mm/efi_mm.pud" (a failing test, its plan first), "promise:split_pmd
/// (config)" (a promise the kernel broke), in the order the result lists them.
struct Detection {
    std::string what;
    int count = 1;
};
std::vector<Detection> detections_of(const nlohmann::json &result);

/// A cell's answer. caught: failed for the stated reason with the stated detection and
/// console lines; missed: the run passed; other: failed, but not as stated; error: the
/// mutant could not be tried (did not apply, did not build when it should have).
enum class MutantOutcome { Caught, Missed, Other, Error };
const char *outcome_name(MutantOutcome outcome);

struct MutantResult {
    std::string name;
    std::string config;
    std::string step;
    std::string sha; ///< the throwaway commit
    MutantExpectation expect;
    MutantOutcome outcome = MutantOutcome::Error;
    std::string reason; ///< the verdict's reason ("" on a pass)
    std::vector<Detection> detections;
    std::vector<std::string> problems; ///< why not caught as stated, one line each
    std::string run_dir;
    double seconds = 0; ///< apply, build, boot and judge
};

/// Judges a finished run (its result.json and console) against into.expect.
void judge_mutant(const nlohmann::json &result, const std::string &console, MutantResult &into);

/// "splat bad_page x55": the detection the entry names when the run had it, else the first
/// few the run had.
std::string caught_by_text(const MutantResult &result);

/// MUTANT CONFIG STEP CAUGHT BY TIME, one row per cell, each problem under its row; the
/// last line "N caught as stated, N missed, N caught otherwise, N errors".
void print_mutant_table(std::ostream &out, const std::vector<MutantResult> &results);
std::string mutant_results_json(const std::vector<MutantResult> &results);

struct MutantsRequest {
    fs::path catalogue;               ///< tests/mutants/catalogue.json
    std::vector<std::string> names;   ///< MUTANTS; empty: all
    std::vector<std::string> configs; ///< CONFIGS; empty: each mutant's own
    bool fast = false;                ///< --fast: make test's cells
    Request boot;                     ///< flavour, timeout, machine, verbosity
    std::string json;                 ///< also write the results here (make test)
};
MutantsRequest mutants_request_from(const Getenv &env, const Layout &layout);

/// Each cell: the patch as a throwaway commit on its step (never kept: build/linux's HEAD
/// is put back), built, booted with its plans, judged. Prints the table, writes
/// results/mutants/mutants.json; 0 when every mutant was caught as its entry states.
int run_mutants(const Layout &layout, const MutantsRequest &request, std::ostream &out,
                const Progress &progress);

} // namespace ptlab
