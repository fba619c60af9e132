// util::format_size and format_duration: the one writer of sizes and durations, for
// `profile show`, the Plan rendering and the Windows plan.
#include "util/units.hpp"

#include <doctest/doctest.h>

using namespace agentbox::util;

TEST_CASE("format_size picks the largest binary unit that divides exactly") {
    CHECK(format_size(0) == "0");
    CHECK(format_size(1536) == "1536");
    CHECK(format_size(2048) == "2KiB");
    CHECK(format_size(4ull << 30) == "4GiB");
    CHECK(format_size(3ull << 50) == "3PiB");
    CHECK(format_size(1ull << 60) == "1024PiB");
    // The plan rendering's spelling: a count of bytes says so.
    CHECK(format_size(0, "B") == "0B");
    CHECK(format_size(1536, "B") == "1536B");
    CHECK(format_size(512ull << 20, "B") == "512MiB");
}

TEST_CASE("format_duration writes h, m, s, or ms when not whole seconds") {
    CHECK(format_duration(0) == "0s");
    CHECK(format_duration(1500) == "1500ms");
    CHECK(format_duration(5400000) == "1h30m");
    CHECK(format_duration(3601000) == "1h1s");
    CHECK(format_duration(60000) == "1m");
}
