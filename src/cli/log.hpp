// `agentbox log [SESSION|FILE] [--json] [--follow] [--verify]` (DESIGN.md §7): read a session's
// decision log as text (colour on a terminal), as its raw JSON lines, follow it during a run, or
// verify its chain and signatures. Exit 0, 1 when the log does not verify or cannot be read,
// 2 for usage.
#pragma once

#include <optional>
#include <string>

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
};

CLI::App* register_log(CLI::App& app, LogOptions& opts);
int run_log(const LogOptions& opts);

// One log line as text: "HH:MM:SS.mmm #seq event key=value ...", values escaped for the
// terminal, the envelope left out. `colour` paints the event name. Pure.
std::string format_event_line(const std::string& line, bool colour);

}  // namespace agentbox::cli
