#include "cli/run.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include "cli/approvals.hpp"
#include "cli/context.hpp"
#include "cli/errors.hpp"
#include "cli/learn.hpp"
#include "audit/log.hpp"
#include "cli/run_backend.hpp"
#include "cli/run_layer.hpp"
#include "cli/run_log.hpp"
#include "cli/run_state.hpp"
#include "cli/run_secrets.hpp"
#include "cli/otlp_export.hpp"
#include "cli/run_summary.hpp"
#include "cli/term.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/choose.hpp"
#include "sandbox/host.hpp"
#include "sandbox/macos/seatbelt.hpp"
#include "sandbox/windows/appcontainer.hpp"
#include "cli/own_dirs.hpp"
#include "stage/run_record.hpp"
#include "stage/run_staging.hpp"
#include "stage/session.hpp"
#include "cli/review.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "util/phases.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

std::string where(const profile::Source& s) {
    return s.line > 0 ? s.file + ":" + std::to_string(s.line) : s.file;
}

// Prints each weakening; returns false when the run must not go ahead.
bool report_weakenings(const policy::Plan& plan, bool allow_weaker) {
    for (const auto& w : plan.weakenings) {
        if (allow_weaker)
            warn("not enforcing " + w.rule + " (" + where(w.src) + "): " + w.missing);
        else
            error("cannot enforce " + w.rule + " (" + where(w.src) + "): " + w.missing +
                  "; pass --allow-weaker to run anyway");
    }
    return plan.weakenings.empty() || allow_weaker;
}

profile::OnExit resolve_on_exit(const profile::Profile& p) {
    if (p.commit.on_exit.set) return *p.commit.on_exit;  // the flag layer was merged last
    // Asking needs someone to answer: a terminal on both ends. Otherwise keep the session
    // staged for a later `diff`/`commit`, which never loses work.
    return ::isatty(0) == 1 && ::isatty(2) == 1 ? profile::OnExit::ask : profile::OnExit::keep;
}

void check_output_fd(const char* flag, int fd) {
    if (::fcntl(fd, F_GETFD) < 0)
        throw UsageError(std::string(flag) + ": " + std::to_string(fd) +
                         " is not an open file descriptor");
    if (fd <= 2) return;
    // The output is agentbox's; the sandboxed command must not inherit this descriptor.
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        throw UsageError(std::string(flag) + ": cannot set close-on-exec on " +
                         std::to_string(fd));
}

// The backend's own weakenings with the Plan's, each rule once: where both the host's facts
// (compile) and the backend refuse a rule, it is the same rule, named once with the backend's
// reason. A backend that uses none of the host mechanisms compile asks about (Seatbelt: no
// Landlock, seccomp or cgroups) has the whole list in its check(): on a Mac, whose facts lack
// them all, compile's list would refuse every run for Linux's reasons.
void add_weakenings(policy::Plan& plan, const sandbox::Backend& backend) {
    std::vector<policy::Weakening> more = backend.check(plan);
    if (backend.checks_everything()) {
        plan.weakenings = std::move(more);
        return;
    }
    for (auto& w : more) {
        const auto known = std::find_if(plan.weakenings.begin(), plan.weakenings.end(),
                                        [&](const policy::Weakening& x) { return x.rule == w.rule; });
        if (known != plan.weakenings.end()) *known = std::move(w);
        else plan.weakenings.push_back(std::move(w));
    }
}

// `--dry-run --target macos|windows`: this machine's Plan as the other system's backend would
// enforce it. The Plan's weakenings are this Linux host's (Landlock, overlayfs, cgroups) and
// do not apply there; the target's own replace them.
int print_target(policy::Plan plan, const RunOptions& o) {
    if (o.json) throw UsageError("run: --json does not apply to --target");
    std::string text;
    try {
        if (o.target == "macos") {
            plan.backend = "seatbelt";
            backend_staging(plan, {});
            // The check a Mac's run makes before its launch, from the same backend: the
            // Plan's weakenings are this host's (Landlock, overlayfs, cgroups) and give way.
            add_weakenings(plan, *sandbox::make_backend(plan.backend));
            text = sandbox::macos::seatbelt_profile(plan);
        } else {
            const auto ac = sandbox::windows::appcontainer_plan(plan);
            plan.weakenings = ac.weakenings;
            text = sandbox::windows::render_text(ac);
        }
    } catch (const std::invalid_argument& e) {
        throw Failure(std::string("run: ") + e.what(), exit_setup);
    }
    std::cout << text << std::flush;
    return report_weakenings(plan, o.allow_weaker) ? 0 : exit_setup;
}

