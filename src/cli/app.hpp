// The command table: every command of DESIGN.md §2 registered on one CLI11 app, argv parsed,
// and the chosen command run. main.cpp owns the one try/catch around it.
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

#include "cli/completions.hpp"
#include "cli/diff_cmd.hpp"
#include "cli/doctor.hpp"
#include "cli/explain.hpp"
#include "cli/help.hpp"
#include "cli/learn.hpp"
#include "cli/log.hpp"
#include "cli/profile_cmd.hpp"
#include "cli/run.hpp"
#include "cli/stage_cmds.hpp"

namespace agentbox::cli {

class Cli {
public:
    Cli();
    Cli(const Cli&) = delete;
    Cli& operator=(const Cli&) = delete;

    // Throws CLI::ParseError (including the help and version requests, exit code 0) and
    // UsageError.
    void parse(int argc, const char* const* argv);
    int dispatch();
    CLI::App& app() { return app_; }

private:
    void add(std::string_view name);
    void suggest_option(std::string_view command, const std::vector<std::string>& args);
    static bool parsed(const CLI::App* cmd) { return cmd != nullptr && cmd->parsed(); }

    CLI::App app_;
    RunOptions run_;
    LearnOptions learn_;
    CLI::App* learn_cmd_ = nullptr;
    ExplainOptions explain_;
    ProfileOptions profile_;
    DoctorOptions doctor_;
    CompletionsOptions completions_;
    HelpOptions help_;
    SessionsOptions sessions_;
    CommitOptions commit_;
    TargetOptions discard_, undo_;
    CLI::App* sessions_cmd_ = nullptr;
    CLI::App* commit_cmd_ = nullptr;
    CLI::App* discard_cmd_ = nullptr;
    CLI::App* undo_cmd_ = nullptr;
    DiffOptions diff_;
    ExportOptions export_;
    CLI::App* diff_cmd_ = nullptr;
    CLI::App* export_cmd_ = nullptr;
    LogOptions log_;
    CLI::App* run_cmd_ = nullptr;
    CLI::App* explain_cmd_ = nullptr;
    CLI::App* profile_cmd_ = nullptr;
    CLI::App* doctor_cmd_ = nullptr;
    CLI::App* completions_cmd_ = nullptr;
    CLI::App* help_cmd_ = nullptr;
    CLI::App* log_cmd_ = nullptr;
};

// Whether argv names the `run` command, decided before parsing so that even a parse error
// gets run's exit code (125) rather than 2.
bool names_run(int argc, const char* const* argv);

}  // namespace agentbox::cli
