// The few lines `run` prints when the command ends (stderr, unless -q), and the same facts as
// JSON on --summary-fd N for scripts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli/review.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "stage/session.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::cli {

// What the sandbox refused while the command ran, counted from the backend's events as they
// reach the sink: seccomp denials the supervisor answered ("syscall.denied"), connections
// the proxy refused ("net.connect" with a verdict other than allow) and the Landlock denials
// the kernel's audit records showed ("landlock.denied"; linux/landlock_audit.hpp says when).
struct Denials {
    std::map<std::string, std::uint64_t> syscalls;     // name -> times
    std::map<std::string, std::uint64_t> connections;  // host:port -> times
    std::map<std::string, std::uint64_t> landlock;     // "blockers target" -> times
    void add(const sandbox::Event& ev);
    std::uint64_t total() const;
};

struct Summary {
    std::string command;      // argv[0] of the sandboxed command
    int exit_code = util::kExitSetup;  // what agentbox exits with (DESIGN.md §2)
    int signal = 0;
    bool timed_out = false;
    bool started = false;
    std::string error;
    double wall_seconds = 0;
    std::uint64_t peak_memory = 0;
    std::string session_id;   // empty without staging
    std::string session_dir;
    profile::OnExit on_exit = profile::OnExit::keep;
    // What happened to the staged changes (review.hpp): its outcome is "none" until a review
    // ran (staging off, or the command never started).
    RunReview review{.line = "", .outcome = "none"};
    // Host variables an env.deny rule kept from the command: name and rule, never the value.
    std::vector<std::pair<std::string, std::string>> withheld_env;
    Denials denied;
};

// The variables of `environ` (the host's) that an env.deny rule of `prof` withholds, with
// the rule: what a user whose agent says "not logged in" needs to hear. Names only.
std::vector<std::pair<std::string, std::string>> withheld_env(
    const profile::Profile& prof, const std::map<std::string, std::string>& environ);
// For a command that was not found (127) although it exists on the host: why the sandbox
// does not show it, and the grant that would ("" when it does not exist on the host either).
// `path_env` is the host's PATH, searched for a bare name; `cwd` resolves a relative one.
std::string hidden_command_hint(const policy::Plan& plan, const std::string& command,
                                const std::string& path_env, const std::string& cwd,
                                const std::string& home);
// "agentbox: the profile withheld ANTHROPIC_API_KEY (env.deny "*_KEY"); pass one with ..."
// on stderr; nothing when none was.
void print_withheld_env(const std::vector<std::pair<std::string, std::string>>& withheld);

// `session` may be null (staging none). Pure.
Summary make_summary(const policy::Plan& plan, const sandbox::Outcome& out,
                     const stage::Session* session);
// A human summary on stderr.
void print_summary(const Summary& s);
// One JSON object and a newline on `fd`. Throws sys::SysError when the write fails.
void write_summary_json(int fd, const Summary& s);

}  // namespace agentbox::cli
