#include "cli/review.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>
#include <unordered_map>

#include "audit/log.hpp"
#include "cli/approvals.hpp"
#include "cli/context.hpp"
#include "cli/diff_cmd.hpp"
#include "cli/run_log.hpp"
#include "cli/errors.hpp"
#include "cli/otlp_export.hpp"
#include "cli/own_dirs.hpp"
#include "cli/term.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"
#include "stage/commit.hpp"
#include "stage/patch.hpp"
#include "sys/fd.hpp"
#include "util/escape.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

profile::Profile session_profile(const stage::Session& s) {
    auto env = environment();
    const std::string home = home_dir(env);
    profile::Context ctx = make_context(s.meta().project, s.meta().project, home, env);
    const std::vector<std::string> names =
        s.meta().profiles.empty() ? std::vector<std::string>{"default"} : s.meta().profiles;
    profile::Profile prof = profile::load_all(names, ctx);
    // As the run had it: nothing lands in agentbox's own directories, wherever XDG puts them
    // (the built-in profile names their default places only).
    profile::merge_into(prof, own_dirs_layer(/*create=*/false));
    return prof;
}

std::vector<Judged> judge(const profile::Profile& prof, const stage::Session& s,
                          const std::vector<stage::Change>& changes) {
    return stage::judge(prof, s.meta().project, s.upper(), changes);
}

std::vector<stage::Change> select(const std::vector<stage::Change>& all,
                                  const std::vector<std::string>& paths) {
    return stage::pick(all, paths);
}

std::string project_path(const std::string& typed, const std::string& project) {
    const std::string abs = typed.starts_with('/') ? util::normalize_path(typed)
                                                   : util::normalize_path(current_dir() + "/" + typed);
    if (!util::path_within(abs, project))
        throw UsageError(util::quote(typed) + " is outside the project " + util::quote(project));
    return util::relative_to(abs, project) == "." ? "" : util::relative_to(abs, project);
}

namespace {

std::string shown_path(const stage::Change& c) {
    std::string p = c.path;
    if (S_ISDIR(c.new_mode != 0 ? c.new_mode : c.old_mode)) p += "/";
    // A file name must not be able to move the cursor or recolour the terminal.
    return util::escape_for_terminal(p);
}

// A mode change as it lands, and what the command asked for where that differs: a
// directory keeps the project's mode, a file git's (landing_mode).
std::string mode_change(const stage::Change& c, mode_t lands) {
    const unsigned old = c.old_mode & 07777, staged = c.new_mode & 07777;
    char b[96];
    if (staged == lands)
        std::snprintf(b, sizeof b, "(mode %o -> %o)", old, staged);
    else if (lands == old)
        std::snprintf(b, sizeof b, "(staged mode %o; commit keeps %o)", staged, old);
    else
        std::snprintf(b, sizeof b, "(mode %o -> %o; staged %o)", old, static_cast<unsigned>(lands),
                      staged);
    return b;
}

}  // namespace

std::string describe(const std::vector<Judged>& judged, int fd, std::size_t limit) {
    std::string out;
    std::size_t shown = 0, hidden = 0;
    const mode_t umask = stage::process_umask();
    for (const auto& j : judged) {
        const auto& c = j.change;
        // Every change that needs a decision is listed; the plain ones up to `limit`.
        if (j.verdict == policy::Verdict::allow && limit != 0 && shown >= limit) {
            ++hidden;
            continue;
        }
        if (j.verdict == policy::Verdict::allow) ++shown;
        std::string line = std::string(1, stage::kind_letter(c.kind)) + "  " + shown_path(c);
        if (S_ISLNK(c.new_mode)) line += " -> " + util::escape_for_terminal(c.link_target);
        // The mode commit writes (stage::landing_mode), and a flag on what the sandbox asked for.
        const mode_t lands =
            c.new_mode != 0 ? stage::landing_mode(c.new_mode, c.old_mode, umask) : 0;
        if (c.kind == stage::Kind::mode) line += " " + mode_change(c, lands);
        if (c.setid) line += " [setuid/setgid stripped]";
        if (c.new_mode != 0 && stage::loose_mode(c.new_mode))
            line += " " + paint(fd, Style::yellow, [&] {
                char b[96];
                std::snprintf(b, sizeof b, "[staged group/world-writable %o; commit writes %o]",
                              c.new_mode & 07777, lands);
                return std::string(b);
            }());
        if (j.verdict == policy::Verdict::ask)
            line += "  " + paint(fd, Style::yellow, "[needs approval: " + j.why + "]");
        else if (j.verdict == policy::Verdict::deny)
            line += "  " + paint(fd, Style::red, "[refused: " + j.why + "]");
        out += "  " + line + "\n";
    }
    if (hidden > 0)
        out += "  ... and " + std::to_string(hidden) +
               " more (agentbox diff --name-status lists every change)\n";
    return out;
}

