#include <doctest/doctest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/io.hpp"
#include "sys/remove.hpp"
#include "../temp_dir.hpp"

namespace {

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("remove_contents empties a tree with an unreadable directory, keeps the root") {
    const agentbox::test::TempDir tmp("remove");
    const std::string& root = tmp.path();
    REQUIRE(::mkdir((root + "/work").c_str(), 0700) == 0);
    REQUIRE(::mkdir((root + "/work/work").c_str(), 0) == 0);  // what overlayfs leaves behind
    REQUIRE(::mkdir((root + "/a").c_str(), 0700) == 0);
    std::ofstream(root + "/a/file") << "x";
    agentbox::sys::remove_contents(root);
    CHECK(exists(root));
    CHECK_FALSE(exists(root + "/work"));
    CHECK_FALSE(exists(root + "/a"));
    ::rmdir(root.c_str());
}

TEST_CASE("remove_contents never follows a symlink out of the tree") {
    const agentbox::test::TempDir tmp("remove");
    const std::string& root = tmp.path();
    const agentbox::test::TempDir tmp_outside("remove");
    const std::string& outside = tmp_outside.path();
    std::ofstream(outside + "/precious") << "keep me";
    REQUIRE(::symlink(outside.c_str(), (root + "/link").c_str()) == 0);
    agentbox::sys::remove_contents(root);
    CHECK_FALSE(exists(root + "/link"));
    CHECK(exists(outside + "/precious"));
    ::unlink((outside + "/precious").c_str());
    ::rmdir(outside.c_str());
    ::rmdir(root.c_str());
}

TEST_CASE("remove_contents of a missing directory is a no-op; of a file, an error") {
    CHECK_NOTHROW(agentbox::sys::remove_contents("/nonexistent/agentbox/x"));
    CHECK_THROWS_AS(agentbox::sys::remove_contents("/etc/hostname"), agentbox::sys::SysError);
}

TEST_CASE("open_up makes overlayfs' mode-000 leftovers readable and keeps them") {
    const agentbox::test::TempDir tmp("remove");
    const std::string& root = tmp.path();
    REQUIRE(::mkdir((root + "/work").c_str(), 0) == 0);
    REQUIRE(::mkdir((root + "/work/incompat").c_str(), 0) == 0);  // (as root, 0 is no bar)
    std::ofstream(root + "/work/incompat/dirty") << "";
    REQUIRE(::chmod((root + "/work/incompat/dirty").c_str(), 0) == 0);
    REQUIRE(::chmod((root + "/work/incompat").c_str(), 0) == 0);
    REQUIRE(::symlink("/etc/passwd", (root + "/link").c_str()) == 0);
    struct stat before;
    REQUIRE(::stat("/etc/passwd", &before) == 0);

    agentbox::sys::open_up(root);
    struct stat st;
    REQUIRE(::stat((root + "/work").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(::stat((root + "/work/incompat").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(::stat((root + "/work/incompat/dirty").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    // A link's target is never touched.
    REQUIRE(::stat("/etc/passwd", &st) == 0);
    CHECK(st.st_mode == before.st_mode);

    agentbox::sys::remove_contents(root);
    ::rmdir(root.c_str());
}

TEST_CASE("make_dirs creates what is missing, leaves what exists, refuses a file") {
    const agentbox::test::TempDir tmp("remove");
    const std::string& root = tmp.path();
    agentbox::sys::make_dirs(root + "/a/b/c");
    struct stat st;
    REQUIRE(::stat((root + "/a/b/c").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(::chmod((root + "/a").c_str(), 0755) == 0);
    agentbox::sys::make_dirs(root + "/a/b/c");  // all there: nothing changes
    REQUIRE(::stat((root + "/a").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);

    std::ofstream(root + "/file") << "x";
    try {
        agentbox::sys::make_dirs(root + "/file");
        FAIL("a file was taken for a directory");
    } catch (const agentbox::sys::SysError& e) {
        CHECK(e.err() == ENOTDIR);
    }
    CHECK_THROWS_AS(agentbox::sys::make_dirs(root + "/file/sub"), agentbox::sys::SysError);
    agentbox::sys::remove_contents(root);
    ::rmdir(root.c_str());
}

TEST_CASE("write_all writes all of the data, and names the file when it cannot") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    const std::string data(1 << 20, 'x');  // far more than the pipe holds: many writes
    std::size_t got = 0;
    std::thread reader([&] {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(p[0], buf, sizeof buf)) > 0) got += static_cast<std::size_t>(n);
    });
    agentbox::sys::write_all(p[1], data, "pipe");
    ::close(p[1]);
    reader.join();
    ::close(p[0]);
    CHECK(got == data.size());
    try {
        agentbox::sys::write_all(p[1], "x", "closed pipe");
        FAIL("a write to a closed descriptor succeeded");
    } catch (const agentbox::sys::SysError& e) {
        CHECK(e.err() == EBADF);
        CHECK(e.path() == "closed pipe");
    }
}

TEST_CASE("read_dir lists a directory by descriptor, without . and .., leaving it as it was") {
    const agentbox::test::TempDir tmp("remove");
    const std::string& root = tmp.path();
    REQUIRE(::mkdir((root + "/sub").c_str(), 0700) == 0);
    std::ofstream(root + "/file") << "x";
    REQUIRE(::symlink("file", (root + "/link").c_str()) == 0);
    const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    for (int round = 0; round < 2; ++round) {  // the caller's descriptor is not consumed
        std::map<std::string, unsigned char> seen;
        for (const auto& e : agentbox::sys::read_dir(fd, root)) seen[e.name] = e.type;
        CHECK(seen.size() == 3);
        CHECK(seen["sub"] == DT_DIR);
        CHECK(seen["file"] == DT_REG);
        CHECK(seen["link"] == DT_LNK);
    }
    ::close(fd);
    const int path_fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(agentbox::sys::read_dir(path_fd, root).size() == 3);  // O_PATH is enough
    ::close(path_fd);
    CHECK_THROWS_AS(agentbox::sys::read_dir(-1, "nothing"), agentbox::sys::SysError);
    agentbox::sys::remove_contents(root);
    ::rmdir(root.c_str());
}

TEST_CASE("remove_contents removes a tree deeper than any walk bound, like rm -rf") {
    const agentbox::test::TempDir tmp("remove", "/dev/shm");  // 6000 mkdirs, not on a disk
    // Deeper than walk_tree's default bound (4096), made through descriptors: its paths are
    // far longer than PATH_MAX.
    int at = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(at >= 0);
    for (int i = 0; i < 6000; ++i) {
        REQUIRE(::mkdirat(at, "d", 0700) == 0);
        const int sub = ::openat(at, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ::close(at);
        REQUIRE(sub >= 0);
        at = sub;
    }
    std::ofstream(tmp.path() + "/x") << "x";
    REQUIRE(::fchmod(at, 0) == 0);  // the deepest shut: it is opened up on the way
    ::close(at);
    agentbox::sys::remove_contents(tmp.path());
    CHECK(exists(tmp.path()));
    CHECK_FALSE(exists(tmp.path() + "/d"));
    CHECK_FALSE(exists(tmp.path() + "/x"));
}
