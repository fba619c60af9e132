#include "cli/stage_cmds.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <set>

#include "audit/log.hpp"
#include "cli/approvals.hpp"
#include "cli/context.hpp"
#include "cli/errors.hpp"
#include "cli/review.hpp"
#include "cli/term.hpp"
#include "profile/load.hpp"
#include "stage/changes.hpp"
#include "stage/commit.hpp"
#include "stage/session.hpp"
#include "sys/error.hpp"
#include "sys/remove.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace stage_args {

std::string project_of(const std::optional<std::string>& flag) {
    auto env = environment();
    // Naming a session by id never needs this to be a sensible project; refuse_broad only
    // matters for run.
    return resolve_project(flag, current_dir(), home_dir(env), /*refuse_broad=*/false);
}

Target split(const std::optional<std::string>& flag, const std::vector<std::string>& args) {
    Target t;
    std::size_t first = 0;
    if (flag) {
        t.session = *flag;
    } else if (!args.empty() && args[0].size() >= 4 && args[0][0] >= '0' && args[0][0] <= '9') {
        for (const auto& m : stage::list_sessions())
            if (m.id.starts_with(args[0])) {
                t.session = args[0];
                first = 1;
                break;
            }
    }
    t.paths.assign(args.begin() + static_cast<std::ptrdiff_t>(first), args.end());
    return t;
}

void add_target(CLI::App* cmd, std::optional<std::string>& session,
                std::optional<std::string>& project) {
    cmd->add_option("-s,--session", session, "Session id or unique prefix (default: the newest "
                                             "of the project)");
    cmd->add_option("-C,--project", project,
                    "Project whose newest session is meant (default: git top level of the "
                    "current directory, else the current directory)");
}

stage::Session open_session(const std::optional<std::string>& project_flag,
                            const std::string& id) {
    try {
        return stage::Session::open(id, id.empty() ? stage_args::project_of(project_flag) : "");
    } catch (const sys::SysError&) {
        throw;
    } catch (const std::runtime_error& e) {
        throw Failure(e.what(), exit_usage);
    }
}

}  // namespace stage_args

namespace {

std::string plural(std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

void drop_emptied_dirs_once(std::vector<stage::Change>& go, const std::vector<const Judged*>& held);

// A new directory whose entries are all held back would land in the project empty: it waits
// for them.
void drop_emptied_dirs(std::vector<stage::Change>& go, const std::vector<const Judged*>& held) {
    // Until nothing changes: dropping a directory can leave its parent empty too.
    for (std::size_t before = 0; before != go.size();) {
        before = go.size();
        drop_emptied_dirs_once(go, held);
    }
}

void drop_emptied_dirs_once(std::vector<stage::Change>& go, const std::vector<const Judged*>& held) {
    std::set<std::string> drop;
    for (const auto& c : go) {
        if (c.kind != stage::Kind::added || !S_ISDIR(c.new_mode)) continue;
        const bool some_held = std::any_of(held.begin(), held.end(), [&](const Judged* j) {
            return util::path_within(j->change.path, c.path);
        });
        const bool some_go = std::any_of(go.begin(), go.end(), [&](const stage::Change& o) {
            return o.path != c.path && util::path_within(o.path, c.path);
        });
        if (some_held && !some_go) drop.insert(c.path);
    }
    std::erase_if(go, [&](const stage::Change& c) { return drop.count(c.path) > 0; });
}

bool finished(const std::string& status) {
    return status == "committed" || status == "discarded" || status == "empty";
}

}  // namespace

// --- sessions -------------------------------------------------------------------------------

CLI::App* register_sessions(CLI::App& app, SessionsOptions& o) {
    auto* cmd = app.add_subcommand("sessions", "List sessions; prune old committed or discarded ones");
    cmd->add_flag("--json", o.json, "One JSON array");
    cmd->add_option("--prune", o.prune,
                    "Delete committed and discarded sessions older than AGE (default 30d), and "
                    "their backups")
        ->expected(0, 1)
        ->default_str("");
    return cmd;
}

int run_sessions(const SessionsOptions& o) {
    if (o.prune) {
        const std::string age = o.prune->empty() ? "30d" : *o.prune;
        const auto ms = profile::parse_duration_ms(age);
        if (!ms) throw UsageError("--prune: " + util::quote(age) + " is not a duration (30d, 12h)");
        const long long cutoff =
            static_cast<long long>(std::time(nullptr)) * 1000000000LL -
            static_cast<long long>(*ms) * 1000000LL;
        std::size_t removed = 0;
        for (const auto& m : stage::list_sessions()) {
            if (!finished(m.status) || m.start_ns > cutoff) continue;
            stage::Session s = stage::Session::open(m.id, "");
            // A journal means a commit never finished: not ours to throw away.
            if (::access((s.dir() + "/journal").c_str(), F_OK) == 0) continue;
            sys::remove_contents(s.dir());
            if (::rmdir(s.dir().c_str()) != 0) throw sys::SysError("rmdir", s.dir(), errno);
            ++removed;
        }
        note("pruned " + plural(removed, "session", "sessions"));
        return 0;
    }
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& m : stage::list_sessions()) {
        std::size_t n = 0;
        std::string status = m.status;
        if (m.status != "broken") {
            stage::Session s = stage::Session::open(m.id, "");
            // Its run ended without recording how (killed, or a full disk).
            if (m.status == "running" && !s.running()) status = "cut-short";
            // Touching a session finishes a commit that was interrupted.
            if (stage::recover(s)) note("finished an interrupted commit of session " + m.id);
            try {
                n = stage::changes(s.upper(), m.project).size();
            } catch (const std::exception& e) {
                status = "broken";
            }
        }
        if (o.json) {
            nlohmann::ordered_json j;
            j["id"] = m.id;
            util::put_text(j, "project", m.project);
            util::put_text_list(j, "argv", m.argv);
            j["status"] = status;
            j["created"] = m.created;
            j["changes"] = n;
            all.push_back(std::move(j));
        } else {
            // One session, one line: an argument holding a newline (sh -c 'a\nb') or an
            // escape sequence must neither break the table nor drive the terminal.
            const auto flat = [](const std::string& v) {
                const std::string q = util::quote(v);
                return q.substr(1, q.size() - 2);
            };
            std::string cmd = flat(util::join(m.argv, " "));
            if (cmd.size() > 40) cmd = cmd.substr(0, 37) + "...";
            char line[512];
            std::snprintf(line, sizeof line, "%s  %-9s %5zu  %-40s %s", m.id.c_str(), status.c_str(), n,
                          cmd.c_str(), flat(m.project).c_str());
            std::cout << line << "\n";
        }
    }
    if (o.json) std::cout << all.dump(2) << "\n";
    return 0;
}

