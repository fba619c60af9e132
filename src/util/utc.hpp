// UTC calendar fields of a time_t, computed here rather than by gmtime_r: glibc's gmtime_r
// loads the time zone (/etc/localtime, seven syscalls) on its first call in a process, which
// is a measurable part of a sandbox's start. Timestamps in sessions and logs are UTC only.
#pragma once

#include <chrono>
#include <ctime>

namespace agentbox::util {

struct UtcTime {
    int year, month, day;  // month 1-12, day 1-31
    int hour, minute, second;
};

inline UtcTime utc_fields(std::time_t t) {
    using namespace std::chrono;
    const sys_seconds s{seconds{t}};
    const sys_days d = floor<days>(s);
    const year_month_day ymd{d};
    const hh_mm_ss<seconds> hms{s - d};
    return {static_cast<int>(ymd.year()),
            static_cast<int>(static_cast<unsigned>(ymd.month())),
            static_cast<int>(static_cast<unsigned>(ymd.day())),
            static_cast<int>(hms.hours().count()),
            static_cast<int>(hms.minutes().count()),
            static_cast<int>(hms.seconds().count())};
}

}  // namespace agentbox::util
