#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

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

// The mechanism a delegated scope needs, on whatever controller this host's cgroup v2 has:
// a cgroup holding a process cannot hand a controller to its children until the process has
// moved into a leaf. Root only (making the cgroup); skipped where there is no v2 controller.
TEST_CASE("controllers are handed down from a cgroup that holds processes, via a leaf") {
    if (::geteuid() != 0) return;
    std::string mount;
    {
        std::ifstream m("/proc/self/mounts");
        std::string dev, point, type, rest;
        while (m >> dev >> point >> type && std::getline(m, rest))
            if (type == "cgroup2") mount = point;
    }
    if (mount.empty()) return;
    std::string controller;
    bool lent = false;  // enabled at the root for this test only
    {
        std::ifstream c(mount + "/cgroup.subtree_control");
        c >> controller;  // one the root already hands down, so our child has it
    }
    if (controller.empty()) {
        std::ifstream c(mount + "/cgroup.controllers");
        c >> controller;
        if (controller.empty()) return;
        std::ofstream(mount + "/cgroup.subtree_control") << "+" << controller;
        lent = true;
    }
    const std::string d = mount + "/agentbox-unit-" + std::to_string(::getpid());
    REQUIRE(::mkdir(d.c_str(), 0755) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    {
        std::ofstream procs(d + "/cgroup.procs");
        procs << child;
    }
    CHECK_NOTHROW(agentbox::sandbox::lnx::enable_controllers(d, {controller}));
    std::ifstream control(d + "/cgroup.subtree_control");
    std::string enabled;
    control >> enabled;
    CHECK(enabled == controller);
    std::ifstream leaf(d + "/agentbox-leaf/cgroup.procs");
    pid_t moved = 0;
    leaf >> moved;
    CHECK(moved == child);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::rmdir((d + "/agentbox-leaf").c_str());
    ::rmdir(d.c_str());
    if (lent) std::ofstream(mount + "/cgroup.subtree_control") << "-" << controller;
}
