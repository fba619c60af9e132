// `agentbox help [CMD]`: the same text as `agentbox [CMD] --help`, on stdout.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace agentbox::cli {

struct HelpOptions {
    std::string command;  // empty: the overview
};

CLI::App* register_help(CLI::App& app, HelpOptions& opts);
int run_help(const CLI::App& app, const HelpOptions& opts);

}  // namespace agentbox::cli
