// `agentbox diff` and `agentbox export`: the staged change set rendered (DESIGN.md §5).
#pragma once

#include <optional>
#include <string>
#include <vector>

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
};

struct ExportOptions {
    std::vector<std::string> args;  // [SESSION]
    std::optional<std::string> session;
    std::optional<std::string> project;
    std::string output;
    std::optional<std::string> format;  // tar | tar.gz | tar.zst | patch
    bool force = false;
};

CLI::App* register_diff(CLI::App& app, DiffOptions& o);
CLI::App* register_export(CLI::App& app, ExportOptions& o);
int run_diff(const DiffOptions& o);
int run_export(const ExportOptions& o);

// Text through the user's pager when stdout is a terminal ($AGENTBOX_PAGER, $PAGER,
// less -FRX), else written as it is.
void page(const std::string& text, bool no_pager = false);

}  // namespace agentbox::cli
