#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "profile/load.hpp"

using agentbox::profile::parse_duration_ms;
using agentbox::profile::parse_size;

TEST_CASE("parse_size: IEC suffixes are binary, SI suffixes decimal") {
    struct Case {
        const char* text;
        std::optional<std::uint64_t> bytes;
    };
    const Case cases[] = {
        {"0", 0},
        {"1024", 1024},
        {"1024B", 1024},
        {"100k", 100'000},
        {"100K", 100'000},
        {"100KB", 100'000},
        {"1KiB", 1024},
        {"512MiB", 512ULL << 20},
        {"512mib", 512ULL << 20},
        {"2G", 2'000'000'000ULL},
        {"2GB", 2'000'000'000ULL},
        {"4GiB", 4ULL << 30},
        {"4 GiB", 4ULL << 30},
        {"  4GiB  ", 4ULL << 30},
        {"1T", 1'000'000'000'000ULL},
        {"3TiB", 3ULL << 40},
        {"18446744073709551615", 18446744073709551615ULL},
        // Malformed.
        {"", std::nullopt},
        {"GiB", std::nullopt},
        {"-1", std::nullopt},
        {"1.5GiB", std::nullopt},
        {"4 gigs", std::nullopt},
        {"4  GiB", std::nullopt},
        {"4Gi", std::nullopt},
        {"4PiB", std::nullopt},
        {"0x10", std::nullopt},
        // Overflow.
        {"18446744073709551616", std::nullopt},
        {"17179869184GiB", std::nullopt},
        {"99999999999999999999999", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_size(c.text) == c.bytes);
    }
}

TEST_CASE("parse_duration_ms: bare seconds or unit parts from largest to smallest") {
    struct Case {
        const char* text;
        std::optional<std::uint64_t> ms;
    };
    const Case cases[] = {
        {"90", 90'000},
        {"0", 0},
        {"45s", 45'000},
        {"500ms", 500},
        {"30m", 1'800'000},
        {"1h", 3'600'000},
        {"1h30m", 5'400'000},
        {"2m30s", 150'000},
        {"1d", 86'400'000},
        {"1d2h3m4s5ms", 93'784'005},
        {" 30m ", 1'800'000},
        // Malformed.
        {"", std::nullopt},
        {"m", std::nullopt},
        {"30", 30'000},
        {"30 m", std::nullopt},
        {"30min", std::nullopt},
        {"30M", std::nullopt},
        {"1.5h", std::nullopt},
        {"30m1h", std::nullopt},   // out of order
        {"30m30m", std::nullopt},  // repeated unit
        {"1s500", std::nullopt},   // trailing number without unit
        {"-5s", std::nullopt},
        // Overflow.
        {"18446744073709551615", std::nullopt},
        {"18446744073709551615ms", 18446744073709551615ULL},
        {"213503982334601d", std::nullopt},
        {"18446744073709551615ms1ms", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_duration_ms(c.text) == c.ms);
    }
}