void check_options(const RunOptions& o) {
    if (o.approver && util::trim(*o.approver).empty())
        throw UsageError("--approver: empty command");
    if (o.command.empty()) throw UsageError("run: no command given (agentbox run [OPTIONS] [--] CMD [ARGS...])");
    if (o.summary_fd) check_output_fd("--summary-fd", *o.summary_fd);
    if (o.log_fd) check_output_fd("--log-fd", *o.log_fd);
    // Before anything is read or made: a backend this system cannot run (seatbelt off macOS,
    // native or bwrap off Linux) is refused; a dry run still shows and checks its plan.
    if (!o.dry_run && o.backend != "auto")
        if (const std::string why = sandbox::cannot_run_here(o.backend); !why.empty())
            throw Failure("run: " + why, exit_setup);
}

// The backend's events: to the learner or to the decision log, counted for the summary
// (`denied`), warnings printed, and the rest too with -v. The supervisor calls it from its one
// thread.
sandbox::EventSink event_sink(const RunOptions& o, stage::RunRecord& record, Denials& denied) {
    return [verbose = o.verbose, &record, &denied, learner = o.learner](const sandbox::Event& ev) {
        if (learner && learner->take(ev)) return;
        record.event(backend_event(ev));
        denied.add(ev);
        if (ev.type == "warning") {
            std::string msg;
            for (const auto& [k, v] : ev.fields) msg += (msg.empty() ? "" : ", ") + k + "=" + v;
            warn(msg);
        } else if (verbose > 0) {
            std::string msg = ev.type;
            // Values can come from inside the sandbox (a process name): escaped for the
            // terminal.
            for (const auto& [k, v] : ev.fields) msg += " " + k + "=" + util::quote(v);
            note(msg);
        }
    };
}

// What the user is told at once of a launch: a setup failure is an error, printed even with
// -q; for a command not found, where it may be hidden.
void tell_launch(const sandbox::Outcome& out, const policy::Plan& plan,
                 const policy::Invocation& inv) {
    if (!out.error.empty()) error(out.error);
    if (!out.started && out.exit_code == util::kExitNotFound) {
        const auto path = inv.environ.find("PATH");
        const std::string hint = hidden_command_hint(
            plan, plan.argv.empty() ? std::string() : plan.argv.front(),
            path == inv.environ.end() ? std::string() : path->second, inv.cwd, inv.home);
        if (!hint.empty()) note(hint);
    }
}

// The summary of a run that is over, after its review: the session's staged changes offered,
// kept or settled as the profile's on_exit says.
Summary summarise(const policy::Plan& plan, const profile::Profile& prof,
                  const sandbox::Outcome& out, stage::Session& session,
                  const stage::RunRecord& record) {
    const bool staged = plan.staging != policy::Staging::none;
    Summary summary = make_summary(plan, out, staged ? &session : nullptr);
    record.log()->append(process_exit_event(out, summary.exit_code));
    // The review: whatever the command did, its writes are still only in the session.
    if (staged && out.started) {
        try {
            summary.review = finish_run(session, prof, plan.on_exit, record.log());
        } catch (const std::exception& e) {
            summary.review.outcome = "kept";
            error(std::string("review: ") + e.what() + "; the changes stay staged in session " +
                  session.meta().id);
        }
    }
    return summary;
}

// The summary written to --summary-fd and printed. Returns agentbox's exit status.
int report(const RunOptions& o, const Summary& summary) {
    if (o.summary_fd) {
        // The command has run: the exit status is its own. A summary that cannot be written
        // (a closed pipe, a full disk) is reported, not turned into agentbox's failure.
        try {
            write_summary_json(*o.summary_fd, summary);
        } catch (const std::exception& e) {
            warn(std::string("could not write the summary: ") + e.what());
        }
    }
    if (!o.quiet || summary.review.interrupted) print_summary(summary);
    util::phases::mark("end");
    util::phases::report();
    // Ctrl-C at the review prompt ends agentbox as Ctrl-C ends any program (128+SIGINT), after
    // the summary has said that the changes are kept and how to act on them.
    if (summary.review.interrupted) return 128 + SIGINT;
    return summary.exit_code;
}

// What the run is asked to do, from the options and the environment.
policy::Invocation invocation(const RunOptions& o, const profile::Profile& prof,
                              const std::string& project, const std::string& cwd,
                              const std::string& home, std::map<std::string, std::string> env) {
    policy::Invocation inv;
    inv.argv = o.command;
    inv.project = project;
    inv.cwd = cwd;
    inv.allow_weaker = o.allow_weaker;
    if (o.tty) inv.tty = true;
    if (o.no_tty) inv.tty = false;
    inv.on_exit = resolve_on_exit(prof);
    inv.environ = std::move(env);
    inv.home = home;
    inv.own_dirs = own_dir_paths();
    return inv;
}

