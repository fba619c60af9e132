#include "cli/profile_cmd.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "cli/errors.hpp"
#include "cli/explain.hpp"
#include "cli/profile_print.hpp"
#include "cli/profile_sign.hpp"
#include "cli/term.hpp"
#include "cli/own_dirs.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"
#include "sandbox/host.hpp"
#include "sys/error.hpp"
#include "sys/io.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

CLI::App* register_profile(CLI::App& app, ProfileOptions& o) {
    auto* cmd = app.add_subcommand("profile", "List, show (resolved, with sources), check, test, sign or verify profiles");
    cmd->require_subcommand(1);
    cmd->add_option("-C,--project", o.project,
                    "Project directory (for @project and project-local profiles)");

    o.list_cmd = cmd->add_subcommand("list", "List the profiles reachable from here");
    o.list_cmd->add_flag("--json", o.json, "Print a JSON array");
    o.list_cmd->add_flag("--names", o.names_only, "Print names only, one a line")
        ->excludes("--json");

    o.show_cmd = cmd->add_subcommand("show", "Print a profile resolved, with the source of each value");
    o.show_cmd->add_option("PROFILE", o.show, "Profile NAME or FILE")->required();
    o.show_cmd->add_flag("--json", o.json, "Print JSON");

    o.check_cmd = cmd->add_subcommand("check", "Validate profile files");
    o.check_cmd->add_option("FILE", o.check, "Profile files")->required();

    o.test_cmd = cmd->add_subcommand("test", "Run the [[test]] tables of profile files");
    o.test_cmd->add_option("FILE", o.test, "Profile files")->required();
    o.test_cmd->footer("Each [[test]] (op, target, expect) is answered as agentbox explain "
                       "answers it.\nPrints a line per failed test and \"N passed, N failed\"; "
                       "exit status 1 when any failed, 2 for a profile error.");
    register_profile_signing(*cmd, o);
    return cmd;
}

