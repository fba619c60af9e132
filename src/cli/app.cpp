#include "cli/app.hpp"

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

#include "cli/errors.hpp"
#include "sandbox/choose.hpp"
#include "util/strings.hpp"

#ifndef AGENTBOX_VERSION
#error "AGENTBOX_VERSION must be defined by the build"
#endif

namespace agentbox::cli {

namespace {

// Index of the command word in argv: the first argument that is not an option. Every global
// option (-h, --help, --version) is a flag, so no option value can be mistaken for it.
std::optional<int> command_index(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a(argv[i]);
        if (a == "--") return i + 1 < argc ? std::optional<int>(i + 1) : std::nullopt;
        if (!a.starts_with('-')) return i;
    }
    return std::nullopt;
}

}  // namespace

bool names_run(int argc, const char* const* argv) {
    const auto i = command_index(argc, argv);
    return i && std::string_view(argv[*i]) == "run";
}

Cli::Cli() : app_("agentbox: run a command in a least-privilege sandbox; writes are staged", "agentbox") {
    app_.set_version_flag("--version", "agentbox " AGENTBOX_VERSION, "Print the version and exit");
    app_.require_subcommand(0, 1);
    app_.footer("Run 'agentbox help COMMAND' for the options of one command; agentbox(1) has "
                "the exit codes,\nagentbox-profile(5) the profile schema.");
}

// Every command, in the order of the overview. Building a command's options is most of what
// CLI11 costs: a sandboxed run pays it for `run` alone.
void Cli::add(std::string_view name) {
    if (name == "run") run_cmd_ = register_run(app_, run_);
    else if (name == "learn") learn_cmd_ = register_learn(app_, learn_);
    else if (name == "sessions") sessions_cmd_ = register_sessions(app_, sessions_);
    else if (name == "diff") diff_cmd_ = register_diff(app_, diff_);
    else if (name == "commit") commit_cmd_ = register_commit(app_, commit_);
    else if (name == "discard") discard_cmd_ = register_discard(app_, discard_);
    else if (name == "undo") undo_cmd_ = register_undo(app_, undo_);
    else if (name == "export") export_cmd_ = register_export(app_, export_);
    else if (name == "log") log_cmd_ = register_log(app_, log_);
    else if (name == "explain") explain_cmd_ = register_explain(app_, explain_);
    else if (name == "profile") profile_cmd_ = register_profile(app_, profile_);
    else if (name == "doctor") doctor_cmd_ = register_doctor(app_, doctor_);
    else if (name == "completions") completions_cmd_ = register_completions(app_, completions_);
    else if (name == "help") help_cmd_ = register_help(app_, help_);
}

// `diff --stats`: CLI11 says only that the argument was not expected; name the closest option
// of that command instead. Returns when no unknown option is found (CLI11's message stands).
void Cli::suggest_option(std::string_view command, const std::vector<std::string>& args) {
    const CLI::App* sub = nullptr;
    try {
        sub = app_.get_subcommand(std::string(command));
    } catch (const CLI::OptionNotFound&) {
        return;
    }
    // The command's options and those of its own subcommands (profile list --names).
    std::vector<std::string> known;
    std::vector<const CLI::App*> todo{sub};
    while (!todo.empty()) {
        const CLI::App* a = todo.back();
        todo.pop_back();
        for (const CLI::Option* opt : a->get_options()) {
            for (const std::string& name : opt->get_lnames()) known.push_back("--" + name);
            for (const std::string& name : opt->get_snames()) known.push_back("-" + name);
        }
        for (const CLI::App* child : a->get_subcommands([](const CLI::App*) { return true; }))
            todo.push_back(child);
    }
    for (const std::string& a : args) {
        if (a == "--") break;
        if (!a.starts_with("--")) continue;
        const std::string flag = a.substr(0, a.find('='));
        if (std::find(known.begin(), known.end(), flag) != known.end()) continue;
        const std::string near = util::nearest(flag, known);
        throw UsageError(std::string(command) + ": unknown option " + util::quote(flag) +
                         (near.empty() ? std::string() : " (did you mean " + util::quote(near) + "?)"));
    }
}

