#include "cli/diff_cmd.hpp"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include "stage/select.hpp"
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

std::string PatchColour::line_of(std::string_view line) {
    // Header lines until a hunk starts; in a hunk, a line's first character says what it is
    // (a removed line reading "--- x" is content there, not a header).
    if (line.starts_with("diff --git ")) in_hunk_ = false;
    if (line.starts_with("@@")) {
        in_hunk_ = true;
        return paint_if(true, Style::cyan, line);
    }
    if (!in_hunk_) return paint_if(true, Style::bold, line);
    if (line.starts_with('+')) return paint_if(true, Style::green, line);
    if (line.starts_with('-')) return paint_if(true, Style::red, line);
    return std::string(line);
}

std::string PatchColour::feed(std::string_view piece) {
    std::string out;
    held_.append(piece);
    std::size_t start = 0;
    for (std::size_t nl; (nl = held_.find('\n', start)) != std::string::npos; start = nl + 1)
        out += line_of(std::string_view(held_).substr(start, nl - start)) + "\n";
    held_.erase(0, start);
    return out;
}

std::string PatchColour::finish() {
    std::string out = held_.empty() ? std::string() : line_of(held_);
    held_.clear();
    return out;
}

std::string colour_stat(const std::string& stat) {
    std::string out;
    for (std::size_t start = 0; start < stat.size();) {
        std::size_t nl = stat.find('\n', start);
        if (nl == std::string::npos) nl = stat.size();
        const std::string_view line = std::string_view(stat).substr(start, nl - start);
        // The graph follows the last '|': a file name may hold one, the graph may not.
        // The graph follows the last '|' (a file name may hold one) and a count: " 12 ++--".
        // Anything else there ("Bin 0 -> 12 bytes") is left as it is.
        const std::size_t bar = line.rfind('|');
        std::size_t graph = bar == std::string_view::npos ? line.size() : bar + 1;
        while (graph < line.size() && line[graph] == ' ') ++graph;
        const std::size_t digits = graph;
        while (graph < line.size() && line[graph] >= '0' && line[graph] <= '9') ++graph;
        const bool is_graph = graph > digits && line.find_first_not_of("+- ", graph) == std::string_view::npos;
        if (!is_graph) {
            out += line;
        } else {
            out += line.substr(0, graph);
            for (std::size_t i = graph; i < line.size();) {
                const char c = line[i];
                std::size_t j = i + 1;
                if (c == '+' || c == '-') {
                    while (j < line.size() && line[j] == c) ++j;
                    out += paint_if(true, c == '+' ? Style::green : Style::red,
                                    line.substr(i, j - i));
                } else {
                    out += c;
                }
                i = j;
            }
        }
        if (nl < stat.size()) out += '\n';
        start = nl + 1;
    }
    return out;
}