std::vector<Judged> as_chosen(std::vector<Judged> judged, const stage::Selection& sel) {
    std::unordered_map<std::string, const Judged*> held;
    for (const auto& h : sel.held) held.emplace(h.change.path, &h);
    for (auto& j : judged)
        if (const auto it = held.find(j.change.path); it != held.end()) j = *it->second;
    return judged;
}

void warn_held(const stage::Selection& sel) {
    for (const auto& j : sel.held) {
        const std::string& approve = j.held_by.empty() ? j.change.path : j.held_by;
        warn("held back " + util::quote(j.change.path) + ": " + j.why +
             (j.verdict == policy::Verdict::ask
                  ? " (approve with: agentbox commit --force " + util::quote(approve) + ")"
                  : ""));
    }
}

namespace {

struct Tally {
    std::size_t allowed = 0, ask = 0, denied = 0;
};

Tally tally(const std::vector<Judged>& judged) {
    Tally t;
    for (const auto& j : judged) {
        if (j.change.kind == stage::Kind::replaced) continue;
        if (j.verdict == policy::Verdict::allow) ++t.allowed;
        else if (j.verdict == policy::Verdict::ask) ++t.ask;
        else ++t.denied;
    }
    return t;
}

// Commit what the rules allow without asking, and what `approved` names; the rest stays staged.
// The log gets each change's decision as `choose` made it, then `approvals` (the answers that
// led to it), then the commit; when nothing is committed, the answers alone.
RunReview commit_allowed(stage::Session& s, const profile::Profile& prof,
                         std::vector<Judged> judged, const std::set<std::string>& approved,
                         audit::Log* log, std::vector<audit::Event>& approvals,
                         std::size_t staged) {
    RunReview r;
    r.changes = staged;
    // The conflict check and the commit under one lock; a change set gone stale meanwhile (a
    // commit from another terminal) is refused by stage::commit.
    const stage::SessionLock lock(s);
    const stage::Selection sel =
        stage::choose(prof, s.meta().project, s.upper(), judged,
                      [&](const Judged& j) { return approved.count(j.change.path) > 0; });
    const auto log_approvals = [&] {
        if (log != nullptr)
            for (const auto& ev : approvals) log->append(ev);
        approvals.clear();
    };
    const auto conflicts = stage::find_conflicts(s, sel.go);
    if (!conflicts.empty()) {
        log_approvals();
        for (const auto& c : conflicts) warn("conflict: " + util::quote(c.path) + " " + c.why);
        r.outcome = "conflict";
        r.left_staged = staged;
        r.line = "nothing committed: " + std::to_string(conflicts.size()) +
                 " conflict(s); the session is kept (agentbox commit --force to overwrite)";
        return r;
    }
    stage::CommitResult done;
    try {
        done = stage::commit(s, sel.go);
    } catch (...) {
        log_approvals();
        throw;
    }
    if (log != nullptr)
        for (const auto& ev : commit_decisions(judged, sel)) log->append(ev);
    log_approvals();
    warn_held(sel);
    const auto left = stage::changes(s, s.meta().project, stage::Hashes::none);
    s.set_status(left.empty() ? "committed" : "staged");
    if (log != nullptr) log_commit(*log, done.number, done.applied, done.stripped, left.size(), false);
    r.committed = done.applied.size();
    r.left_staged = left.size();
    r.outcome = left.empty() ? "committed" : done.applied.empty() ? "held" : "partial";
    r.line = "committed " + std::to_string(done.applied.size()) + " change(s)" +
             (left.empty() ? "" : ", " + std::to_string(left.size()) + " left staged");
    return r;
}

// Ctrl-C while agentbox itself asks: the question ends, the changes stay staged, and agentbox
// says so before it exits (as 130) -- instead of dying of the signal mid-sentence. Installed
// without SA_RESTART so that the read waiting for the answer returns.
volatile sig_atomic_t g_interrupted = 0;

class CatchInterrupt {
public:
    CatchInterrupt() {
        g_interrupted = 0;
        struct sigaction sa {};
        sa.sa_handler = [](int) { g_interrupted = 1; };
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(SIGINT, &sa, &old_);
    }
    ~CatchInterrupt() { ::sigaction(SIGINT, &old_, nullptr); }
    CatchInterrupt(const CatchInterrupt&) = delete;
    CatchInterrupt& operator=(const CatchInterrupt&) = delete;
    static bool fired() { return g_interrupted != 0; }
    static void clear() { g_interrupted = 0; }

private:
    struct sigaction old_ {};
};

// A line from the controlling terminal; nullopt at end of input. The terminal is put in
// line mode with echo for the question (whatever mode the command or the relay left it in)
// and restored after.
std::optional<std::string> ask_line(int tty, const std::string& prompt) {
    struct termios saved {};
    const bool have_attrs = ::tcgetattr(tty, &saved) == 0;
    if (have_attrs) {
        struct termios line = saved;
        line.c_lflag |= ICANON | ECHO | ECHONL | ISIG;
        line.c_iflag |= ICRNL;
        line.c_cc[VMIN] = 1;
        line.c_cc[VTIME] = 0;
        ::tcsetattr(tty, TCSANOW, &line);
    }
    std::optional<std::string> result;
    // SIGINT stays blocked but while pselect waits: a Ctrl-C that lands after the check of
    // fired() and before the wait would otherwise be handled and leave read() blocked for
    // good (the review hung at its prompt on a loaded machine, 1 run in 4).
    sigset_t block, waiting;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &block, &waiting);
    if (::write(tty, prompt.data(), prompt.size()) >= 0) {
        std::string got;
        char ch;
        for (;;) {
            if (CatchInterrupt::fired()) break;
            fd_set readable;
            FD_ZERO(&readable);
            FD_SET(tty, &readable);
            // The tick: a SIGINT taken by another thread of the process sets fired() without
            // interrupting this wait; it is seen within the tick.
            struct timespec tick {0, 200'000'000};
            const int ready = ::pselect(tty + 1, &readable, nullptr, nullptr, &tick, &waiting);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0) break;
            if (ready == 0) continue;
            const ssize_t n = ::read(tty, &ch, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (!got.empty()) result = got;
                break;
            }
            if (ch == '\n' || ch == '\r') {
                result = got;
                break;
            }
            got.push_back(ch);
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &waiting, nullptr);
    if (have_attrs) ::tcsetattr(tty, TCSANOW, &saved);
    return result;
}