void Cli::parse(int argc, const char* const* argv) {
    static constexpr std::string_view kCommands[] = {
        "run",     "sessions", "diff",    "commit", "discard",     "undo",  "export",
        "log",     "explain",  "profile", "doctor", "learn",       "completions", "help"};
    std::vector<std::string> args(argv + 1, argv + argc);
    const auto cmd = command_index(argc, argv);
    const std::string_view word = cmd ? std::string_view(args[static_cast<std::size_t>(*cmd - 1)])
                                      : std::string_view();
    if (cmd && std::find(std::begin(kCommands), std::end(kCommands), word) == std::end(kCommands)) {
        const std::vector<std::string> names(std::begin(kCommands), std::end(kCommands));
        const std::string near = util::nearest(std::string(word), names);
        throw UsageError("unknown command " + util::quote(std::string(word)) +
                         (near.empty() ? "" : " (did you mean '" + near + "'?)"));
    }
    // One command named: only it is built. `help`, `completions` and no command at all look
    // at the whole table, except `--version` without help, which prints one line: building
    // the fourteen commands' options was ~30 of its page faults.
    const auto given = [&](std::string_view flag) {
        return std::find(args.begin(), args.end(), flag) != args.end();
    };
    if (cmd && word != "help" && word != "completions") add(word);
    else if (cmd || !given("--version") || given("-h") || given("--help"))
        for (std::string_view c : kCommands) add(c);

    // `run` takes the command from what follows its options. CLI11's prefix mode hands that
    // over as "remaining" arguments but drops an explicit `--` together with unknown options,
    // so the first `--` after `run` is split off here: what follows it is the command's.
    std::optional<std::vector<std::string>> after_dashdash;
    if (cmd && (word == "run" || word == "learn")) {
        for (std::size_t i = static_cast<std::size_t>(*cmd); i < args.size(); ++i)
            if (args[i] == "--") {
                after_dashdash.emplace(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
                args.resize(i);
                break;
            }
    }

    // CLI11 consumes its argument vector from the back.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app_.parse(reversed);
    } catch (const CLI::ExtrasError&) {
        if (cmd) suggest_option(word, args);
        throw;
    }

    CLI::App* const runner = parsed(run_cmd_) ? run_cmd_ : parsed(learn_cmd_) ? learn_cmd_ : nullptr;
    if (runner) {
        std::vector<std::string> before = runner->remaining();
        // In prefix mode an unknown option before the command lands here instead of failing;
        // a command cannot start with '-' without `--`, so this is the unknown option.
        if (!before.empty() && before.front().starts_with('-')) {
            const std::string flag = before.front().substr(0, before.front().find('='));
            std::vector<std::string> known;
            for (const CLI::Option* opt : runner->get_options())
                for (const std::string& name : opt->get_lnames()) known.push_back("--" + name);
            const std::string near = util::nearest(flag, known);
            throw UsageError(runner->get_name() + ": unknown option " + util::quote(flag) +
                             (near.empty() ? std::string()
                                           : " (did you mean " + util::quote(near) + "?)") +
                             ": options go before the command, and `--` before a command whose "
                             "name starts with '-'");
        }
        if (after_dashdash) {
            // A `--` after the command word is the command's own argument.
            if (!before.empty()) before.push_back("--");
            before.insert(before.end(), after_dashdash->begin(), after_dashdash->end());
        }
        (runner == run_cmd_ ? run_.command : learn_.run.command) = std::move(before);
    }
}