void show_patch(const std::vector<stage::Change>& cs, const std::string& upper,
                const std::string& project, const stage::PatchOptions& opts, bool no_pager,
                bool colour, const std::string& before) {
    Pager out(no_pager);
    out.write(before);
    // Raw bytes to a pipe or file (git apply needs them); on a terminal, or in colour, nothing
    // in a file's content may drive the terminal, and each escape is marked (reverse video)
    // when colour is on, so that it cannot be mistaken for the same letters in the file.
    const bool escaped = colour || ::isatty(1) == 1;
    const std::string_view on = colour ? "\x1b[7m" : "", off = colour ? "\x1b[27m" : "";
    PatchColour painter;
    try {
        stage::patch(cs, upper, project, opts, [&](std::string_view piece) {
            const std::string safe =
                escaped ? util::escape_content_for_terminal(piece, on, off) : std::string(piece);
            out.write(colour ? painter.feed(safe) : safe);
            if (out.gone()) throw ReaderGone{};
        });
        if (colour) out.write(painter.finish());
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

int run_diff(const DiffOptions& o) {
    const bool colour = colour_wanted(1, o.color);
    const auto target = stage_args::split(o.session, o.args);
    stage::Session s = stage_args::open_session(o.project, target.session);
    const std::string& project = s.meta().project;
    stage::recover(s);
    std::vector<std::string> paths;
    for (const auto& p : target.paths) paths.push_back(project_path(p, project));
    // Only --json and the patch show content hashes; name-status and stat need none, and then
    // a file's content is read only where its kind depends on it.
    const stage::Hashes hashes = o.name_status || o.stat ? stage::Hashes::none : stage::Hashes::all;
    const auto cs = select(stage::changes(s, project, hashes), paths);

    // What each branch the session moves brings (its commits and their paths), which the
    // change set shows only as a new hash; not in --name-status, one line per change.
    const auto moves = o.name_status ? std::vector<stage::BranchMove>{}
                                     : stage::branch_moves(project, s.upper(), cs);
    if (o.json) {
        // Like git's --name-status, every deleted file is listed, not just its directory.
        page(stage::to_json(stage::with_deleted_entries(cs, project), &moves), true);
    } else if (o.name_status) {
        page(stage::name_status(stage::with_deleted_entries(cs, project)), true);
    } else if (o.stat) {
        const std::string stat =
            stage::stat(cs, s.upper(), project, ::isatty(1) == 1 ? terminal_width() : 80);
        page(stage::branch_moves_text(moves) + (colour ? colour_stat(stat) : stat), o.no_pager);
    } else {
        stage::PatchOptions opts;
        // DESIGN.md §2: the default patch is one `git apply` accepts, so binary and large
        // files carry their data whenever the patch goes anywhere but a terminal. The moved
        // branches come first: git apply skips what precedes the first `diff --git`.
        opts.binary = o.binary || ::isatty(1) != 1;
        show_patch(cs, s.upper(), project, opts, o.no_pager, colour,
                   stage::branch_moves_text(moves));
    }
    return 0;
}

int run_export(const ExportOptions& o) {
    const bool to_stdout = o.output == "-";
    // Standard output carries the export itself; the JSON report would corrupt it.
    if (to_stdout && o.json)
        throw UsageError("export: --json reports on a file; with -o - standard output is the export");
    const std::string id = o.session ? *o.session : o.args.empty() ? "" : o.args[0];
    stage::Session s = stage_args::open_session(o.project, id);
    const std::string& project = s.meta().project;
    stage::recover(s);
    const auto cs = stage::changes(s, project);
    // The format: --format, else the file's suffix; standard output has no name, and gets
    // the patch it always got.
    std::string format;
    if (o.format) {
        format = *o.format;
    } else if (to_stdout || o.output.ends_with(".patch") || o.output.ends_with(".diff")) {
        format = "patch";
    } else {
        try {
            const stage::Format f = stage::format_for(o.output);
            format = f == stage::Format::tar ? "tar" : f == stage::Format::tar_gz ? "tar.gz" : "tar.zst";
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--output: ") + e.what() +
                             " (name it .tar, .tar.gz, .tar.zst or .patch, or pass --format)");
        }
    }
    const auto report = [&] {
        note("wrote " + std::to_string(cs.size()) + " change(s) of session " + s.meta().id +
             " to " + (to_stdout ? std::string("standard output") : util::quote(o.output)) +
             " (" + format + ")");
        if (!o.json) return;
        nlohmann::ordered_json j;
        j["session"] = s.meta().id;
        j["outcome"] = "exported";
        util::put_text(j, "output", o.output);
        j["format"] = format;
        j["count"] = cs.size();
        std::cout << stage_args::json_line(j) << std::flush;
    };
    if (format == "patch") {
        stage::PatchOptions opts;
        opts.binary = true;  // an exported patch must apply, binary files included
        if (to_stdout) {
            stage::patch(cs, s.upper(), project, opts,
                         [](std::string_view piece) { write_all(1, std::string(piece)); });
            report();
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
        report();
        return 0;
    }
    const stage::Format fmt = format == "tar"      ? stage::Format::tar
                              : format == "tar.gz" ? stage::Format::tar_gz
                                                   : stage::Format::tar_zst;
    // As tar does: an archive is not for a terminal's eyes, and its bytes could drive it.
    if (to_stdout && ::isatty(1) == 1)
        throw UsageError("export: refusing to write a " + format +
                         " archive to a terminal (redirect standard output, or -o FILE)");
    nlohmann::ordered_json meta;
    meta["id"] = s.meta().id;
    util::put_text(meta, "project", project);
    util::put_text_list(meta, "argv", s.meta().argv);
    meta["created"] = s.meta().created;
    meta["status"] = s.meta().status;
    try {
        Progress progress("exporting", cs.size());
        const auto step = [&](std::size_t done, std::size_t) { progress.update(done); };
        if (to_stdout)
            stage::export_archive_fd(cs, s.upper(), 1, "standard output", fmt, meta.dump(), step);
        else
            stage::export_archive(cs, s.upper(), o.output, fmt, meta.dump(), o.force, step);
    } catch (const sys::SysError& e) {
        if (e.err() == EEXIST)
            throw Failure(util::quote(o.output) + " exists (--force overwrites it)", exit_refused);
        throw;
    }
    report();
    return 0;
}

}  // namespace agentbox::cli
