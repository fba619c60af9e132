#include "cli/completions.hpp"

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

int run_completions(const CompletionsOptions& o) {
    for (const auto& [shell, text] : kScripts)
        if (shell == o.shell) {
            std::cout << text << std::flush;
            return 0;
        }
    throw UsageError("completions: unknown shell '" + o.shell + "' (expected bash, zsh or fish)");
}

}  // namespace agentbox::cli
