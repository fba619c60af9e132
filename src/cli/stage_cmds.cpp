#include "cli/stage_cmds.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

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

namespace {

bool finished(const std::string& status) {
    return status == "committed" || status == "discarded" || status == "empty";
}

stage::Session pick_session(const std::string& project, stage_args::Pick pick) {
    std::vector<stage::Meta> staged;
    const stage::Meta* newest = nullptr;
    const auto all = stage::list_project_sessions(project);
    for (const auto& m : all) {
        // A run that staged nothing is never the one meant.
        if (m.status == "empty") continue;
        if (!finished(m.status) &&
            stage::has_staged(m.id))
            staged.push_back(m);
        newest = &m;  // oldest first: the last one is the newest
    }
    if (staged.size() > 1) {
        std::string list;
        for (const auto& m : staged)
            list += "\n  " + m.id + "  " + m.status + "  " + util::quote(util::join(m.argv, " "));
        throw Failure("more than one session of " + util::quote(project) +
                          " holds staged changes; name one (agentbox sessions lists them):" + list,
                      exit_usage);
    }
    const stage::Meta* picked = pick == stage_args::Pick::staged && staged.size() == 1
                                    ? &staged.front()
                                    : newest;
    if (picked == nullptr)
        throw Failure("no session for the project " + util::quote(project) +
                          " (name one: agentbox sessions lists them)",
                      exit_usage);
    // Its meta.json was read and verified by list_project_sessions() just now.
    return stage::Session::open_listed(*picked);
}

}  // namespace

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
        for (const auto& id : stage::session_ids())
            if (id.starts_with(args[0])) {
                t.session = args[0];
                first = 1;
                break;
            }
    }
    t.paths.assign(args.begin() + static_cast<std::ptrdiff_t>(first), args.end());
    return t;
}

stage::Session open_session(const std::optional<std::string>& project_flag, const std::string& id,
                            Pick pick) {
    try {
        if (id.empty()) return pick_session(stage_args::project_of(project_flag), pick);
        return stage::Session::open(id, "");
    } catch (const sys::SysError&) {
        throw;
    } catch (const Failure&) {
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

}  // namespace

// --- sessions -------------------------------------------------------------------------------

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
            stage::unindex_session(m);
            ++removed;
        }
        note("pruned " + plural(removed, "session", "sessions"));
        return 0;
    }
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& m : stage::list_sessions()) {
        std::size_t n = 0;
        std::string status = m.status;
        std::string reason = m.broken;
        if (m.status != "broken") {
            // One session that cannot be read, recovered or scanned is listed as broken, with
            // why; it never stops the listing of the others.
            try {
                stage::Session s = stage::Session::open(m.id, "");
                // Its run ended without recording how (killed, or a full disk).
                if (m.status == "running" && !s.running()) status = "cut-short";
                // Touching a session finishes a commit or undo that was interrupted -- only one
                // whose journal agentbox wrote (stage::Unauthenticated otherwise).
                if (stage::recover(s)) note("finished an interrupted commit or undo of session " + m.id);
                n = stage::changes(s, m.project, stage::Hashes::none).size();
            } catch (const std::exception& e) {
                status = "broken";
                reason = e.what();
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
            if (status == "broken") j["reason"] = reason;
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
            if (status == "broken") std::cout << "    broken: " << flat(reason) << "\n";
        }
    }
    if (o.json) std::cout << all.dump(2) << "\n";
    return 0;
}

// --- commit ---------------------------------------------------------------------------------

namespace {

// What a commit did, for --json: every exit path of `commit` fills one and prints it, so a
// script reads the same object whatever happened (agentbox(1), JSON OUTPUT).
struct CommitReport {
    std::string session;
    bool dry_run = false;
    std::string outcome;  // committed | partial | held | conflict | nothing | nothing-matched
    std::optional<int> number;
    std::vector<std::string> committed;  // applied, or for a dry run what would be
    std::vector<std::string> stripped;
    std::vector<Judged> held;
    std::vector<stage::Conflict> conflicts;
    std::size_t left_staged = 0;

