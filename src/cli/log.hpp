// `agentbox log [SESSION|FILE] [--json] [--follow] [--verify] [--export otlp URL]` (DESIGN.md §7): read a session's
// decision log as text (colour on a terminal), as its raw JSON lines, follow it during a run, or
// verify its chain and signatures. Exit 0, 1 when the log does not verify or cannot be read,
// 2 for usage.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace agentbox::cli {

struct LogOptions {
    std::string session;                 // id, unique prefix, or a path with a '/'; "" = newest
    std::optional<std::string> project;  // -C: whose newest session
    bool json = false;
    bool follow = false;
    bool verify = false;
    bool no_pager = false;
    bool full = false;  // lists (a commit's paths) in full, not as a count
    std::vector<std::string> export_to;  // --export otlp URL
};

CLI::App* register_log(CLI::App& app, LogOptions& opts);
int run_log(const LogOptions& opts);

// One log line as text: "HH:MM:SS.mmm #seq event key=value ...", values escaped for the
// terminal, the envelope left out. `colour` paints the event name. A list longer than
// `list_limit` (0: no limit) is shown as its count and first items: a commit of 5,000 paths
// is one readable line. Pure.
inline constexpr std::size_t kLogListLimit = 10;
std::string format_event_line(const std::string& line, bool colour,
                              std::size_t list_limit = kLogListLimit);

}  // namespace agentbox::cli
