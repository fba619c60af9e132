// `agentbox explain [-p PROFILE]... [-C DIR] [--json] OP TARGET` (`request METHOD URL`): one
// decision of
// policy::decide, with the rule that made it and where that rule is written. Exit 0 allow,
// 1 deny, 3 ask (DESIGN.md §2).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/request.hpp"

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
    std::string url;  // `explain request METHOD URL`: TARGET is the method
};

CLI::App* register_explain(CLI::App& app, ExplainOptions& opts);

// OP TARGET as explain takes them, as the request policy::decide answers: paths expanded
// (~, relative to `cwd`), a commit target kept project-relative. False for an unknown OP.
bool explain_request(const std::string& op, const std::string& target, const std::string& cwd,
                     const std::string& home, policy::Request& out);
int run_explain(const ExplainOptions& opts);

}  // namespace agentbox::cli
