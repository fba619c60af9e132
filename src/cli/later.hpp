// Commands whose machinery is a later issue (sessions, diff, commit, discard, undo, export).
// They are registered so that `agentbox help` shows the whole interface, and each one fails
// with exit 2 saying so — never a fake result.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace agentbox::cli {

struct LaterCommand {
    std::string name;
    CLI::App* app = nullptr;
};

std::vector<LaterCommand> register_later(CLI::App& app);
int run_later(const LaterCommand& cmd);

}  // namespace agentbox::cli
