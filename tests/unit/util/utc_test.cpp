// utc_fields must agree with the C library's gmtime_r, which it replaces.
#include "util/utc.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <vector>

using agentbox::util::utc_fields;

TEST_CASE("utc_fields agrees with gmtime_r from 1970 to 2200, leap days and year ends included") {
    // A prime step through two and a half centuries, plus the edges that catch off-by-ones.
    std::vector<std::time_t> ts{0,
                                59,
                                86399,
                                86400,
                                951782400 /* 2000-02-29 */,
                                951868799,
                                4102444799 /* 2099-12-31T23:59:59 */,
                                4107542400};
    for (std::time_t t = 0; t < 7258118400; t += 7919 * 3607) ts.push_back(t);
    for (const std::time_t t : ts) {
        CAPTURE(t);
        std::tm tm{};
        REQUIRE(::gmtime_r(&t, &tm) != nullptr);
        const auto u = utc_fields(t);
        CHECK(u.year == tm.tm_year + 1900);
        CHECK(u.month == tm.tm_mon + 1);
        CHECK(u.day == tm.tm_mday);
        CHECK(u.hour == tm.tm_hour);
        CHECK(u.minute == tm.tm_min);
        CHECK(u.second == tm.tm_sec);
    }
}
