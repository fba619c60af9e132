#include "cli/completions.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string_view>
#include <utility>

#include "cli/errors.hpp"

namespace agentbox::cli {

namespace {

const std::pair<std::string_view, std::string_view> kScripts[] = {
#include "completions.inc"
};

}  // namespace

CLI::App* register_completions(CLI::App& app, CompletionsOptions& o) {
    auto* cmd = app.add_subcommand("completions", "Print the shell completion script");
    cmd->add_option("SHELL", o.shell, "bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    return cmd;
}

int run_completions(const CompletionsOptions& o) {
    for (const auto& [shell, text] : kScripts)
        if (shell == o.shell) {
            std::cout << text << std::flush;
            return 0;
        }
    throw UsageError("completions: unknown shell '" + o.shell + "' (expected bash, zsh or fish)");
}

}  // namespace agentbox::cli
