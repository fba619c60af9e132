#include "cli/run_state.hpp"

#include "cli/term.hpp"
#include "stage/state.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

std::vector<stage::StateFile> files_of(const policy::Plan& plan) {
    std::vector<stage::StateFile> out;
    for (const auto& f : plan.state)
        out.push_back(stage::StateFile{f.path, util::relative_to(f.path, plan.home),
                                       f.review_whole});
    return out;
}

// "~/.claude.json" for a path in the home: what the user typed in the profile.
std::string tilde(const policy::Plan& plan, const std::string& path) {
    if (!plan.home.empty() && util::path_within(path, plan.home) && path != plan.home)
        return "~/" + util::relative_to(path, plan.home);
    return path;
}

}  // namespace

void prepare_run_state(const policy::Plan& plan, const stage::Session& session,
                       sandbox::StageDirs& dirs) {
    if (plan.state.empty()) return;
    stage::prepare_state(session.dir(), files_of(plan));
    dirs.home = session.dir() + "/home";
}

void finish_run_state(const policy::Plan& plan, const stage::Session& session, audit::Log* log,
                      bool quiet) {
    if (plan.state.empty()) return;
    std::vector<stage::StateResult> results;
    try {
        results = stage::save_state(session.dir(), files_of(plan), plan.state_keys);
    } catch (const std::exception& e) {
        error(std::string("agent state files: ") + e.what() + "; the sandbox's copies stay in " +
              session.dir() + "/home");
        return;
    }
    for (const auto& r : results) {
        if (r.outcome == stage::StateOutcome::unchanged) continue;
        if (log != nullptr) {
            audit::Event ev("state");
            ev.set("path", r.path).set("outcome", stage::to_string(r.outcome));
            if (!r.reason.empty()) ev.set("reason", r.reason);
            if (!r.keys.empty()) ev.set("keys", r.keys);
            if (!r.kept.empty()) ev.set("kept", r.kept);
            log->append(std::move(ev));
        }
        const std::string shown = tilde(plan, r.path);
        if (r.outcome == stage::StateOutcome::saved) {
            if (!quiet) note("agent state " + shown + " saved");
            continue;
        }
        std::string msg = "agent state " + shown + " NOT saved: " + r.reason +
                          ". Your file is unchanged.";
        if (!r.kept.empty())
            msg += " The agent's version is kept in " + r.kept + "; review it with `diff -u " +
                   shown + " " + r.kept + "` and, to apply it, `cp " + r.kept + " " + shown + "`.";
        warn(msg);
    }
}

}  // namespace agentbox::cli
