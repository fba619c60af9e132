#include "cli/term.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace agentbox::cli {

bool colour_enabled(int fd) {
    // no-color.org: "present and not an empty string" disables colour.
    const char* no = std::getenv("NO_COLOR");
    if (no != nullptr && *no != '\0') return false;
    return ::isatty(fd) == 1;
}

std::string paint(int fd, Style style, std::string_view text) {
    const char* code = nullptr;
    switch (style) {
        case Style::plain: break;
        case Style::bold: code = "1"; break;
        case Style::red: code = "31"; break;
        case Style::green: code = "32"; break;
        case Style::yellow: code = "33"; break;
        case Style::dim: code = "2"; break;
    }
    if (code == nullptr || !colour_enabled(fd)) return std::string(text);
    return std::string("\x1b[") + code + "m" + std::string(text) + "\x1b[0m";
}

void warn(std::string_view message) {
    std::cerr << "agentbox: " << paint(2, Style::yellow, "warning:") << ' ' << message << '\n';
}

void note(std::string_view message) { std::cerr << "agentbox: " << message << '\n'; }

void error(std::string_view message) {
    std::cerr << paint(2, Style::red, "agentbox:") << ' ' << message << '\n';
}

}  // namespace agentbox::cli
