#include "util/units.hpp"

namespace agentbox::util {

std::string format_size(std::uint64_t bytes, std::string_view bytes_unit) {
    static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes == 0 || bytes % 1024 != 0) return std::to_string(bytes) + std::string(bytes_unit);
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

}  // namespace agentbox::util
