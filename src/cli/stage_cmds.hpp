// The commands that work on a finished session (DESIGN.md §2, §5): sessions, commit, discard,
// undo. diff and export render the same change set (diff_cmd).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stage/session.hpp"

namespace CLI {
class App;
}

namespace agentbox::cli {

struct SessionsOptions {
    bool json = false;
    std::optional<std::string> prune;  // AGE ("30d"); "" = the default age
};
struct CommitOptions {
    std::vector<std::string> args;  // [SESSION] [PATH...]
    std::optional<std::string> session;
    std::optional<std::string> project;
    bool force = false;
    bool dry_run = false;
    bool json = false;
    std::optional<std::string> approver;  // --approver CMD, else the profile's [approve]
};
struct TargetOptions {  // discard, undo
    std::optional<std::string> session;
    std::vector<std::string> args;
    std::optional<std::string> project;
    bool force = false;
    bool json = false;
};

// `commit` when no staged change lies at or below the PATHs it was given: nothing was asked
// for that exists, which a script must tell from "held back" (1). agentbox(1), EXIT STATUS.
inline constexpr int exit_nothing_matched = 3;

CLI::App* register_sessions(CLI::App& app, SessionsOptions& o);
CLI::App* register_commit(CLI::App& app, CommitOptions& o);
CLI::App* register_discard(CLI::App& app, TargetOptions& o);
CLI::App* register_undo(CLI::App& app, TargetOptions& o);
int run_sessions(const SessionsOptions& o);
int run_commit(const CommitOptions& o);
int run_discard(const TargetOptions& o);
int run_undo(const TargetOptions& o);

namespace stage_args {
// Split `[SESSION] [PATH...]`: the first word is a session when it is an id or a unique id
// prefix (at least 4 characters, starting with a digit), or when given with -s.
struct Target {
    std::string session;  // "" = the one open_session picks
    std::vector<std::string> paths;
};
Target split(const std::optional<std::string>& flag, const std::vector<std::string>& args);
// The project a command without -C means: the git top level of the current directory, else it.
std::string project_of(const std::optional<std::string>& flag);
// -s/--session and -C/--project, for every command that acts on a session.
void add_target(CLI::App* cmd, std::optional<std::string>& session,
                std::optional<std::string>& project);
// What a command without a session id acts on (agentbox(1), "Sessions"): `staged` (diff,
// commit, discard) the one session of the project that holds staged changes, else the newest
// that is not empty; `commit` (undo) the newest that is not empty. Either way, refused with
// exit 2 and the candidates listed when more than one session of the project holds staged
// changes: a script must not act on the wrong one, nor on an empty one and report success.
enum class Pick { staged, commit };
// The session `id` names, or the one `pick` chooses; a bad or ambiguous choice is a usage
// error (exit 2).
stage::Session open_session(const std::optional<std::string>& project_flag, const std::string& id,
                            Pick pick = Pick::staged);
// The one JSON object a command's --json prints on standard output (names as
// util/json_text.hpp says). `Json` is nlohmann::ordered_json; a template so that this header
// does not pull nlohmann in.
template <class Json>
std::string json_line(const Json& j) {
    return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}
}  // namespace stage_args

}  // namespace agentbox::cli
