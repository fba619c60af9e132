// `agentbox completions bash|zsh|fish`: prints the completion script from completions/,
// embedded at build time (cmake/embed_completions.cmake) so that there is one copy of each.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace agentbox::cli {

struct CompletionsOptions {
    std::string shell;
};

CLI::App* register_completions(CLI::App& app, CompletionsOptions& opts);
int run_completions(const CompletionsOptions& opts);

}  // namespace agentbox::cli