    std::string json() const {
        nlohmann::ordered_json j;
        j["session"] = session;
        j["outcome"] = outcome;
        j["dry_run"] = dry_run;
        j["commit"] = number ? nlohmann::ordered_json(*number) : nlohmann::ordered_json(nullptr);
        util::put_text_list(j, "committed", committed);
        util::put_text_list(j, "stripped_setid", stripped);
        nlohmann::ordered_json h = nlohmann::ordered_json::array();
        for (const auto& x : held) {
            nlohmann::ordered_json e;
            util::put_text(e, "path", x.change.path);
            e["verdict"] = policy::to_string(x.verdict);
            util::put_text(e, "why", x.why);
            if (!x.held_by.empty()) util::put_text(e, "held_by", x.held_by);
            h.push_back(std::move(e));
        }
        j["held"] = std::move(h);
        nlohmann::ordered_json c = nlohmann::ordered_json::array();
        for (const auto& x : conflicts) {
            nlohmann::ordered_json e;
            util::put_text(e, "path", x.path);
            util::put_text(e, "why", x.why);
            c.push_back(std::move(e));
        }
        j["conflicts"] = std::move(c);
        j["left_staged"] = left_staged;
        return stage_args::json_line(j);
    }
};

std::vector<std::string> paths_of(const std::vector<stage::Change>& cs) {
    std::vector<std::string> out;
    for (const auto& c : cs) out.push_back(c.path);
    return out;
}

}  // namespace

