// Messages on the user's terminal: agentbox's own output goes to stderr (stdout belongs to the
// command, or to what a command was asked to print), coloured only when that stream is a
// terminal and NO_COLOR is unset (https://no-color.org).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agentbox::cli {

enum class Style { plain, bold, red, green, yellow, dim, cyan };

// Whether output on `fd` may use colour.
bool colour_enabled(int fd);

// --color=WHEN: "always" (or "" for a bare --color, as git), "never", "auto" (colour_enabled).
// Throws UsageError for anything else, naming the choices.
bool colour_wanted(int fd, const std::string& when);

// `text` in `style` when `on`, plain otherwise.
std::string paint_if(bool on, Style style, std::string_view text);

// `text` wrapped in the escape sequences for `style` when colour is enabled on `fd`.
std::string paint(int fd, Style style, std::string_view text);

// "agentbox: warning: MESSAGE", "agentbox: MESSAGE" (note), and "agentbox: MESSAGE" with the
// prefix in red (error), on stderr.
void warn(std::string_view message);
void note(std::string_view message);
void error(std::string_view message);

// "agentbox: committing 1200/10000 (12%)" on one line of stderr, redrawn at most ten times a
// second, for long commits and exports. Only on a terminal and only for `total` of at least
// `min_total` items; the line is cleared when done, so the messages that follow stand alone.
class Progress {
public:
    Progress(std::string label, std::size_t total, std::size_t min_total = 500);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void update(std::size_t done);

private:
    std::string label_;
    std::size_t total_;
    bool on_ = false;
    long long last_ms_ = 0;
};

}  // namespace agentbox::cli