// The pager with the terminal as its stdout (the command's stdout may be redirected).
void show_on_terminal(int tty, const std::vector<stage::Change>& cs, const stage::Session& s) {
    const int saved = ::dup(1);
    if (saved < 0 || ::dup2(tty, 1) < 0) {
        if (saved >= 0) ::close(saved);
        return;
    }
    show_patch(cs, s.upper(), s.meta().project, {}, false, colour_enabled(tty));
    ::dup2(saved, 1);
    ::close(saved);
}

}  // namespace

RunReview finish_run(stage::Session& s, const profile::Profile& prof, profile::OnExit on_exit,
                     audit::Log* log) {
    const auto cs = stage::changes(s, s.meta().project);
    const std::string where = " in session " + s.meta().id;
    RunReview kept;
    kept.changes = kept.left_staged = cs.size();
    kept.line = std::to_string(cs.size()) + " change(s) staged" + where;
    if (cs.empty()) {
        // Nothing to review, prunable like a finished commit; losing this status in a crash
        // loses nothing, so it is not flushed (two disk flushes on every run that wrote nothing).
        s.set_status("empty", /*durable=*/false);
        RunReview r;
        r.outcome = "empty";
        r.line = "no changes" + where;
        return r;
    }
    const auto judged = judge(prof, s, cs);
    if (log != nullptr) log_changes(*log, judged);
    // The answers, logged after the decisions they answer once a commit has made them (the
    // decisions of a commit are `choose`'s, after every approval: commit_allowed), or as they
    // are when nothing is committed.
    std::vector<audit::Event> approvals;
    const auto flushed = [&](RunReview r) {
        if (log != nullptr)
            for (const auto& ev : approvals) log->append(ev);
        approvals.clear();
        return r;
    };
    // Protected paths and outside links go to the approver, when there is one (DESIGN.md §8),
    // before anything is committed; its allows count as explicit approvals.
    auto approver_allowed = [&] {
        const auto a = approver_of(prof);
        if (!a) return std::set<std::string>();
        CommitApprovals r = ask_for_commits(*a, s.meta().id, judged);
        approvals.insert(approvals.end(), r.events.begin(), r.events.end());
        return r.allowed;
    };
    auto discarded = [&] {
        stage::discard(s);
        if (log != nullptr) log->append(audit::Event("discard").set("changes", cs.size()));
        RunReview r;
        r.outcome = "discarded";
        r.changes = cs.size();
        r.line = "discarded " + std::to_string(cs.size()) + " change(s)" + where;
        return r;
    };
    auto committed = [&](const std::vector<Judged>& which, const std::set<std::string>& approved) {
        RunReview r = commit_allowed(s, prof, which, approved, log, approvals, cs.size());
        r.line += where;
        return r;
    };
    switch (on_exit) {
        case profile::OnExit::keep:
            return kept;
        case profile::OnExit::discard:
            return flushed(discarded());
        case profile::OnExit::commit:
            // on_exit = "commit" never covers protected paths or outside links.
            return committed(judged, approver_allowed());
        case profile::OnExit::ask:
            break;
    }
    sys::unique_fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
    if (!tty) {
        kept.line += " (no terminal to ask on)";
        return kept;
    }
    const CatchInterrupt interrupt;
    const auto interrupted = [&] {
        kept.interrupted = true;
        kept.line = "interrupted at the review prompt: " + kept.line + ", nothing committed";
        return flushed(kept);
    };
    const std::set<std::string> by_approver = approver_allowed();
    if (!by_approver.empty())
        std::cerr << "agentbox: the approver allowed " << by_approver.size()
                  << " path(s) that need approval\n";
    // Shown as `c` would take it: what lies below a held-back directory is held with it.
    const auto shown = as_chosen(judged, stage::choose(judged, [&](const Judged& j) {
                                     return by_approver.count(j.change.path) > 0;
                                 }));
    const Tally t = tally(shown);
    std::cerr << "agentbox: the command changed " << cs.size() << " path(s):\n"
              << describe(shown, 2);
    if (t.ask + t.denied > 0)
        std::cerr << "  " << t.ask << " need approval, " << t.denied << " can never be committed\n";
    std::cerr << std::flush;
    for (;;) {
        const auto answer = ask_line(tty.get(),
                                     "[c]ommit allowed, [d]iscard, [k]eep staged, [r]eview the "
                                     "diff, [s]elect paths, [a]pprove-and-commit all? ");
        if (CatchInterrupt::fired()) return interrupted();
        if (!answer) return flushed(kept);
        const std::string a = std::string(util::trim(*answer));
        if (a == "k" || a == "keep" || a.empty()) return flushed(kept);
        if (a == "r" || a == "review") {
            // The command's stdout may be a pipe; the review is for the person at the
            // terminal, so the pager's output goes there. Ctrl-C in the pager is the pager's.
            show_on_terminal(tty.get(), cs, s);
            CatchInterrupt::clear();
            continue;
        }
        if (a == "d" || a == "discard") return flushed(discarded());
        if (a == "c" || a == "commit") return committed(judged, by_approver);
        if (a == "a" || a == "approve") {
            std::set<std::string> all;
            for (const auto& j : judged) all.insert(j.change.path);
            for (const auto& j : judged)
                if (j.verdict == policy::Verdict::ask && !by_approver.count(j.change.path))
                    approvals.push_back(explicit_approval(j, s.meta().id, "prompt",
                                                          "approve all, at the review prompt"));
            return committed(judged, all);
        }
        if (a == "s" || a == "select") {
            const auto paths = ask_line(tty.get(), "paths to commit (space-separated): ");
            if (CatchInterrupt::fired()) return interrupted();
            if (!paths) continue;
            std::vector<std::string> want;
            for (const auto& p : util::split(*paths, ' '))
                if (!p.empty()) want.push_back(util::normalize_path(p) == "." ? "" : util::normalize_path(p));
            const auto picked = select(cs, want);
            std::vector<Judged> sub;
            std::set<std::string> approved;
            for (const auto& j : judged)
                for (const auto& c : picked)
                    if (c.path == j.change.path) {
                        sub.push_back(j);
                        // Naming a protected path at the prompt is the explicit approval.
                        approved.insert(c.path);
                        if (j.verdict == policy::Verdict::ask && !by_approver.count(c.path))
                            approvals.push_back(explicit_approval(j, s.meta().id, "prompt",
                                                                  "named at the review prompt"));
                    }
            return committed(sub, approved);
        }
    }
}

