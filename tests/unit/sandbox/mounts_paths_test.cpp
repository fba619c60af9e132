#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "../temp_dir.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/mount_api.hpp"
#include "sandbox/linux/mount_paths.hpp"

using namespace agentbox::sandbox::lnx;

TEST_CASE("host paths are reached through the old root while the new root is built") {
    const std::string old(kOldRoot);
    CHECK(host_path("/usr") == old + "/usr");
    CHECK(host_path("/usr/lib/") == old + "/usr/lib");
    CHECK(host_path("/") == old + "/");
}

TEST_CASE("the build directory is refused as a target, and only it") {
    const std::string build(kBuildDir);
    CHECK(in_build_dir(build));
    CHECK(in_build_dir(build + "/host/etc"));
    CHECK(in_build_dir("//" + build.substr(1) + "/empty"));
    CHECK_FALSE(in_build_dir(build + "x"));
    CHECK_FALSE(in_build_dir("/usr" + build));
    CHECK_FALSE(in_build_dir("/"));
    CHECK_FALSE(in_build_dir(""));
    CHECK(kOldRoot.substr(0, kBuildDir.size() + 1) == build + "/");
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

// open_target opens a target that is all there in one lookup, and one to be made from its
// parent: a symlink anywhere on the way, or at the end, must still be refused as the
// component-by-component walk refuses it, and nothing made outside the root.
TEST_CASE("a symlink planted deep in a mount target is refused by every path of open_target") {
    namespace fs = std::filesystem;
    agentbox::test::TempDir root_dir("mnt-root");
    agentbox::test::TempDir outside("mnt-outside");
    const std::string r = root_dir.path();
    fs::create_directories(r + "/a/b/real/d");
    fs::create_directories(outside.path() + "/d");
    std::ofstream(outside.path() + "/d/file") << "host\n";
    std::ofstream(r + "/a/b/real/d/file") << "inside\n";
    fs::create_directory_symlink(outside.path(), r + "/a/b/c");
    fs::create_symlink(outside.path() + "/d/file", r + "/a/b/link");
    fs::create_directory_symlink(outside.path() + "/d", r + "/a/b/dirlink");
    const int root = ::open(r.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(root >= 0);
    StepError e;
    auto refused = [&](const char* path, Want want, bool create) {
        e = StepError{};
        const int fd = open_target(root, path, want, create, "test", e);
        if (fd >= 0) ::close(fd);
        return fd < 0 ? e.err : 0;
    };
    // In the middle: existing below it, to be made below it, a file below it.
    CHECK(refused("/a/b/c/d", Want::dir, false) == ELOOP);
    CHECK(refused("/a/b/c/d", Want::dir, true) == ELOOP);
    CHECK(refused("/a/b/c/d/new/deeper", Want::dir, true) == ELOOP);
    CHECK(refused("/a/b/c/d/file", Want::file, false) == ELOOP);
    CHECK(refused("/a/b/c/d/newfile", Want::file, true) == ELOOP);
    // At the end, as a file or a directory.
    CHECK(refused("/a/b/link", Want::file, false) == ELOOP);
    CHECK(refused("/a/b/link", Want::file, true) == ELOOP);
    CHECK(refused("/a/b/dirlink", Want::dir, false) == ELOOP);
    CHECK(refused("/a/b/dirlink", Want::dir, true) == ELOOP);
    // The wrong type, there already.
    CHECK(refused("/a/b/real/d/file", Want::dir, true) == ENOTDIR);
    CHECK(refused("/a/b/real/d", Want::file, true) == EISDIR);
    CHECK(refused("/a/b/real/d/file/x", Want::dir, true) == ENOTDIR);
    // Nothing was made through the links.
    CHECK_FALSE(fs::exists(outside.path() + "/d/new"));
    CHECK_FALSE(fs::exists(outside.path() + "/d/newfile"));
    // What is there, or may be made, is opened, and is what was asked for.
    CHECK(refused("/a/b/real/d", Want::dir, false) == 0);
    CHECK(refused("/a/b/real/d/file", Want::file, false) == 0);
    CHECK(refused("/a/b/real/d/made/here", Want::dir, true) == 0);
    CHECK(fs::is_directory(r + "/a/b/real/d/made/here"));
    CHECK(refused("/a/b/real/d/made/f", Want::file, true) == 0);
    CHECK(fs::is_regular_file(r + "/a/b/real/d/made/f"));
    CHECK(refused("/a/absent/x", Want::dir, false) == ENOENT);
    ::close(root);
}
