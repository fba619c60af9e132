// `agentbox learn [-p BASE] -o FILE -- CMD...` (agentbox(1) LEARNING A PROFILE): run CMD with
// what the base profile leaves unlisted made visible read-only and unlisted hosts let through
// the proxy, record what the command used, and write the smallest profile extending BASE under
// which the same command runs. The base profile's denials still hold, every write is still
// staged, and the run is an ordinary session: its changes wait for review.
//
// How it observes: the learn layer (below) makes the host's directories visible read-only; the
// seccomp filter sends the calls that name a path to the supervisor, which records each path
// once and lets the call go on (SeccompPlan::observe_files, sandbox/linux/notify.cpp); an
// unlisted host is an `ask` that the learner answers yes and records.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/run.hpp"
#include "policy/plan.hpp"
#include "profile/learned.hpp"
#include "profile/model.hpp"
#include "sandbox/backend.hpp"

namespace CLI {
class App;
}

namespace agentbox::cli {

class Learner {
public:
    // The layer that turns the base profile's silence into observation: read-only views of the
    // host's directories (the home and the top-level directories the sandbox does not make
    // itself), the same for execution when the base restricts it, and the proxy with unlisted
    // hosts asked. `base` is the resolved profile without it, kept to judge what was used.
    profile::Profile layer(const profile::Profile& base, const std::string& home);
    // A "learn.file" event from the supervisor: recorded, and true (it is not for the log).
    bool take(const sandbox::Event& ev);
    // The approver of the run: every ask is a yes, recorded (called on an approver thread).
    sandbox::AskAnswer ask(const sandbox::AskRequest& req);

    // What the learned profile holds, from the run's Plan: the paths that were visible only
    // through the learn layer, collapsed; the executables; the hosts.
    profile::Learned result(const policy::Plan& plan, const std::string& home) const;

    // Called by run_run once the command has ended: the run's Plan and session.
    void ran(const policy::Plan& plan, const std::string& session) {
        plan_ = plan;
        session_ = session;
        done_ = true;
    }
    bool done() const { return done_; }
    const policy::Plan& plan() const { return plan_; }
    const std::string& session() const { return session_; }

private:
    struct Use {
        std::set<std::string> comms;
    };
    std::map<std::string, Use> reads_, execs_;
    mutable std::mutex mu_;  // hosts_ is written on approver threads
    std::set<std::string> hosts_;
    bool base_restricts_exec_ = false;
    policy::Plan plan_;
    std::string session_;
    bool done_ = false;
};

struct LearnOptions {
    RunOptions run;
    std::string output;  // -o FILE
    bool force = false;  // overwrite FILE
};

CLI::App* register_learn(CLI::App& app, LearnOptions& o);
int run_learn(LearnOptions& o);

}  // namespace agentbox::cli