// --- commit ---------------------------------------------------------------------------------

CLI::App* register_commit(CLI::App& app, CommitOptions& o) {
    auto* cmd = app.add_subcommand("commit", "Apply staged changes to the project");
    cmd->add_option("args", o.args, "[SESSION] [PATH...]: what to commit (default: everything)");
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_flag("--force", o.force,
                  "Overwrite conflicting host changes, and approve the protected paths and "
                  "outside symlinks named as PATH");
    cmd->add_flag("-n,--dry-run", o.dry_run, "Show what would be committed, change nothing");
    cmd->add_option("--approver", o.approver,
                    "Command that answers for protected paths and outside symlinks (default: "
                    "the profile's [approve] command)");
    return cmd;
}

int run_commit(const CommitOptions& o) {
    const auto target = stage_args::split(o.session, o.args);
    stage::Session s = stage_args::open_session(o.project, target.session);
    const std::string& project = s.meta().project;
    if (stage::recover(s)) note("finished an interrupted commit of session " + s.meta().id);
    if (s.running())
        throw Failure("session " + s.meta().id + " is still running", exit_refused);

    std::vector<std::string> paths;
    for (const auto& p : target.paths) paths.push_back(project_path(p, project));
    const auto all = stage::changes(s.upper(), project);
    const auto picked = select(all, paths);
    if (picked.empty()) {
        note(paths.empty() ? "nothing to commit in session " + s.meta().id
                           : "no staged change matches the given paths");
        return paths.empty() ? 0 : exit_refused;
    }
    const profile::Profile prof = session_profile(s);
    const auto judged = judge(prof, project, picked);
    // The approver answers for what needs approval; a dry run asks nobody.
    CommitApprovals approvals;
    if (const auto a = approver_of(prof, o.approver); a && !o.dry_run)
        approvals = ask_for_commits(*a, s.meta().id, judged);

    std::vector<stage::Change> go;
    std::vector<const Judged*> held;
    for (const auto& j : judged) {
        bool ok = j.verdict == policy::Verdict::allow ||
                  (j.verdict == policy::Verdict::ask && approvals.allowed.count(j.change.path));
        if (j.verdict == policy::Verdict::ask && o.force) {
            // Approval is explicit: --force together with the path (or a directory above it)
            // named on the command line; a bare --force approves nothing protected.
            for (const auto& p : paths)
                if (!p.empty() && util::path_within(j.change.path, p)) ok = true;
        }
        if (ok) go.push_back(j.change);
        else if (j.change.kind != stage::Kind::replaced) held.push_back(&j);
    }
    drop_emptied_dirs(go, held);
    const auto conflicts = stage::find_conflicts(s, go);
    if (!conflicts.empty() && !o.force) {
        for (const auto& c : conflicts)
            error("conflict: " + util::quote(c.path) + " " + c.why);
        error("nothing committed; agentbox commit --force overwrites (the originals are kept "
              "for undo)");
        return exit_refused;
    }
    std::cerr << describe(judged, 2);
    if (o.dry_run) {
        note("dry run: would commit " + plural(go.size(), "change", "changes") + ", hold " +
             std::to_string(held.size()));
        return held.empty() ? 0 : exit_refused;
    }
    stage::CommitResult r;
    {
        Progress progress("committing", go.size());
        std::size_t ops = 0;
        r = stage::commit(s, go, [&](const char* step) {
            if (std::string_view(step) == "op") progress.update(++ops);
        });
    }
    for (const auto& p : r.stripped) warn("stripped setuid/setgid bits from " + util::quote(p));
    const auto left = stage::changes(s.upper(), project);
    s.set_status(left.empty() ? "committed" : "staged");
    append_to_session_log(s, [&](audit::Log& log) {
        for (const auto& ev : commit_decisions(judged)) log.append(ev);
        for (const auto& ev : approvals.events) log.append(ev);
        for (const auto& j : judged)
            if (j.verdict == policy::Verdict::ask && !approvals.allowed.count(j.change.path) &&
                std::any_of(go.begin(), go.end(),
                            [&](const stage::Change& c) { return c.path == j.change.path; }))
                log.append(explicit_approval(j, s.meta().id, "command line (--force PATH)",
                                             "named with --force"));
        log_commit(log, r.number, r.applied, r.stripped, left.size(), o.force);
    });
    note("committed " + plural(r.applied.size(), "change", "changes") + " from session " +
         s.meta().id + (left.empty() ? "" : "; " + std::to_string(left.size()) + " left staged"));
    for (const auto* j : held)
        warn("held back " + util::quote(j->change.path) + ": " + j->why +
             (j->verdict == policy::Verdict::ask
                  ? " (approve with: agentbox commit --force " + util::quote(j->change.path) + ")"
                  : ""));
    return held.empty() ? 0 : exit_refused;
}

