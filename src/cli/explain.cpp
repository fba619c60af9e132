#include "cli/explain.hpp"
#include "cli/own_dirs.hpp"

#include <iostream>

#include "cli/context.hpp"
#include "cli/errors.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"
#include "sandbox/host.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

bool explain_request(const std::string& op_name, const std::string& target, const std::string& cwd,
                     const std::string& home, policy::Request& req) {
    policy::Op op{};
    if (!policy::parse_op(op_name, op)) return false;
    req = policy::Request{op, target};
    switch (op) {
        case policy::Op::read:
        case policy::Op::write:
        case policy::Op::exec:
            req.target = expand_path(target, cwd, home);
            break;
        case policy::Op::commit:
            // Project-relative as written; "~" or an absolute path is taken as a path.
            if (!target.empty() && (target[0] == '/' || target[0] == '~'))
                req.target = expand_path(target, cwd, home);
            break;
        case policy::Op::connect:
            // A path is a unix socket; anything else a host name.
            if (!target.empty() && (target[0] == '/' || target[0] == '~' ||
                                    target.starts_with("./")))
                req.target = expand_path(target, cwd, home);
            break;
        case policy::Op::env:
        case policy::Op::request:  // "METHOD URL", as written
            break;
    }
    return true;
}

int run_explain(const ExplainOptions& o) {
    static const std::vector<std::string> ops = {"read", "write", "exec", "connect",
                                                 "commit", "env", "request"};
    policy::Op op{};
    if (!policy::parse_op(o.op, op)) {
        const std::string near = util::nearest(o.op, ops);
        throw UsageError("explain: unknown operation " + util::quote(o.op) +
                         (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                         "; expected one of " + util::join(ops, ", "));
    }
    if (op == policy::Op::request && o.url.empty())
        throw UsageError("explain request: expected METHOD URL (explain request GET "
                         "https://api.example.com/v1/models)");
    if (op != policy::Op::request && !o.url.empty())
        throw UsageError("explain " + o.op + ": takes one TARGET; unexpected " +
                         util::quote(o.url));

    auto env = environment();
    const std::string home = home_dir(env);
    const std::string cwd = current_dir();
    // Nothing is staged here, so "/" or the home directory as the project is not refused:
    // `agentbox explain read ~/.ssh/id_rsa` from the home directory must just answer.
    const std::string project = resolve_project(o.project, cwd, home, /*refuse_broad=*/false);
    const profile::Context ctx = make_context(project, cwd, home, std::move(env));
    profile::Profile prof = profile::load_all(
        o.profiles.empty() ? std::vector<std::string>{"default"} : o.profiles, ctx);
    profile::merge_into(prof, own_dirs_layer(/*create=*/false));

    policy::Request req;
    explain_request(o.op, op == policy::Op::request ? o.target + " " + o.url : o.target, cwd,
                    home, req);

    // Paths are resolved on the host as the sandbox's kernel will (issue 18), so explain and
    // the run agree through symlinks. No home rule: a path in the empty home shows nothing
    // of the host's, and scripts (examples/agents/wrap.sh) ask whether the host's file is seen.
    const policy::HostFacts host = sandbox::fs_facts();
    const policy::Decision d = policy::decide(prof, req, project, std::string(), &host);
    const std::string text = o.json ? policy::render_json(d, req) : policy::render_text(d, req);
    std::cout << text << (text.ends_with('\n') ? "" : "\n") << std::flush;
    switch (d.verdict) {
        case policy::Verdict::allow: return 0;
        case policy::Verdict::deny: return 1;
        case policy::Verdict::ask: return 3;
    }
    return 1;
}

}  // namespace agentbox::cli
