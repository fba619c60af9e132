// Sizes and durations as people write them in profiles ("4GiB", "1h30m").
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "profile/load.hpp"
#include "util/strings.hpp"

namespace agentbox::profile {

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of decimal digits from the front of `s`. nullopt when there is none or it
// does not fit in 64 bits.
std::optional<std::uint64_t> take_number(std::string_view& s) {
    if (s.empty() || !is_digit(s.front())) return std::nullopt;
    std::uint64_t n = 0;
    while (!s.empty() && is_digit(s.front())) {
        const auto d = static_cast<std::uint64_t>(s.front() - '0');
        if (n > (kMax - d) / 10) return std::nullopt;
        n = n * 10 + d;
        s.remove_prefix(1);
    }
    return n;
}

std::optional<std::uint64_t> times(std::uint64_t a, std::uint64_t b) {
    if (b != 0 && a > kMax / b) return std::nullopt;
    return a * b;
}

}  // namespace

// Units follow the convention of coreutils, systemd and Kubernetes: the IEC suffixes
// KiB/MiB/GiB/TiB are powers of 1024; bare K/M/G/T and KB/MB/GB/TB are powers of 1000.
// Letters are case-insensitive ("100k", "2g"), "B" alone means bytes, a number alone means
// bytes, and one space may separate number and unit. Fractions are not accepted: "1.5GiB"
// is rejected rather than rounded, so the limit enforced is exactly the one written.
std::optional<std::uint64_t> parse_size(std::string_view s) {
    s = util::trim(s);
    auto n = take_number(s);
    if (!n) return std::nullopt;
    if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    const std::string unit = util::to_lower(s);
    struct Unit {
        const char* name;
        std::uint64_t mult;
    };
    static constexpr Unit kUnits[] = {
        {"", 1},
        {"b", 1},
        {"k", 1000ULL},
        {"kb", 1000ULL},
        {"m", 1000ULL * 1000},
        {"mb", 1000ULL * 1000},
        {"g", 1000ULL * 1000 * 1000},
        {"gb", 1000ULL * 1000 * 1000},
        {"t", 1000ULL * 1000 * 1000 * 1000},
        {"tb", 1000ULL * 1000 * 1000 * 1000},
        {"kib", 1ULL << 10},
        {"mib", 1ULL << 20},
        {"gib", 1ULL << 30},
        {"tib", 1ULL << 40},
    };
    for (const auto& u : kUnits)
        if (unit == u.name) return times(*n, u.mult);
    return std::nullopt;
}

// A duration is either a bare number of seconds ("90") or a sequence of number+unit parts
// from largest to smallest, each unit at most once: "1d", "1h30m", "2m30s", "500ms".
// Units are lower case only: "M" could be read as months.
std::optional<std::uint64_t> parse_duration_ms(std::string_view s) {
    s = util::trim(s);
    if (s.empty()) return std::nullopt;
    bool all_digits = true;
    for (char c : s) all_digits = all_digits && is_digit(c);
    if (all_digits) {
        auto n = take_number(s);
        return n ? times(*n, 1000) : std::nullopt;
    }
    struct Unit {
        std::string_view name;
        std::uint64_t ms;
    };
    // Ordered largest first; "ms" before "m" so that the longer suffix is tried first at the
    // same rank.
    static constexpr Unit kUnits[] = {
        {"d", 86'400'000ULL}, {"h", 3'600'000ULL}, {"ms", 1ULL}, {"m", 60'000ULL}, {"s", 1'000ULL},
    };
    auto rank = [](std::string_view u) -> int {
        if (u == "d") return 0;
        if (u == "h") return 1;
        if (u == "m") return 2;
        if (u == "s") return 3;
        return 4;  // ms
    };
    std::uint64_t total = 0;
    int last_rank = -1;
    while (!s.empty()) {
        auto n = take_number(s);
        if (!n) return std::nullopt;
        const Unit* found = nullptr;
        for (const auto& u : kUnits) {
            if (util::starts_with(s, u.name)) {
                found = &u;
                break;
            }
        }
        if (found == nullptr) return std::nullopt;
        s.remove_prefix(found->name.size());
        const int r = rank(found->name);
        if (r <= last_rank) return std::nullopt;
        last_rank = r;
        auto part = times(*n, found->ms);
        if (!part || *part > kMax - total) return std::nullopt;
        total += *part;
    }
    return total;
}

}  // namespace agentbox::profile