// Where the sandbox stages: the session's upper/ and work/ when the plan stages (upper/ stays
// empty otherwise), its directory for scratch.
sandbox::StageDirs stage_dirs(const policy::Plan& plan, const stage::Session& session) {
    sandbox::StageDirs dirs;
    if (plan.staging != policy::Staging::none) {
        dirs.upper = session.upper();
        dirs.work = session.work();
    }
    dirs.scratch = session.dir();
    return dirs;
}

// How the backend talks to agentbox during the run: `start_log` once the sandbox is built, the
// secrets' interception, the terminal, the approver.
template <class StartLog>
sandbox::Io sandbox_io(const RunOptions& o, const profile::Profile& prof,
                       const stage::Session& session, const RunSecrets& secrets,
                       StartLog& start_log) {
    sandbox::Io io;
    io.ready = [&start_log](const sandbox::Prepared& p) { start_log(&p); };
    io.intercept = secrets.intercept;
    io.tty = o.tty || (!o.no_tty && ::isatty(0) == 1);
    // --approver was merged into the profile by flags_layer; an empty command is refused above
    // for the flag and by the profile loader for [approve] command.
    if (const auto a = approver_of(prof)) io.approver = backend_approver(*a, session.meta().id);
    if (o.learner)
        io.approver = [l = o.learner](const sandbox::AskRequest& r, int) { return l->ask(r); };
    return io;
}

}  // namespace

