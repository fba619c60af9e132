// Messages on the user's terminal: agentbox's own output goes to stderr (stdout belongs to the
// command, or to what a command was asked to print), coloured only when that stream is a
// terminal and NO_COLOR is unset (https://no-color.org).
#pragma once

#include <string>
#include <string_view>

namespace agentbox::cli {

enum class Style { plain, bold, red, green, yellow, dim };

// Whether output on `fd` may use colour.
bool colour_enabled(int fd);

// `text` wrapped in the escape sequences for `style` when colour is enabled on `fd`.
std::string paint(int fd, Style style, std::string_view text);

// "agentbox: warning: MESSAGE", "agentbox: MESSAGE" (note), and "agentbox: MESSAGE" with the
// prefix in red (error), on stderr.
void warn(std::string_view message);
void note(std::string_view message);
void error(std::string_view message);

}  // namespace agentbox::cli
