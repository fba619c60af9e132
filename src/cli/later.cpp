#include "cli/later.hpp"

#include <CLI/CLI.hpp>

#include "cli/errors.hpp"

namespace agentbox::cli {

std::vector<LaterCommand> register_later(CLI::App& app) {
    static const struct {
        const char* name;
        const char* description;
        const char* usage;
    } commands[] = {
        {"sessions", "List sessions; prune old committed or discarded ones",
         "agentbox sessions [--json] [--prune[=AGE]]"},
        {"diff", "Show the staged changes of a session",
         "agentbox diff [SESSION] [--stat|--name-status|--json] [PATH...]"},
        {"commit", "Apply staged changes to the project",
         "agentbox commit [SESSION] [PATH...] [--force] [--dry-run]"},
        {"discard", "Drop the staged changes of a session", "agentbox discard [SESSION]"},
        {"undo", "Restore what the last commit of a session replaced", "agentbox undo [SESSION]"},
        {"export", "Write staged changes to an archive or a patch",
         "agentbox export [SESSION] -o FILE [--format tar|tar.gz|tar.zst|patch]"},
    };
    std::vector<LaterCommand> out;
    for (const auto& c : commands) {
        auto* sub = app.add_subcommand(c.name, c.description);
        sub->footer(std::string("Usage: ") + c.usage + "\n(not implemented yet)");
        // Whatever follows is accepted, so that the answer is "not implemented yet" rather
        // than a usage error about options this command will have.
        sub->allow_extras();
        out.push_back({c.name, sub});
    }
    return out;
}

int run_later(const LaterCommand& cmd) {
    throw Failure("'" + cmd.name + "' is not implemented yet", exit_usage);
}

}  // namespace agentbox::cli
