#include <doctest/doctest.h>

#include "sandbox/linux/child.hpp"
#include "sandbox/linux/mount_paths.hpp"

using namespace agentbox::sandbox::lnx;

TEST_CASE("host paths are reached through the old root while the new root is built") {
    CHECK(host_path("/usr") == "/oldroot/usr");
    CHECK(host_path("/usr/lib/") == "/oldroot/usr/lib");
    CHECK(host_path("/") == "/oldroot/");
}

TEST_CASE("mount targets split into components and refuse dot-dot escapes") {
    std::vector<std::string> c;
    REQUIRE(path_components("/a//b/c", c));
    CHECK(c == std::vector<std::string>{"a", "b", "c"});
    REQUIRE(path_components("/", c));
    CHECK(c.empty());
    CHECK_FALSE(path_components("relative/path", c));
    CHECK_FALSE(path_components("/a/../etc", c));
    CHECK_FALSE(path_components("/a/./b", c));
}

TEST_CASE("tmpfs modes: shared temp dirs are sticky, the home is private") {
    CHECK(std::string(tmpfs_mode("/tmp", "/home/u")) == "1777");
    CHECK(std::string(tmpfs_mode("/var/tmp", "/home/u")) == "1777");
    CHECK(std::string(tmpfs_mode("/home/u", "/home/u")) == "0700");
    CHECK(std::string(tmpfs_mode("/home/u/.cache", "/home/u")) == "0755");
}

TEST_CASE("a project path cannot inject overlay layers or options") {
    CHECK(overlay_escape("/p/plain") == "/p/plain");
    CHECK(overlay_escape("/p/a:b,upperdir=/x") == "/p/a\\:b\\,upperdir=/x");
    CHECK(overlay_escape("/p/back\\slash") == "/p/back\\\\slash");
}

TEST_CASE("the command is looked up in the sandbox's PATH, not the host's") {
    CHECK(exec_candidates("sh", "/usr/bin:/bin") ==
          std::vector<std::string>{"/usr/bin/sh", "/bin/sh"});
    CHECK(exec_candidates("./run", "/usr/bin") == std::vector<std::string>{"./run"});
    CHECK(exec_candidates("/bin/true", "") == std::vector<std::string>{"/bin/true"});
    // An empty PATH entry means the current directory, as in execvp.
    CHECK(exec_candidates("tool", "/a::/b/") ==
          std::vector<std::string>{"/a/tool", "tool", "/b/tool"});
    CHECK(exec_candidates("", "/usr/bin").empty());
}
