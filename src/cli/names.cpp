#include "cli/names.hpp"

namespace agentbox::cli {

const char* name_of(profile::NetMode v) {
    switch (v) {
        case profile::NetMode::none: return "none";
        case profile::NetMode::proxy: return "proxy";
        case profile::NetMode::host: return "host";
    }
    return "?";
}

const char* name_of(profile::Unlisted v) {
    switch (v) {
        case profile::Unlisted::deny: return "deny";
        case profile::Unlisted::ask: return "ask";
    }
    return "?";
}

const char* name_of(profile::SeccompMode v) {
    switch (v) {
        case profile::SeccompMode::default_: return "default";
        case profile::SeccompMode::strict: return "strict";
    }
    return "?";
}

const char* name_of(profile::LandlockMode v) {
    switch (v) {
        case profile::LandlockMode::best_effort: return "best-effort";
        case profile::LandlockMode::require: return "require";
        case profile::LandlockMode::off: return "off";
    }
    return "?";
}

const char* name_of(profile::OnExit v) {
    switch (v) {
        case profile::OnExit::ask: return "ask";
        case profile::OnExit::commit: return "commit";
        case profile::OnExit::discard: return "discard";
        case profile::OnExit::keep: return "keep";
    }
    return "?";
}

std::string format_size(std::uint64_t bytes) {
    static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes == 0 || bytes % 1024 != 0) return std::to_string(bytes);
    std::uint64_t n = bytes;
    int unit = -1;
    while (unit < 4 && n % 1024 == 0) {
        n /= 1024;
        ++unit;
    }
    return std::to_string(n) + units[unit];
}

std::string format_duration(std::uint64_t ms) {
    if (ms == 0) return "0s";
    if (ms % 1000 != 0) return std::to_string(ms) + "ms";
    std::uint64_t s = ms / 1000;
    std::string out;
    if (s >= 3600) {
        out += std::to_string(s / 3600) + "h";
        s %= 3600;
    }
    if (s >= 60) {
        out += std::to_string(s / 60) + "m";
        s %= 60;
    }
    if (s > 0) out += std::to_string(s) + "s";
    return out;
}

}  // namespace agentbox::cli
