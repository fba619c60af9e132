// sys::open_beneath: the one openat2 RESOLVE_BENEATH wrapper. What the command plants in a tree
// agentbox reads back -- "..", an absolute link, a link to a parent -- never leads out of it.
#include "sys/beneath.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "sys/fd.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;

TEST_CASE("open_beneath opens what is beneath and refuses every way out of the tree") {
    const test::TempDir tmp("beneath");
    REQUIRE(::mkdir((tmp / "tree").c_str(), 0700) == 0);
    REQUIRE(::mkdir((tmp / "tree/sub").c_str(), 0700) == 0);
    std::ofstream(tmp / "tree/sub/file") << "in";
    std::ofstream(tmp / "secret") << "out";
    REQUIRE(::symlink("../secret", (tmp / "tree/up").c_str()) == 0);
    REQUIRE(::symlink((tmp / "secret").c_str(), (tmp / "tree/abs").c_str()) == 0);
    REQUIRE(::symlink("sub/file", (tmp / "tree/inside").c_str()) == 0);
    const sys::unique_fd root(::open((tmp / "tree").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(root);

    const sys::unique_fd file(sys::open_beneath(root.get(), "sub/file", O_RDONLY));
    CHECK(file);
    CHECK((::fcntl(file.get(), F_GETFD) & FD_CLOEXEC) != 0);  // always added
    const sys::unique_fd self(sys::open_beneath(root.get(), "", O_PATH | O_DIRECTORY));
    CHECK(self);  // "" is the directory itself

    for (const char* escape : {"../secret", "sub/../../secret", "up", "abs", "inside"}) {
        CAPTURE(escape);
        errno = 0;
        CHECK(sys::open_beneath(root.get(), escape, O_RDONLY) < 0);
        CHECK((errno == EXDEV || errno == ELOOP));
    }
    CHECK(sys::open_beneath(root.get(), (tmp / "secret").c_str(), O_RDONLY) < 0);
    CHECK(errno == EXDEV);
    CHECK(sys::open_beneath(root.get(), "missing", O_RDONLY, sys::Beneath::same_mount) < 0);
    CHECK(errno == ENOENT);
    const sys::unique_fd same(
        sys::open_beneath(root.get(), "sub/file", O_RDONLY, sys::Beneath::same_mount));
    CHECK(same);
}

TEST_CASE("open_beneath with same_mount does not cross into a mount below the tree") {
    // /proc is its own mount: from /, "proc/self" is beneath but on another mount.
    const sys::unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(root);
    const sys::unique_fd any(sys::open_beneath(root.get(), "proc", O_PATH | O_DIRECTORY));
    CHECK(any);
    CHECK(sys::open_beneath(root.get(), "proc/version", O_RDONLY, sys::Beneath::same_mount) < 0);
    CHECK(errno == EXDEV);
}