int Cli::dispatch() {
    if (parsed(run_cmd_)) return run_run(run_);
    if (parsed(learn_cmd_)) return run_learn(learn_);
    if (parsed(sessions_cmd_)) return run_sessions(sessions_);
    if (parsed(diff_cmd_)) return run_diff(diff_);
    if (parsed(export_cmd_)) return run_export(export_);
    if (parsed(commit_cmd_)) return run_commit(commit_);
    if (parsed(discard_cmd_)) return run_discard(discard_);
    if (parsed(undo_cmd_)) return run_undo(undo_);
    if (parsed(explain_cmd_)) return run_explain(explain_);
    if (parsed(profile_cmd_)) return run_profile(profile_);
    if (parsed(doctor_cmd_)) return run_doctor(doctor_);
    if (parsed(completions_cmd_)) return run_completions(completions_);
    if (parsed(help_cmd_)) return run_help(app_, help_);
    if (parsed(log_cmd_)) return run_log(log_);
    // No command: the overview, on stderr since nothing was asked for.
    std::cerr << app_.help();
    return exit_usage;
}

// --- every command's options ---------------------------------------------------------------
// Here and not beside each command: CLI11 2.1.2 builds eight validator objects at static init in
// every unit that includes it (~0.2 ms and 7 page faults per process for 13 units against one,
// bench/RESULTS.md "startup-pass5-k"). The commands' own files see CLI::App only declared.

namespace stage_args {

void add_target(CLI::App* cmd, std::optional<std::string>& session,
                std::optional<std::string>& project) {
    cmd->add_option("-s,--session", session, "Session id or unique prefix (default: the newest "
                                             "of the project)");
    cmd->add_option("-C,--project", project,
                    "Project whose newest session is meant (default: git top level of the "
                    "current directory, else the current directory)");
}

}  // namespace stage_args

CLI::App* register_doctor(CLI::App& app, DoctorOptions& o) {
    auto* cmd = app.add_subcommand("doctor", "Show what this kernel and system can enforce");
    cmd->add_flag("--json", o.json, "Print a JSON array");
    return cmd;
}

CLI::App* register_explain(CLI::App& app, ExplainOptions& o) {
    auto* cmd = app.add_subcommand("explain", "Show how the profile decides one operation");
    cmd->footer("Usage: agentbox explain [OPTIONS] OP TARGET\n"
                "  OP is read|write|exec (TARGET a path), connect (HOST[:PORT]),\n"
                "  commit (a project path), env (a variable name)\n"
                "  or request (TARGET is METHOD URL: explain request GET https://host/path)\n"
                "Exit status: 0 allow, 1 deny, 3 ask.");
    cmd->add_option("-p,--profile", o.profiles, "Profile NAME or FILE; repeatable")
        ->allow_extra_args(false);
    cmd->add_option("-C,--project", o.project, "Project directory");
    cmd->add_flag("--json", o.json, "Print the decision as JSON");
    cmd->add_option("OP", o.op, "read|write|exec|connect|commit|env|request")->required();
    cmd->add_option("TARGET", o.target, "Path, HOST[:PORT], variable name or METHOD")->required();
    cmd->add_option("URL", o.url, "For request: the URL (http:// or https://)");
    return cmd;
}

CLI::App* register_log(CLI::App& app, LogOptions& o) {
    auto* cmd = app.add_subcommand("log", "Read or verify the decision log of a session");
    cmd->add_option("session", o.session,
                    "Session id or unique prefix (default: the newest of the project), or the "
                    "path of a log file (any argument with a '/')");
    cmd->add_option("-C,--project", o.project, "Project whose newest session is meant");
    auto* json = cmd->add_flag("--json", o.json, "Print the raw JSON lines");
    auto* follow = cmd->add_flag("--follow", o.follow, "Keep printing until the session ends");
    cmd->add_flag("--verify", o.verify,
                  "Check the hash chain, sequence and signature; exit 1 on any failure")
        ->excludes(follow)
        ->excludes(json);
    cmd->add_option("--export", o.export_to,
                    "Send the session's log to an OpenTelemetry collector: --export otlp URL")
        ->expected(2)
        ->allow_extra_args(false)
        ->type_name("otlp URL")
        ->excludes(follow)
        ->excludes(json);
    cmd->add_flag("--no-pager", o.no_pager, "Never start a pager");
    cmd->add_flag("--full", o.full,
                  "Print every element of a list (the paths of a commit), not the first few "
                  "and a count");
    return cmd;
}