// --- discard, undo --------------------------------------------------------------------------

CLI::App* register_discard(CLI::App& app, TargetOptions& o) {
    auto* cmd = app.add_subcommand("discard", "Drop the staged changes of a session");
    cmd->add_option("session", o.args, "SESSION (default: the newest of the project)")
        ->expected(0, 1);
    stage_args::add_target(cmd, o.session, o.project);
    return cmd;
}

CLI::App* register_undo(CLI::App& app, TargetOptions& o) {
    auto* cmd = app.add_subcommand(
        "undo", "Restore what the last commit of a session replaced; its changes are staged again");
    cmd->add_option("session", o.args, "SESSION (default: the newest of the project)")
        ->expected(0, 1);
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_flag("--force", o.force, "Undo even where the project changed since the commit");
    return cmd;
}

int run_discard(const TargetOptions& o) {
    const std::string id = o.session ? *o.session : o.args.empty() ? "" : o.args[0];
    stage::Session s = stage_args::open_session(o.project, id);
    if (s.running())
        throw Failure("session " + s.meta().id + " is still running", exit_refused);
    const auto n = stage::changes(s.upper(), s.meta().project).size();
    stage::discard(s);
    append_to_session_log(s, [&](audit::Log& log) {
        log.append(audit::Event("discard").set("changes", n));
    });
    note("discarded " + plural(n, "change", "changes") + " of session " + s.meta().id);
    return 0;
}

int run_undo(const TargetOptions& o) {
    const std::string id = o.session ? *o.session : o.args.empty() ? "" : o.args[0];
    stage::Session s = stage_args::open_session(o.project, id);
    stage::UndoResult r;
    try {
        r = stage::undo(s, o.force);
    } catch (const sys::SysError&) {
        throw;
    } catch (const std::runtime_error& e) {
        throw Failure(e.what(), exit_refused);
    }
    if (!r.conflicts.empty() && !o.force) {
        for (const auto& c : r.conflicts) error("conflict: " + util::quote(c.path) + " " + c.why);
        error("nothing undone; agentbox undo --force restores anyway (what is there now is "
              "staged in the session, not lost)");
        return exit_refused;
    }
    s.set_status("staged");
    append_to_session_log(s, [&](audit::Log& log) {
        log.append(audit::Event("undo")
                       .set("number", r.number)
                       .set("paths", r.restored)
                       .set("forced", o.force));
    });
    note("undid commit " + std::to_string(r.number) + " of session " + s.meta().id + ": " +
         plural(r.restored.size(), "path", "paths") + " restored; the changes are staged again");
    return 0;
}

}  // namespace agentbox::cli
