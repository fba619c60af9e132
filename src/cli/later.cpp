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
        {"log", "Read or verify the decision log of a session",
         "agentbox log [SESSION] [--json] [--follow] [--verify]"},
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