void register_profile_signing(CLI::App& cmd, ProfileOptions& o) {
    o.keygen_cmd = cmd.add_subcommand("keygen", "Make a key pair for signing profiles (minisign format)");
    o.keygen_cmd->add_option("-s,--secret-key", o.secret_key, "Secret key file to write")->required();
    o.keygen_cmd->add_option("-p,--public-key", o.public_key_file,
                             "Public key file to write (default: SECKEY.pub)");
    o.keygen_cmd->add_flag("-f,--force", o.force, "Overwrite existing key files");
    o.keygen_cmd->footer("The secret key is written unencrypted (mode 0600), as `minisign -G -W` "
                         "does; minisign can sign with it too.");

    o.sign_cmd = cmd.add_subcommand("sign", "Sign profile files: FILE.minisig next to each");
    o.sign_cmd->add_option("-s,--secret-key", o.secret_key,
                           "Unencrypted minisign secret key (agentbox profile keygen, minisign -G -W)")
        ->required();
    o.sign_cmd->add_option("-t,--trusted-comment", o.trusted_comment,
                           "Signed comment (default: timestamp:N<TAB>file:NAME<TAB>hashed)");
    o.sign_cmd->add_option("FILE", o.sign, "Profile files")->required();

    o.verify_cmd = cmd.add_subcommand("verify", "Verify the FILE.minisig signatures of profile files");
    auto* key = o.verify_cmd->add_option("-P,--public-key", o.public_key,
                                         "Public key, the base64 line (RW...)");
    o.verify_cmd->add_option("-p,--public-key-file", o.public_key_file, "Public key file")
        ->excludes(key);
    o.verify_cmd->add_option("FILE", o.verify, "Profile files")->required();
    o.verify_cmd->footer("Without -P or -p, the trusted_keys of config.toml are used.\n"
                         "Exit status 0 when every signature verifies, 1 when one does not.");
}

CLI::App* register_diff(CLI::App& app, DiffOptions& o) {
    auto* cmd = app.add_subcommand("diff", "Show the staged changes of a session");
    cmd->add_option("args", o.args, "[SESSION] [PATH...]: limit to these paths");
    stage_args::add_target(cmd, o.session, o.project);
    auto* st = cmd->add_flag("--stat", o.stat, "A diffstat, as git diff --stat");
    auto* ns = cmd->add_flag("--name-status", o.name_status, "One line per change: letter, path");
    auto* js = cmd->add_flag("--json", o.json, "The change set as a JSON array");
    st->excludes(ns)->excludes(js);
    ns->excludes(js);
    cmd->add_flag("--binary", o.binary, "Binary files as git binary patches (applicable)");
    cmd->add_flag("--no-pager", o.no_pager, "Never start a pager");
    cmd->add_option("--color", o.color,
                    "Colour the patch and --stat: auto (on a terminal, unless NO_COLOR is set), "
                    "always, never")
        ->expected(0, 1)
        ->default_str("always");
    return cmd;
}

CLI::App* register_export(CLI::App& app, ExportOptions& o) {
    auto* cmd = app.add_subcommand("export", "Write staged changes to an archive or a patch");
    cmd->add_option("session", o.args, "SESSION (default: the newest of the project)")
        ->expected(0, 1);
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_option("-o,--output", o.output,
                    "The file to write; - for standard output (a patch unless --format says "
                    "otherwise)")
        ->required();
    cmd->add_option("--format", o.format,
                    "tar, tar.gz, tar.zst or patch (default: from the file name)")
        ->check(CLI::IsMember({"tar", "tar.gz", "tar.zst", "patch"}));
    cmd->add_flag("--force", o.force, "Overwrite FILE if it exists");
    cmd->add_flag("--json", o.json, "Print the session, the file, its format and the count as JSON");
    return cmd;
}

