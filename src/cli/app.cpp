#include "cli/app.hpp"

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

#include "cli/errors.hpp"
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

}  // namespace agentbox::cli
