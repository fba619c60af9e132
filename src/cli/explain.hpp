// `agentbox explain [-p PROFILE]... [-C DIR] [--json] OP TARGET`: one decision of
// policy::decide, with the rule that made it and where that rule is written. Exit 0 allow,
// 1 deny, 3 ask (DESIGN.md §2).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace agentbox::cli {

struct ExplainOptions {
    std::vector<std::string> profiles;
    std::optional<std::string> project;
    bool json = false;
    std::string op;
    std::string target;
};

CLI::App* register_explain(CLI::App& app, ExplainOptions& opts);
int run_explain(const ExplainOptions& opts);

}  // namespace agentbox::cli
