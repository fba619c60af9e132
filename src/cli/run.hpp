// `agentbox run [opts] [--] CMD [ARGS...]` (DESIGN.md §2): resolve the profile, compile the
// Plan, refuse what cannot be enforced, stage, launch, summarize.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace agentbox::cli {

class Learner;  // cli/learn.hpp

struct RunOptions {
    std::vector<std::string> profiles;  // -p, layered in order; default {"default"}
    std::optional<std::string> project; // -C
    std::vector<std::string> ro, rw, hide;
    std::optional<std::string> net;     // none | proxy | host
    std::vector<std::string> allow_hosts;
    std::vector<std::string> secrets;  // --secret NAME@HOST[,HOST...]
    std::vector<std::string> env;       // NAME or NAME=VALUE
    std::optional<std::string> timeout, memory, pids;
    std::optional<std::string> on_exit; // ask | commit | discard | keep
    std::optional<std::string> approver;
    std::optional<std::string> log_file;  // --log FILE: a copy of the decision log
    std::optional<int> log_fd;            // --log-fd N: the same on a descriptor
    std::optional<std::string> otlp;      // --otlp URL: export the log to a collector
    bool dry_run = false;
    bool json = false;                  // --dry-run output as JSON
    std::string backend = "auto";       // auto | native | bwrap | seatbelt
    std::string target;                 // --dry-run --target macos|windows; empty: this host
    bool tty = false, no_tty = false;
    bool allow_weaker = false;
    bool die_with_parent = true;        // --no-die-with-parent: outlive the starting process
    bool quiet = false;
    int verbose = 0;
    std::optional<int> summary_fd;
    std::vector<std::string> command;   // CMD ARGS..., filled from what follows the options
    Learner* learner = nullptr;         // `agentbox learn`: observe instead of deny (learn.hpp)
};

CLI::App* register_run(CLI::App& app, RunOptions& opts);
int run_run(const RunOptions& opts);

}  // namespace agentbox::cli
