// `agentbox diff` and `agentbox export`: the staged change set rendered (DESIGN.md §5).
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stage/changes.hpp"
#include "stage/patch.hpp"

namespace CLI {
class App;
}

namespace agentbox::cli {

struct DiffOptions {
    std::vector<std::string> args;  // [SESSION] [PATH...]
    std::optional<std::string> session;
    std::optional<std::string> project;
    bool stat = false;
    bool name_status = false;
    bool json = false;
    bool binary = false;
    bool no_pager = false;
    std::string color = "auto";  // --color=auto|always|never
};

struct ExportOptions {
    std::vector<std::string> args;  // [SESSION]
    std::optional<std::string> session;
    std::optional<std::string> project;
    std::string output;
    std::optional<std::string> format;  // tar | tar.gz | tar.zst | patch
    bool force = false;
    bool json = false;
};

CLI::App* register_diff(CLI::App& app, DiffOptions& o);
CLI::App* register_export(CLI::App& app, ExportOptions& o);
int run_diff(const DiffOptions& o);
int run_export(const ExportOptions& o);

// Standard output, through the user's pager when it is a terminal ($AGENTBOX_PAGER, $PAGER,
// less -FRX). A reader that has gone (EPIPE) is not an error: gone() says so and later writes
// are dropped.
class Pager {
public:
    explicit Pager(bool no_pager = false);
    ~Pager();
    Pager(const Pager&) = delete;
    Pager& operator=(const Pager&) = delete;
    void write(std::string_view text);
    bool gone() const { return gone_; }

private:
    FILE* pipe_ = nullptr;
    int fd_ = 1;
    bool gone_ = false;
    void (*old_sigpipe_)(int) = nullptr;
};

// Text through a Pager.
void page(const std::string& text, bool no_pager = false);

// The patch of `cs` on standard output, a file at a time (memory does not grow with the size
// of the change set's files): through the pager and escaped for the terminal
// (util::escape_content_for_terminal) when it is one, as it is otherwise.
// `colour`: headers bold, hunk lines cyan, added lines green, removed red, as git does; a
// coloured patch is for reading, so its content is escaped as on a terminal. `before` is
// written first, as it is (already escaped: stage::branch_moves_text).
void show_patch(const std::vector<stage::Change>& cs, const std::string& upper,
                const std::string& project, const stage::PatchOptions& opts, bool no_pager,
                bool colour, const std::string& before = "");

// A unified patch with colour added, fed in pieces that need not end at line ends. Pure.
class PatchColour {
public:
    // The coloured text of the whole lines in `piece` (and of what was held from before);
    // the last unfinished line is held for the next call.
    std::string feed(std::string_view piece);
    // What is still held, coloured.
    std::string finish();

private:
    std::string line_of(std::string_view line);
    std::string held_;
    bool in_hunk_ = false;
};

// A diffstat's graph (the +/- after each '|') in green and red. Pure.
std::string colour_stat(const std::string& stat);

}  // namespace agentbox::cli