int run_commit(const CommitOptions& o) {
    const auto target = stage_args::split(o.session, o.args);
    stage::Session s = stage_args::open_session(o.project, target.session);
    const std::string& project = s.meta().project;
    // Held from before the change set is read until the commit is recorded: a second commit
    // of this session, or one of another session of the project, waits and then sees what
    // this one did (its conflict check included).
    const stage::SessionLock lock(s);
    if (stage::recover(s)) note("finished an interrupted commit or undo of session " + s.meta().id);
    if (s.running())
        throw Failure("session " + s.meta().id + " is still running", exit_refused);

    CommitReport report;
    report.session = s.meta().id;
    report.dry_run = o.dry_run;
    const auto done = [&](std::string outcome, int code) {
        report.outcome = std::move(outcome);
        if (o.json) std::cout << report.json() << std::flush;
        return code;
    };

    std::vector<std::string> paths;
    for (const auto& p : target.paths) paths.push_back(project_path(p, project));
    const auto all = stage::changes(s, project);
    const auto picked = select(all, paths);
    report.left_staged = all.size();
    if (picked.empty()) {
        if (paths.empty()) {
            note("nothing to commit in session " + s.meta().id);
            return done("nothing", 0);
        }
        note("no staged change of session " + s.meta().id + " is at or below " +
             util::quote(util::join(target.paths, " ")) + "; nothing committed (" +
             plural(all.size(), "change", "changes") + " staged: agentbox diff --name-status " +
             s.meta().id + " lists them)");
        return done("nothing-matched", exit_nothing_matched);
    }
    const profile::Profile prof = session_profile(s);
    auto judged = judge(prof, s, picked);
    // The approver answers for what needs approval; a dry run asks nobody.
    CommitApprovals approvals;
    if (const auto a = approver_of(prof, o.approver); a && !o.dry_run)
        approvals = ask_for_commits(*a, s.meta().id, judged);
    // Approval is explicit: the approver's allow, or --force together with the path (or a
    // directory above it) named on the command line; a bare --force approves nothing protected.
    const auto named_with_force = [&](const Judged& j) {
        return o.force && std::any_of(paths.begin(), paths.end(), [&](const std::string& p) {
                   return !p.empty() && util::path_within(j.change.path, p);
               });
    };
    // Chosen in the View of what is taken, so `judged` may hold more that asks after it.
    const stage::Selection sel =
        stage::choose(prof, project, s.upper(), judged, [&](const Judged& j) {
            return approvals.allowed.count(j.change.path) > 0 || named_with_force(j);
        });
    const std::vector<stage::Change>& go = sel.go;
    report.held = sel.held;
    const auto conflicts = stage::find_conflicts(s, go);
    if (!conflicts.empty() && !o.force) {
        for (const auto& c : conflicts)
            error("conflict: " + util::quote(c.path) + " " + c.why);
        error("nothing committed; agentbox commit --force overwrites (the originals are kept "
              "for undo)");
        report.conflicts = conflicts;
        return done("conflict", exit_refused);
    }
    std::cerr << describe(as_chosen(judged, sel), 2);
    if (o.dry_run) {
        note("dry run: would commit " + plural(go.size(), "change", "changes") + ", hold " +
             std::to_string(sel.held.size()));
        report.committed = paths_of(go);
        report.conflicts = conflicts;  // --force would overwrite them
        return sel.held.empty() ? done("committed", 0) : done(go.empty() ? "held" : "partial", exit_refused);
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
    const auto left = stage::changes(s, project, stage::Hashes::none);
    s.set_status(left.empty() ? "committed" : "staged");
    append_to_session_log(s, [&](audit::Log& log) {
        for (const auto& ev : commit_decisions(judged, sel)) log.append(ev);
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
    warn_held(sel);
    report.number = r.number;
    report.committed = r.applied;
    report.stripped = r.stripped;
    report.conflicts = conflicts;  // overwritten with --force; the originals are kept for undo
    report.left_staged = left.size();
    if (sel.held.empty()) return done("committed", 0);
    return done(r.applied.empty() ? "held" : "partial", exit_refused);
}

// --- discard, undo --------------------------------------------------------------------------

int run_discard(const TargetOptions& o) {
    const std::string id = o.session ? *o.session : o.args.empty() ? "" : o.args[0];
    stage::Session s = stage_args::open_session(o.project, id);
    if (s.running())
        throw Failure("session " + s.meta().id + " is still running", exit_refused);
    const stage::SessionLock lock(s);
    const auto cs = stage::changes(s, s.meta().project, stage::Hashes::none);
    const auto n = cs.size();
    stage::discard(s);
    append_to_session_log(s, [&](audit::Log& log) {
        log.append(audit::Event("discard").set("changes", n));
    });
    note("discarded " + plural(n, "change", "changes") + " of session " + s.meta().id);
    if (o.json) {
        nlohmann::ordered_json j;
        j["session"] = s.meta().id;
        j["outcome"] = "discarded";
        j["count"] = n;
        util::put_text_list(j, "discarded", paths_of(cs));
        std::cout << stage_args::json_line(j) << std::flush;
    }
    return 0;
}

int run_undo(const TargetOptions& o) {
    const std::string id = o.session ? *o.session : o.args.empty() ? "" : o.args[0];
    stage::Session s = stage_args::open_session(o.project, id, stage_args::Pick::commit);
    stage::UndoResult r;
    const auto report = [&](const char* outcome) {
        if (!o.json) return;
        nlohmann::ordered_json j;
        j["session"] = s.meta().id;
        j["outcome"] = outcome;
        j["commit"] = r.number;
        j["forced"] = o.force;
        util::put_text_list(j, "restored", r.restored);
        nlohmann::ordered_json c = nlohmann::ordered_json::array();
        for (const auto& x : r.conflicts) {
            nlohmann::ordered_json e;
            util::put_text(e, "path", x.path);
            util::put_text(e, "why", x.why);
            c.push_back(std::move(e));
        }
        j["conflicts"] = std::move(c);
        std::cout << stage_args::json_line(j) << std::flush;
    };
    try {
        const stage::SessionLock lock(s);
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
        r.restored.clear();
        report("conflict");
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
    report("undone");
    return 0;
}

}  // namespace agentbox::cli