CLI::App* register_learn(CLI::App& app, LearnOptions& o) {
    auto* cmd = app.add_subcommand(
        "learn", "Run a command observed instead of denied, and write the profile it needs");
    cmd->prefix_command();
    cmd->footer("Usage: agentbox learn [-p BASE] -o FILE [OPTIONS] [--] CMD [ARGS...]\n"
                "The base profile's denials still hold and every write is staged for review.");
    auto& r = o.run;
    cmd->add_option("-p,--profile", r.profiles,
                    "Base profile NAME or FILE, extended by the learned one; repeatable "
                    "(default: default)")
        ->allow_extra_args(false);
    cmd->add_option("-o,--output", o.output, "Write the learned profile to FILE")->required();
    cmd->add_flag("--force", o.force, "Overwrite FILE if it exists");
    cmd->add_option("-C,--project", r.project, "Project directory (as for run)");
    cmd->add_option("--env", r.env, "Pass NAME from the environment, or set NAME=VALUE")
        ->allow_extra_args(false);
    cmd->add_option("--timeout", r.timeout, "Wall-clock limit (30m, 1h30m, 45s)");
    cmd->add_option("--log", r.log_file, "Write a copy of the decision log to FILE");
    cmd->add_option("--backend", r.backend, "Sandbox backend")
        ->check(CLI::IsMember({"auto", "native", "bwrap"}));
    auto* tty = cmd->add_flag("--tty", r.tty, "Relay a pseudo-terminal even if stdin is not one");
    cmd->add_flag("--no-tty", r.no_tty, "Never relay a pseudo-terminal")->excludes(tty);
    cmd->add_flag("--allow-weaker", r.allow_weaker,
                  "Run even if some rules cannot be enforced (each is printed)");
    auto* quiet = cmd->add_flag("-q,--quiet", r.quiet, "No summary at the end");
    cmd->add_flag("-v,--verbose", r.verbose, "Say more (repeatable)")->excludes(quiet);
    return cmd;
}

CLI::App* register_completions(CLI::App& app, CompletionsOptions& o) {
    auto* cmd = app.add_subcommand("completions", "Print the shell completion script");
    cmd->add_option("SHELL", o.shell, "bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    return cmd;
}

CLI::App* register_run(CLI::App& app, RunOptions& o) {
    auto* cmd = app.add_subcommand(
        "run", "Run one command in a sandbox; writes to the project are staged for review");
    // Everything from the first non-option word on is the command and its own arguments;
    // `--` ends agentbox's options explicitly.
    cmd->prefix_command();
    cmd->footer("Usage: agentbox run [OPTIONS] [--] CMD [ARGS...]\n"
                "The command and its own arguments follow the options; `--` ends them "
                "explicitly.");
    cmd->add_option("-p,--profile", o.profiles,
                    "Profile NAME or FILE; repeatable, layered in order (default: default)")
        ->allow_extra_args(false);
    cmd->add_option("-C,--project", o.project,
                    "Project directory (default: git top level of the current directory, else "
                    "the current directory)");
    cmd->add_option("--ro", o.ro, "Make PATH visible read-only")->allow_extra_args(false);
    cmd->add_option("--rw", o.rw, "Make PATH writable (staged under the project)")
        ->allow_extra_args(false);
    cmd->add_option("--hide", o.hide, "Make PATH invisible")->allow_extra_args(false);
    cmd->add_option("--net", o.net, "Network mode")
        ->check(CLI::IsMember({"none", "proxy", "host"}));
    cmd->add_option("--allow-host", o.allow_hosts, "Allow HOST[:PORT] through the proxy")
        ->allow_extra_args(false);
    cmd->add_option("--secret", o.secrets,
                    "Keep NAME's value outside: inside it is a stand-in, swapped for the real "
                    "value only in requests to HOST (NAME@HOST[,HOST...])")
        ->allow_extra_args(false);
    cmd->add_option("--env", o.env, "Pass NAME from the environment, or set NAME=VALUE")
        ->allow_extra_args(false);
    cmd->add_option("--timeout", o.timeout, "Wall-clock limit (30m, 1h30m, 45s)");
    cmd->add_option("--memory", o.memory, "Memory limit (512M, 4GiB)");
    cmd->add_option("--pids", o.pids, "Process count limit");
    cmd->add_option("--on-exit", o.on_exit, "What to do with staged changes at the end")
        ->check(CLI::IsMember({"ask", "commit", "discard", "keep"}))
        ->take_last();  // the last one wins, as with git: wrappers can override a default
    cmd->add_option("--approver", o.approver, "Command that answers approval requests");
    cmd->add_option("--log", o.log_file, "Write a copy of the decision log to FILE");
    cmd->add_option("--otlp", o.otlp,
                    "Export the decision log to an OpenTelemetry collector (http://HOST:PORT)");
    cmd->add_option("--log-fd", o.log_fd, "Write a copy of the decision log to file descriptor N")
        ->check(CLI::NonNegativeNumber);
    auto* dry = cmd->add_flag("--dry-run", o.dry_run, "Print the plan and exit");
    cmd->add_flag("--json", o.json, "With --dry-run: print the plan as JSON")->needs(dry);
    cmd->add_option("--target", o.target,
                    "With --dry-run: print the Seatbelt profile (macos) or the AppContainer "
                    "plan (windows) instead")
        ->check(CLI::IsMember({"macos", "windows"}))
        ->needs(dry);
    // Every backend on every system: a dry run shows and checks any of them; a run refuses
    // one this system cannot run (check_options).
    cmd->add_option("--backend", o.backend, "Sandbox backend")
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(sandbox::kBackendNames),
                                                       std::end(sandbox::kBackendNames))));
    auto* tty = cmd->add_flag("--tty", o.tty, "Relay a pseudo-terminal even if stdin is not one");
    cmd->add_flag("--no-tty", o.no_tty, "Never relay a pseudo-terminal")->excludes(tty);
    cmd->add_flag("--allow-weaker", o.allow_weaker,
                  "Run even if some rules cannot be enforced (each is printed)");
    auto* die = cmd->add_flag("--die-with-parent", o.die_with_parent,
                              "End the sandbox when the process that started agentbox dies "
                              "(default)");
    cmd->add_flag_callback("--no-die-with-parent", [&o] { o.die_with_parent = false; },
                           "Let the sandbox outlive the process that started agentbox")
        ->excludes(die);
    auto* quiet = cmd->add_flag("-q,--quiet", o.quiet, "No summary at the end");
    cmd->add_flag("-v,--verbose", o.verbose, "Say more (repeatable)")->excludes(quiet);
    cmd->add_option("--summary-fd", o.summary_fd, "Write the summary as JSON to file descriptor N")
        ->check(CLI::NonNegativeNumber);
    return cmd;
}

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