int run_run(const RunOptions& o) {
    check_options(o);

    auto env = environment();
    const std::string home = home_dir(env);
    const std::string cwd = current_dir();
    const std::string project = resolve_project(o.project, cwd, home, /*refuse_broad=*/true);
    profile::Context ctx = make_context(project, cwd, home, env);
    const std::string otlp = otlp_endpoint(o.otlp, ctx);

    const std::vector<std::string> names =
        o.profiles.empty() ? std::vector<std::string>{"default"} : o.profiles;
    profile::Profile prof = profile::load_all(names, ctx);
    profile::merge_into(prof, flags_layer(o, cwd, home));
    if (o.learner) profile::merge_into(prof, o.learner->layer(prof, home));
    profile::merge_into(prof, own_dirs_layer(/*create=*/true));
    util::phases::mark("profile");

    policy::Invocation inv = invocation(o, prof, project, cwd, home, std::move(env));
    // Secrets are read (and the CA made) before the Plan, which holds their stand-ins and the
    // CA bundle; a dry run reads nothing and shows placeholders.
    RunSecrets secrets = o.dry_run ? RunSecrets{} : prepare_secrets(prof, inv);

    // The namespace probe is remembered per boot in our cache (created above, never visible
    // inside a sandbox); doctor always probes afresh.
    const policy::HostFacts facts = sandbox::probe_host(stage::cache_dir());
    inv.backend = sandbox::choose_backend(o.backend, facts);
    util::phases::mark("probe");
    policy::Plan plan;
    try {
        plan = policy::compile(prof, inv, facts);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("run: ") + e.what());
    }
    util::phases::mark("compile");
    plan.allow_weaker = o.allow_weaker;
    backend_staging(plan, facts);
    if (o.learner) {
        // Learning is observation: without a listener for the filter there is nothing to
        // observe with, and a learned profile would be empty. Fail closed.
        if (!plan.seccomp.log_denials)
            throw Failure("learn: this host has no seccomp user notification (Linux 5.5 or "
                          "later, seccomp enabled): agentbox cannot observe the command",
                          exit_setup);
        plan.seccomp.observe_files = true;
    }
    secrets.scrub(plan);
    if (!o.target.empty()) return print_target(std::move(plan), o);
    std::unique_ptr<sandbox::Backend> backend;
    try {
        backend = sandbox::make_backend(plan.backend);
    } catch (const std::invalid_argument& e) {  // a backend not built on this system
        throw Failure(std::string("run: ") + e.what(), exit_setup);
    }
    add_weakenings(plan, *backend);

    util::phases::mark("plan");
    if (o.verbose > 0)
        for (const auto& l : plan.layers) note("profile " + l.name + " from " + l.path);
    // Names only, never values: said at the start with -v, and again in the summary.
    const auto withheld = withheld_env(prof, inv.environ);
    if (o.verbose > 0 && !o.dry_run) print_withheld_env(withheld);

    if (o.dry_run) {
        if (plan.staging == policy::Staging::copy) plan.notes.push_back(copy_cost_note(plan, inv.own_dirs));
        const std::string text = o.json ? policy::render_json(plan) : policy::render_text(plan);
        std::cout << text << (text.ends_with('\n') ? "" : "\n") << std::flush;
        // The plan is printed either way; the status says whether the run would go ahead.
        return report_weakenings(plan, o.allow_weaker) ? 0 : exit_setup;
    }
    if (!report_weakenings(plan, o.allow_weaker)) return exit_setup;
    // Before the session exists: a parent already gone leaves nothing behind.
    if (o.die_with_parent) {
        std::string unsupported;
        if (!sandbox::die_with_parent(unsupported))
            throw Failure(std::string("--die-with-parent: ") + std::strerror(errno), exit_setup);
        if (!unsupported.empty()) warn(unsupported);
    }

    // Every run has a session, if only for its log; upper/ stays empty without staging. Its
    // meta.json is written with the log (start_log), while the sandbox is being built.
    std::optional<stage::Session> session =
        stage::Session::create_unrecorded(project, o.command, o.profiles,
                                          stage::staged_as(plan.staging));
    sandbox::StageDirs dirs = stage_dirs(plan, *session);
    otlp_start(session->dir(), otlp);
    // Held until the end: `commit` and `discard` refuse a session whose run is alive.
    const sys::unique_fd run_lock = session->hold_run_lock();
    util::phases::mark("session");

    // The session's meta.json and the decision log are written while the sandbox is being
    // built (Io::ready): the backend lets the command exec only after that, so a run that
    // cannot be recorded or logged still never starts, and nothing is staged before the
    // session says "running".
    stage::RunRecord record(*session,
                            {o.log_file, o.log_fd, [](const std::string& m) { warn(m); },
                             plan.log_size});
    auto start_log = [&record, &plan, &facts](const sandbox::Prepared* p) {
        if (record.log() != nullptr) return;
        record.start({session_start_event(plan, facts), plan_event(plan, p)});
    };
    const sandbox::Io io = sandbox_io(o, prof, *session, secrets, start_log);
    // Counted for the summary.
    Denials denied;
    const sandbox::EventSink sink = event_sink(o, record, denied);

    sandbox::Outcome out;
    stage::RunStaging staging(*session, plan.staging);
    try {
        // Copy staging copies the project before the sandbox starts, which takes a while in a
        // big one: a run killed meanwhile must list as cut short, not as a session without
        // its meta.json ("broken").
        if (plan.staging == policy::Staging::copy) record.record_start();
        dirs.snapshot = staging.before(plan.project, inv.own_dirs);
        prepare_run_state(plan, *session, dirs);
        out = backend->launch(plan, dirs, io, sink);
    } catch (...) {
        record.failed();
        throw;
    }
    // A backend that failed before Io::ready, or whose ready failed: the failure is still
    // recorded, or, when the log itself cannot be opened, that is the error.
    start_log(nullptr);
    // Every process that could trigger an event is gone: the counts so far are logged now,
    // before the review's events, not after them.
    record.summarize();
    staging.after(out.started, plan.on_exit != profile::OnExit::discard,
                  [](bool is_error, const std::string& m) { is_error ? error(m) : warn(m); });
    util::phases::mark("staged");
    tell_launch(out, plan, inv);
    // The agent's state files: every process that could write them is gone.
    if (!dirs.home.empty()) finish_run_state(plan, *session, record.log(), o.quiet);

    // The command is done: the session is "staged" (or "failed"). Written now unless the review
    // settles the status at once by itself (empty, discarded, committed), which saves a write on
    // most runs; otherwise -- a person at the prompt, keep, a review that fails -- it is
    // written before the review or after it. Flushed at the end (RunRecord::finish). Nothing
    // staged at all: the review can only find the session empty, and asks no one.
    if (!out.started || ((plan.on_exit == profile::OnExit::ask ||
                          plan.on_exit == profile::OnExit::keep) &&
                         !staging.nothing_staged()))
        record.ended(out.started);
    record.hold_status();

    Summary summary = summarise(plan, prof, out, *session, record);
    summary.denied = std::move(denied);
    summary.withheld_env = withheld;
    if (o.learner) o.learner->ran(plan, session->meta().id);
    util::phases::mark("review");
    if (session->meta().status == "running") record.ended(out.started);
    record.finish();
    otlp_after_run(session->dir(), otlp, o.quiet);
    // The sandbox's init reported the end before its own exit, which tears down its namespaces
    // while the review runs (sandbox/backend.hpp, Outcome::reap_later).
    if (out.reap_later > 0) ::waitpid(out.reap_later, nullptr, WNOHANG);
    return report(o, summary);
}

}  // namespace agentbox::cli
