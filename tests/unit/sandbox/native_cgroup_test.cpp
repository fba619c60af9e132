#include <doctest/doctest.h>

#include "sandbox/linux/cgroup.hpp"

using agentbox::sandbox::lnx::own_cgroup;

TEST_CASE("the supervisor's own cgroup is found per controller in /proc/self/cgroup") {
    const std::string text =
        "9:name=systemd:/\n8:pids:/user.slice\n4:memory:/a/b:c\n2:cpu,cpuacct:/x\n0::/v2/path\n";
    CHECK(own_cgroup(text, "pids") == "/user.slice");
    CHECK(own_cgroup(text, "memory") == "/a/b:c");
    CHECK(own_cgroup(text, "cpuacct") == "/x");
    CHECK(own_cgroup(text, "") == "/v2/path");
    CHECK(own_cgroup(text, "blkio").empty());
}
