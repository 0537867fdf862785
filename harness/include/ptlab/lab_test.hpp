// `make test` as data: tests/checks.json lists the checks, in order, each a kind (what it
// runs) and that kind's fields (what it expects); `ptlab test` runs the ones of the chosen
// suites and writes one KTAP stream, summarised to "N passed, N failed". A kind is one
// function in lab_test_kinds.cpp; the table says which to run, with what, and why.
#pragma once

#include "ptlab/ktap.hpp"
#include "ptlab/layout.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptlab {

/// A check table that cannot be run: which check, which field, what is valid.
struct CheckTableError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// host: no guest boots (make check); guest: make test's boots; full: make test-full's.
enum class Suite { Host, Guest, Full };

struct CheckSpec {
    std::string name;
    std::string kind;
    Suite suite = Suite::Host;
    /// The check may leave build/linux on another commit (make source makes it).
    bool moves_tree = false;
    nlohmann::json fields; ///< the kind's own, placeholders already expanded
};

/// What the placeholders {top}, {build}, {src}, {results} and {ptlab} stand for.
struct CheckPlaces {
    Layout layout;
    std::filesystem::path results; ///< this test run's folder
    std::string ptlab;             ///< the host tool, for the checks that run it
};

/// "{top}/scripts/x.sh" with the places filled in; an unknown {name} is an error.
std::string expand_places(const std::string &text, const CheckPlaces &places);

/// The table's checks in order, checked against each kind's fields; a row with "configs":
/// "all" becomes one check per geometry fragment and step ("steps", or
/// "steps_when_pmd_folded" for a geometry whose PMD is folded).
std::vector<CheckSpec> load_checks(const nlohmann::json &table, const CheckPlaces &places);

/// The kinds a table may use, for error messages and `ptlab test --kinds`.
std::vector<std::string> check_kind_names();

struct TestOptions {
    Suite suite = Suite::Guest; ///< this suite and the ones before it
    std::string only;           ///< a regular expression over check names; empty: all
    bool list = false;          ///< print the selected checks, run nothing
};

/// Runs the selected checks; the KTAP goes to places.results/checks.ktap (rewritten after
/// each check, so a stopped run keeps what it did), progress to err. Returns the results.
std::vector<TestResult> run_checks(const std::vector<CheckSpec> &checks, const CheckPlaces &places,
                                   const TestOptions &options, std::ostream &err);

/// One check, as run_checks() runs it: its result with name, time and output.
TestResult run_check(const CheckSpec &check, const CheckPlaces &places);

} // namespace ptlab
