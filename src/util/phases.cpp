#include "util/phases.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace agentbox::util::phases {

namespace {

struct Point {
    const char* name;
    long long ns;
};
Point points[32];
int count = 0;
int enabled = -1;  // not read yet

}  // namespace

void mark(const char* name) noexcept {
    if (enabled < 0) enabled = std::getenv("AGENTBOX_PHASES") != nullptr ? 1 : 0;
    if (enabled == 0 || count == static_cast<int>(sizeof points / sizeof points[0])) return;
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    points[count++] = {name, ts.tv_sec * 1000000000LL + ts.tv_nsec};
}

void report() noexcept {
    for (int i = 0; i < count; ++i)
        std::fprintf(stderr, "agentbox-phase %s %lld\n", points[i].name, points[i].ns);
    count = 0;
}

}  // namespace agentbox::util::phases
