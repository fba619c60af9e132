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
    run_cmd_ = register_run(app_, run_);
    sessions_cmd_ = register_sessions(app_, sessions_);
    diff_cmd_ = register_diff(app_, diff_);
    commit_cmd_ = register_commit(app_, commit_);
    discard_cmd_ = register_discard(app_, discard_);
    undo_cmd_ = register_undo(app_, undo_);
    export_cmd_ = register_export(app_, export_);
    log_cmd_ = register_log(app_, log_);
    explain_cmd_ = register_explain(app_, explain_);
    profile_cmd_ = register_profile(app_, profile_);
    doctor_cmd_ = register_doctor(app_, doctor_);
    completions_cmd_ = register_completions(app_, completions_);
    help_cmd_ = register_help(app_, help_);
}

void Cli::parse(int argc, const char* const* argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const auto cmd = command_index(argc, argv);
    if (cmd) {
        const std::string& word = args[static_cast<std::size_t>(*cmd - 1)];
        std::vector<std::string> names;
        for (const auto* sub : app_.get_subcommands({})) names.push_back(sub->get_name());
        if (std::find(names.begin(), names.end(), word) == names.end()) {
            const std::string near = util::nearest(word, names);
            throw UsageError("unknown command " + util::quote(word) +
                             (near.empty() ? "" : " (did you mean '" + near + "'?)"));
        }
    }

    // `run` takes the command from what follows its options. CLI11's prefix mode hands that
    // over as "remaining" arguments but drops an explicit `--` together with unknown options,
    // so the first `--` after `run` is split off here: what follows it is the command's.
    std::optional<std::vector<std::string>> after_dashdash;
    if (cmd && args[static_cast<std::size_t>(*cmd - 1)] == "run") {
        for (std::size_t i = static_cast<std::size_t>(*cmd); i < args.size(); ++i)
            if (args[i] == "--") {
                after_dashdash.emplace(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
                args.resize(i);
                break;
            }
    }

    // CLI11 consumes its argument vector from the back.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app_.parse(reversed);

    if (run_cmd_->parsed()) {
        std::vector<std::string> before = run_cmd_->remaining();
        // In prefix mode an unknown option before the command lands here instead of failing;
        // a command cannot start with '-' without `--`, so this is the unknown option.
        if (!before.empty() && before.front().starts_with('-')) {
            const std::string flag = before.front().substr(0, before.front().find('='));
            std::vector<std::string> known;
            for (const CLI::Option* opt : run_cmd_->get_options())
                for (const std::string& name : opt->get_lnames()) known.push_back("--" + name);
            const std::string near = util::nearest(flag, known);
            throw UsageError("run: unknown option " + util::quote(flag) +
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
        run_.command = std::move(before);
    }
}

int Cli::dispatch() {
    if (run_cmd_->parsed()) return run_run(run_);
    if (sessions_cmd_->parsed()) return run_sessions(sessions_);
    if (diff_cmd_->parsed()) return run_diff(diff_);
    if (export_cmd_->parsed()) return run_export(export_);
    if (commit_cmd_->parsed()) return run_commit(commit_);
    if (discard_cmd_->parsed()) return run_discard(discard_);
    if (undo_cmd_->parsed()) return run_undo(undo_);
    if (explain_cmd_->parsed()) return run_explain(explain_);
    if (profile_cmd_->parsed()) return run_profile(profile_);
    if (doctor_cmd_->parsed()) return run_doctor(doctor_);
    if (completions_cmd_->parsed()) return run_completions(completions_);
    if (help_cmd_->parsed()) return run_help(app_, help_);
    if (log_cmd_->parsed()) return run_log(log_);
    // No command: the overview, on stderr since nothing was asked for.
    std::cerr << app_.help();
    return exit_usage;
}

}  // namespace agentbox::cli
