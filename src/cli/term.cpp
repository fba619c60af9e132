#include "cli/term.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "cli/errors.hpp"
#include "util/escape.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

bool colour_enabled(int fd) {
    // no-color.org: "present and not an empty string" disables colour.
    const char* no = std::getenv("NO_COLOR");
    if (no != nullptr && *no != '\0') return false;
    return ::isatty(fd) == 1;
}

bool colour_wanted(int fd, const std::string& when) {
    if (when == "always" || when.empty()) return true;
    if (when == "never") return false;
    if (when == "auto") return colour_enabled(fd);
    throw UsageError("--color: " + util::quote(when) + " is not one of auto, always, never");
}

std::string paint(int fd, Style style, std::string_view text) {
    return paint_if(colour_enabled(fd), style, text);
}

std::string paint_if(bool on, Style style, std::string_view text) {
    const char* code = nullptr;
    switch (style) {
        case Style::plain: break;
        case Style::bold: code = "1"; break;
        case Style::red: code = "31"; break;
        case Style::green: code = "32"; break;
        case Style::yellow: code = "33"; break;
        case Style::dim: code = "2"; break;
        case Style::cyan: code = "36"; break;
    }
    if (code == nullptr || !on) return std::string(text);
    return std::string("\x1b[") + code + "m" + std::string(text) + "\x1b[0m";
}

// The last line of defence: names in messages are already quoted (util::quote), which leaves
// nothing here to change; anything that slipped through raw (an exception's text, a reason)
// still cannot drive the terminal. Content escaping, so that quoted names are not re-escaped.
namespace {
std::string safe(std::string_view message) { return util::escape_content_for_terminal(message); }
}  // namespace

void warn(std::string_view message) {
    std::cerr << "agentbox: " << paint(2, Style::yellow, "warning:") << ' ' << safe(message)
              << '\n';
}

void note(std::string_view message) { std::cerr << "agentbox: " << safe(message) << '\n'; }

void error(std::string_view message) {
    std::cerr << paint(2, Style::red, "agentbox:") << ' ' << safe(message) << '\n';
}

Progress::Progress(std::string label, std::size_t total, std::size_t min_total)
    : label_(std::move(label)), total_(total), on_(total >= min_total && ::isatty(2) == 1) {}

Progress::~Progress() {
    if (!on_) return;
    static const char clear[] = "\r\033[K";
    if (::write(2, clear, sizeof clear - 1) < 0) return;
}

void Progress::update(std::size_t done) {
    if (!on_) return;
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long now = static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    if (done < total_ && now - last_ms_ < 100) return;
    last_ms_ = now;
    char line[160];
    const int n = std::snprintf(line, sizeof line, "\ragentbox: %s %zu/%zu (%zu%%)", label_.c_str(),
                                done, total_, total_ == 0 ? 100 : done * 100 / total_);
    if (n > 0 && ::write(2, line, static_cast<std::size_t>(std::min(n, 159))) < 0) on_ = false;
}

}  // namespace agentbox::cli
