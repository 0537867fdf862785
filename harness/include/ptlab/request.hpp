// What a user asks of the lab, from make's variables (the environment): which config,
// flavour, step and plans, and the knobs of a boot. Each knob is named, defaulted and checked
// once, here, on the host, before anything builds or boots.
#pragma once

#include "ptlab/layout.hpp"

#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptlab {

/// A knob with a value that is not allowed; the message says what is.
struct KnobError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The environment, or a map in the tests.
using Getenv = std::function<std::optional<std::string>(const std::string &)>;
Getenv process_env();

struct Knob {
    const char *name;
    const char *fallback; ///< "" when unset means "not given"
    const char *help;
};
/// Every make variable the lab reads, in `make help` order.
const std::vector<Knob> &knobs();
void print_knobs(std::ostream &out);

/// Where boots run: this machine's QEMU, or jobs on a LAVA instance.
inline constexpr const char *engine_local = "local";
inline constexpr const char *engine_lava = "lava";

/// A LAVA instance (ENGINE=lava): given by LAVA_URL and LAVA_TOKEN, else the local one of
/// `make lava-up` (url empty here: its client settings are in build/lava).
struct LavaSettings {
    std::string url;           ///< LAVA_URL: "https://lava.example.org/"
    std::string user;          ///< LAVA_USER: the token's owner
    std::string token;         ///< LAVA_TOKEN
    std::string device_type;   ///< LAVA_DEVICE_TYPE
    std::string artifacts_url; ///< LAVA_ARTIFACTS_URL: where build/lava/artifacts is served
};

struct Request {
    std::string config;
    std::string flavour;
    std::string step;
    std::vector<std::string> plans;
    int timeout_seconds = 0;
    int smp = 0;        ///< 0: the machine's
    int memory_mib = 0; ///< 0: the machine's for the page size
    std::vector<std::string> allow;
    std::vector<std::string> kselftests; ///< KSELFTESTS: only these upstream selftests
    std::string extra_args;              ///< more ptlab.* kernel parameters (PTLAB_ARGS)
    std::string machine;                 ///< another machine description (PTLAB_MACHINE), or empty
    bool verbose = false;                ///< V=1: the console and the builds' output live
    bool prebuilt = false;               ///< PREBUILT=1: boot what is built, build nothing
    /// EXEC: a shell command the guest runs after the plans, as the plan exec_plan.
    std::string exec;
    std::string share;                 ///< SHARE: a host folder, absolute, mounted at /share
    bool share_read_only = false;      ///< SHARE_RO=1
    std::string engine = engine_local; ///< ENGINE
    LavaSettings lava;
};

/// Reads and checks the knobs; throws KnobError naming the knob and what is valid.
Request request_from(const Getenv &env, const Layout &layout);

/// The make variables that request_from() reads back into the same request (a child ptlab's
/// environment: git bisect run's steps). STEP is left out: a step is what it is given.
std::map<std::string, std::string> request_env(const Request &request);

/// The value of a knob, or its fallback.
std::string knob_value(const Getenv &env, const std::string &name);

/// A whole number in [min, max]: "TIMEOUT must be a whole number, not 'abc'".
int parse_count(const std::string &name, const std::string &text, int min, int max);
/// A list separated by spaces or commas.
std::vector<std::string> split_words(const std::string &text);

void check_config_name(const std::string &config, const Layout &layout);
void check_flavour_name(const std::string &flavour, const Layout &layout);
void check_plan_names(const std::vector<std::string> &plans, const Layout &layout);
void check_kselftest_names(const std::vector<std::string> &names, const Layout &layout);

} // namespace ptlab