void log_changes(audit::Log& log, const std::vector<Judged>& judged) {
    for (const auto& j : judged) {
        const auto& c = j.change;
        audit::Event ev("change");
        ev.set("path", c.path);
        ev.set("kind", stage::kind_name(c.kind));
        ev.set("old_mode", static_cast<unsigned>(c.old_mode));
        ev.set("new_mode", static_cast<unsigned>(c.new_mode));
        ev.set("size", c.size);
        if (!c.hash.empty()) ev.set("xxh3", c.hash);  // "hash" is the chain's own member
        if (S_ISLNK(c.new_mode)) ev.set("link_target", c.link_target);
        if (c.link_outside) ev.set("link_outside", true);
        if (c.setid) ev.set("setid", true);
        ev.set("verdict", policy::to_string(j.verdict));
        if (!j.why.empty()) ev.set("rule", j.why);
        log.append(ev);
    }
}

void log_commit(audit::Log& log, int number, const std::vector<std::string>& applied,
                const std::vector<std::string>& stripped, std::size_t held, bool forced) {
    audit::Event ev("commit");
    ev.set("number", number);
    ev.set("paths", applied);
    ev.set("stripped_setid", stripped);
    ev.set("left_staged", held);
    ev.set("forced", forced);
    log.append(ev);
}

void append_to_session_log(stage::Session& s,
                           const std::function<void(audit::Log&)>& write) {
    auto key = audit::SigningKey::load_or_create(stage::config_dir() + "/log-key");
    std::unique_ptr<audit::Log> log;
    try {
        log = audit::Log::open_append(s.log_path(), std::move(key));
    } catch (const std::exception& e) {
        // A session from before the log existed, or a log that was damaged: the staging
        // command still does its job, and says so.
        warn(std::string("not logging to ") + s.log_path() + ": " + e.what());
        return;
    }
    // Every line from here on is signed (the log was, at its end); the session keeps the head.
    log->on_signed([&s](std::uint64_t seq, const std::string& h) { s.record_log_head(seq, h); });
    log->on_error([](const std::string& m) { warn(m); });
    otlp_mark(s.dir());  // before and after the lines: see otlp_export.cpp, pending_dir
    write(*log);
    log->append(session_end_event(s.meta().status));
    otlp_mark(s.dir());
}

}  // namespace agentbox::cli
