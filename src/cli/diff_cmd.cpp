#include "cli/diff_cmd.hpp"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/errors.hpp"
#include "cli/review.hpp"
#include "cli/stage_cmds.hpp"
#include "cli/term.hpp"
#include "stage/archive.hpp"
#include "stage/changes.hpp"
#include "stage/commit.hpp"
#include "stage/patch.hpp"
#include "stage/session.hpp"
#include "sys/error.hpp"
#include "sys/io.hpp"
#include "util/escape.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

void write_all(int fd, const std::string& text) {
    try {
        sys::write_all(fd, text, "standard output");
    } catch (const sys::SysError& e) {
        if (e.err() != EPIPE) throw;  // EPIPE: the reader (a pager, head) has had enough
    }
}

// The reader is gone (EPIPE): stop rendering.
struct ReaderGone {};

}  // namespace

// Like git: a pager only when stdout is a terminal; $AGENTBOX_PAGER, then $PAGER, then
// `less -FRX` (quit if one screen, keep colours, leave the text on the screen).
Pager::Pager(bool no_pager) {
    if (no_pager || ::isatty(1) != 1) return;
    const char* pager = std::getenv("AGENTBOX_PAGER");
    if (pager == nullptr || *pager == '\0') pager = std::getenv("PAGER");
    if (pager == nullptr || *pager == '\0') pager = "less -FRX";
    if (std::string_view(pager) == "cat") return;
    std::fflush(stdout);
    pipe_ = ::popen(pager, "w");
    if (pipe_ == nullptr) return;
    fd_ = ::fileno(pipe_);
    old_sigpipe_ = std::signal(SIGPIPE, SIG_IGN);
}

Pager::~Pager() {
    if (pipe_ == nullptr) return;
    ::pclose(pipe_);
    std::signal(SIGPIPE, old_sigpipe_);
}

void Pager::write(std::string_view text) {
    if (gone_ || text.empty()) return;
    try {
        sys::write_all(fd_, std::string(text), "standard output");
    } catch (const sys::SysError& e) {
        if (e.err() != EPIPE) throw;
        gone_ = true;
    }
}

void page(const std::string& text, bool no_pager) {
    Pager p(no_pager);
    p.write(text);
}

void show_patch(const std::vector<stage::Change>& cs, const std::string& upper,
                const std::string& project, const stage::PatchOptions& opts, bool no_pager) {
    Pager out(no_pager);
    // Raw bytes to a pipe or file (git apply needs them); on a terminal, nothing in a file's
    // content may drive it, and each escape is marked (reverse video) when colour is on, so
    // that it cannot be mistaken for the same letters in the file.
    const bool terminal = ::isatty(1) == 1;
    const bool colour = terminal && colour_enabled(1);
    const std::string_view on = colour ? "\x1b[7m" : "", off = colour ? "\x1b[27m" : "";
    try {
        stage::patch(cs, upper, project, opts, [&](std::string_view piece) {
            if (terminal) out.write(util::escape_content_for_terminal(piece, on, off));
            else out.write(piece);
            if (out.gone()) throw ReaderGone{};
        });
    } catch (const ReaderGone&) {
    }
}

namespace {

int terminal_width() {
    struct winsize ws {};
    if (::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
}

}  // namespace

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
    return cmd;
}

int run_diff(const DiffOptions& o) {
    const auto target = stage_args::split(o.session, o.args);
    stage::Session s = stage_args::open_session(o.project, target.session);
    const std::string& project = s.meta().project;
    stage::recover(s);
    std::vector<std::string> paths;
    for (const auto& p : target.paths) paths.push_back(project_path(p, project));
    const auto cs = select(stage::changes(s.upper(), project), paths);

    if (o.json) {
        // Like git's --name-status, every deleted file is listed, not just its directory.
        page(stage::to_json(stage::with_deleted_entries(cs, project)), true);
    } else if (o.name_status) {
        page(stage::name_status(stage::with_deleted_entries(cs, project)), true);
    } else if (o.stat) {
        page(stage::stat(cs, s.upper(), project, ::isatty(1) == 1 ? terminal_width() : 80),
             o.no_pager);
    } else {
        stage::PatchOptions opts;
        // DESIGN.md §2: the default patch is one `git apply` accepts, so binary and large
        // files carry their data whenever the patch goes anywhere but a terminal.
        opts.binary = o.binary || ::isatty(1) != 1;
        show_patch(cs, s.upper(), project, opts, o.no_pager);
    }
    return 0;
}