CLI::App* register_commit(CLI::App& app, CommitOptions& o) {
    auto* cmd = app.add_subcommand("commit", "Apply staged changes to the project");
    cmd->add_option("args", o.args, "[SESSION] [PATH...]: what to commit (default: everything)");
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_flag("--force", o.force,
                  "Overwrite conflicting host changes, and approve the protected paths and "
                  "outside symlinks named as PATH");
    cmd->add_flag("-n,--dry-run", o.dry_run, "Show what would be committed, change nothing");
    cmd->add_flag("--json", o.json,
                  "Print what was committed, held back and why, and the conflicts, as JSON");
    cmd->add_option("--approver", o.approver,
                    "Command that answers for protected paths and outside symlinks (default: "
                    "the profile's [approve] command)");
    return cmd;
}

CLI::App* register_discard(CLI::App& app, TargetOptions& o) {
    auto* cmd = app.add_subcommand("discard", "Drop the staged changes of a session");
    cmd->add_option("session", o.args, "SESSION (default: the newest of the project)")
        ->expected(0, 1);
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_flag("--json", o.json, "Print the session and what was discarded as JSON");
    return cmd;
}

CLI::App* register_undo(CLI::App& app, TargetOptions& o) {
    auto* cmd = app.add_subcommand(
        "undo", "Restore what the last commit of a session replaced; its changes are staged again");
    cmd->add_option("session", o.args, "SESSION (default: the newest of the project)")
        ->expected(0, 1);
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_flag("--force", o.force, "Undo even where the project changed since the commit");
    cmd->add_flag("--json", o.json, "Print what was restored, or the conflicts, as JSON");
    return cmd;
}

}  // namespace agentbox::cli
