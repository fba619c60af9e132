// "May this happen?" — the question and the answer (DESIGN.md §1). policy::decide is the one
// place that answers it: for `explain`, for the proxy, for commit rules.
#pragma once

#include <string>

#include "profile/model.hpp"

namespace agentbox::policy {

enum class Op { read, write, exec, connect, commit, env, request };
enum class Verdict { allow, deny, ask };

// target by op:
//   read/write/exec: an absolute path (placeholders and ~ already expanded by the caller)
//   connect: "host", "host:port" or "[v6]:port" (port defaults to 443)
//   commit: a path relative to the project root, or absolute inside it
//   env: a variable name
//   request: "METHOD URL" (http:// or https://), through the proxy
struct Request {
    Op op;
    std::string target;
};

struct Decision {
    Verdict verdict = Verdict::deny;
    std::string rule;        // the rule that decided, as written: `filesystem.deny "~/.ssh"`
    profile::Source source;  // where that rule was written; file "<default>" for deny-by-default
    std::string reason;      // one human sentence
};

const char* to_string(Op);
const char* to_string(Verdict);
bool parse_op(const std::string&, Op&);

}  // namespace agentbox::policy