namespace {

profile::Context context_here(const std::optional<std::string>& project_flag) {
    auto env = environment();
    const std::string home = home_dir(env);
    const std::string cwd = current_dir();
    const std::string project = resolve_project(project_flag, cwd, home, /*refuse_broad=*/false);
    return make_context(project, cwd, home, std::move(env));
}

int list_profiles(const ProfileOptions& o, const profile::Context& ctx) {
    const auto all = profile::list(ctx);
    if (o.names_only) {
        for (const auto& l : all) std::cout << l.name << '\n';
        return 0;
    }
    if (o.json) {
        nlohmann::ordered_json a = nlohmann::ordered_json::array();
        for (const auto& l : all)
            a.push_back({{"name", l.name}, {"path", l.path}, {"description", l.description}});
        std::cout << a.dump(2) << '\n';
        return 0;
    }
    std::size_t name_w = 4, path_w = 5;
    for (const auto& l : all) {
        name_w = std::max(name_w, l.name.size());
        path_w = std::max(path_w, l.path.size());
    }
    auto row = [&](const std::string& a, const std::string& b, const std::string& c) {
        std::string line = a + std::string(name_w - a.size() + 2, ' ') + b +
                           std::string(path_w - b.size() + 2, ' ') + c;
        while (!line.empty() && line.back() == ' ') line.pop_back();
        return line;
    };
    std::cout << paint(1, Style::bold, row("NAME", "WHERE", "DESCRIPTION")) << '\n';
    for (const auto& l : all) std::cout << row(l.name, l.path, l.description) << '\n';
    return 0;
}

int show_profile(const ProfileOptions& o, const profile::Context& ctx) {
    const profile::Profile p = profile::load(o.show, ctx);
    std::cout << (o.json ? profile_json(p) : profile_text(p));
    return 0;
}

// What `run` would refuse of a profile that parses: its Plan, compiled for this project and
// host by policy::compile, and its syscall names, resolved by sandbox::check_syscall_names -- the
// functions `run` goes through, so `check` cannot accept what `run` then rejects.
void check_as_run(const std::string& path, const profile::Context& ctx) {
    profile::Profile prof = profile::load_all({path}, ctx);
    profile::merge_into(prof, own_dirs_layer(/*create=*/false));
    policy::Invocation inv;
    inv.argv = {"true"};
    inv.project = ctx.project;
    inv.cwd = ctx.cwd;
    inv.environ = ctx.environ;
    inv.home = ctx.home;
    inv.own_dirs = own_dir_paths();
    const policy::Plan plan = policy::compile(prof, inv, sandbox::fs_facts());
    sandbox::check_syscall_names(plan);
}

int check_profiles(const ProfileOptions& o, const profile::Context& ctx) {
    int status = 0;
    auto refuse = [&](const std::string& message) {
        std::cout.flush();
        error(message);
        status = exit_usage;
    };
    for (const auto& file : o.check) {
        // FILE is a file even without a '/': do not let it be looked up as a profile name.
        const bool path_like = file.find('/') != std::string::npos || file.ends_with(".toml");
        const std::string path = path_like ? file : "./" + file;
        try {
            (void)profile::load(path, ctx);
            check_as_run(path, ctx);
            std::cout << file << ": " << paint(1, Style::green, "ok") << '\n';
        } catch (const profile::ProfileError& e) {  // names file:line:col itself
            refuse(e.what());
        } catch (const std::invalid_argument& e) {  // policy::compile: what run calls usage
            refuse(file + ": " + e.what());
        } catch (const std::runtime_error& e) {  // sandbox::check_syscall_names
            refuse(file + ": " + e.what());
        }
    }
    return status;
}

// Each [[test]] of each FILE through policy::decide, exactly as `agentbox explain OP TARGET
// -p FILE` asks it (same expansion, same host resolution), so a test states what explain
// and the run will answer.
int test_profiles(const ProfileOptions& o, const profile::Context& ctx) {
    std::size_t passed = 0, failed = 0;
    int status = 0;
    const policy::HostFacts host = sandbox::fs_facts();
    for (const auto& file : o.test) {
        const bool path_like = file.find('/') != std::string::npos || file.ends_with(".toml");
        const std::string path = path_like ? file : "./" + file;
        try {
            const std::vector<profile::ProfileTest> tests =
                profile::read_tests(sys::read_file(path), file);
            profile::Profile prof = profile::load_all({path}, ctx);
            profile::merge_into(prof, own_dirs_layer(/*create=*/false));
            if (tests.empty()) std::cout << file << ": no [[test]] tables\n";
            for (const profile::ProfileTest& t : tests) {
                policy::Request req;
                (void)explain_request(t.op, t.target, ctx.cwd, ctx.home, req);  // op validated
                const policy::Decision d = policy::decide(prof, req, ctx.project, std::string(),
                                                          &host);
                if (t.expect == policy::to_string(d.verdict)) {
                    ++passed;
                    continue;
                }
                ++failed;
                std::cout << t.where.str() << ": "
                          << paint(1, Style::red, "FAIL") << " " << t.op << " " << t.target
                          << ": expected " << t.expect << ", got "
                          << policy::to_string(d.verdict) << " (" << d.rule << ", "
                          << d.source.str() << ")"
                          << (t.note.empty() ? "" : " -- " + t.note) << '\n';
            }
        } catch (const profile::ProfileError& e) {
            std::cout.flush();
            error(e.what());
            status = exit_usage;
        } catch (const sys::SysError& e) {
            std::cout.flush();
            error(e.what());
            status = exit_usage;
        }
    }
    std::cout << passed << " passed, " << failed << " failed\n";
    if (status != 0) return status;
    return failed == 0 ? 0 : exit_refused;
}

}  // namespace

int run_profile(const ProfileOptions& o) {
    const profile::Context ctx = context_here(o.project);
    if (o.list_cmd->parsed()) return list_profiles(o, ctx);
    if (o.show_cmd->parsed()) return show_profile(o, ctx);
    if (o.check_cmd->parsed()) return check_profiles(o, ctx);
    if (o.test_cmd->parsed()) return test_profiles(o, ctx);
    if (o.keygen_cmd->parsed()) return keygen_profile_key(o);
    if (o.sign_cmd->parsed()) return sign_profiles(o);
    if (o.verify_cmd->parsed()) return verify_profiles(o, ctx);
    throw UsageError("profile: expected list, show, check, test, keygen, sign or verify");
}

}  // namespace agentbox::cli
