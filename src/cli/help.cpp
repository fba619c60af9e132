#include "cli/help.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/errors.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

CLI::App* register_help(CLI::App& app, HelpOptions& o) {
    auto* cmd = app.add_subcommand("help", "Show help for agentbox or one of its commands");
    cmd->add_option("COMMAND", o.command, "Command to describe");
    return cmd;
}

int run_help(const CLI::App& app, const HelpOptions& o) {
    if (o.command.empty()) {
        // Not app.help(): that describes the selected subcommand, which is `help` itself.
        std::cout << app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
        return 0;
    }
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands({})) {
        if (sub->get_name() == o.command) {
            std::cout << sub->help(app.get_name());
            return 0;
        }
        names.push_back(sub->get_name());
    }
    const std::string near = util::nearest(o.command, names);
    throw UsageError("help: no command " + util::quote(o.command) +
                     (near.empty() ? "" : " (did you mean '" + near + "'?)"));
}

}  // namespace agentbox::cli