CLI::App* register_export(CLI::App& app, ExportOptions& o) {
    auto* cmd = app.add_subcommand("export", "Write staged changes to an archive or a patch");
    cmd->add_option("session", o.args, "SESSION (default: the newest of the project)")
        ->expected(0, 1);
    stage_args::add_target(cmd, o.session, o.project);
    cmd->add_option("-o,--output", o.output, "The file to write (- for stdout with --format patch)")
        ->required();
    cmd->add_option("--format", o.format,
                    "tar, tar.gz, tar.zst or patch (default: from the file name)")
        ->check(CLI::IsMember({"tar", "tar.gz", "tar.zst", "patch"}));
    cmd->add_flag("--force", o.force, "Overwrite FILE if it exists");
    return cmd;
}

int run_export(const ExportOptions& o) {
    const std::string id = o.session ? *o.session : o.args.empty() ? "" : o.args[0];
    stage::Session s = stage_args::open_session(o.project, id);
    const std::string& project = s.meta().project;
    stage::recover(s);
    const auto cs = stage::changes(s.upper(), project);
    const bool as_patch = o.format ? *o.format == "patch" : o.output.ends_with(".patch") ||
                                                                 o.output.ends_with(".diff");
    if (as_patch) {
        stage::PatchOptions opts;
        opts.binary = true;  // an exported patch must apply, binary files included
        if (o.output == "-") {
            stage::patch(cs, s.upper(), project, opts,
                         [](std::string_view piece) { write_all(1, std::string(piece)); });
            return 0;
        }
        if (!o.force && ::access(o.output.c_str(), F_OK) == 0)
            throw Failure(util::quote(o.output) + " exists (--force overwrites it)", exit_refused);
        FILE* f = std::fopen(o.output.c_str(), "w");
        if (f == nullptr) throw sys::SysError("open", o.output, errno);
        bool ok = true;
        try {
            stage::patch(cs, s.upper(), project, opts, [&](std::string_view piece) {
                ok = ok && std::fwrite(piece.data(), 1, piece.size(), f) == piece.size();
            });
        } catch (...) {
            std::fclose(f);
            ::unlink(o.output.c_str());  // half a patch is worse than none
            throw;
        }
        if (std::fclose(f) != 0 || !ok) throw sys::SysError("write", o.output, errno);
        note("wrote a patch of " + std::to_string(cs.size()) + " change(s) to " + o.output);
        return 0;
    }
    stage::Format fmt = stage::Format::from_name;
    if (o.format) {
        fmt = *o.format == "tar" ? stage::Format::tar
              : *o.format == "tar.gz" ? stage::Format::tar_gz
                                      : stage::Format::tar_zst;
    } else {
        try {
            fmt = stage::format_for(o.output);
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--output: ") + e.what() +
                             " (name it .tar, .tar.gz, .tar.zst or .patch, or pass --format)");
        }
    }
    nlohmann::ordered_json meta;
    meta["id"] = s.meta().id;
    util::put_text(meta, "project", project);
    util::put_text_list(meta, "argv", s.meta().argv);
    meta["created"] = s.meta().created;
    meta["status"] = s.meta().status;
    try {
        Progress progress("exporting", cs.size());
        stage::export_archive(cs, s.upper(), o.output, fmt, meta.dump(), o.force,
                              [&](std::size_t done, std::size_t) { progress.update(done); });
    } catch (const sys::SysError& e) {
        if (e.err() == EEXIST)
            throw Failure(util::quote(o.output) + " exists (--force overwrites it)", exit_refused);
        throw;
    }
    note("wrote " + std::to_string(cs.size()) + " change(s) to " + o.output);
    return 0;
}

}  // namespace agentbox::cli
