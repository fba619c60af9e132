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

namespace {

using OpenBeneath = int (*)(int, const char*, int, sys::Beneath);

// The same attacks for openat2 and for the component walk the macOS build uses.
void refuses_every_way_out(OpenBeneath open_beneath) {
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

    const sys::unique_fd file(open_beneath(root.get(), "sub/file", O_RDONLY, sys::Beneath::tree));
    CHECK(file);
    CHECK((::fcntl(file.get(), F_GETFD) & FD_CLOEXEC) != 0);  // always added
    const sys::unique_fd self(open_beneath(root.get(), "", O_PATH | O_DIRECTORY, sys::Beneath::tree));
    CHECK(self);  // "" is the directory itself

    for (const char* escape : {"../secret", "sub/../../secret", "up", "abs", "inside"}) {
        CAPTURE(escape);
        errno = 0;
        CHECK(open_beneath(root.get(), escape, O_RDONLY, sys::Beneath::tree) < 0);
        CHECK((errno == EXDEV || errno == ELOOP));
    }
    CHECK(open_beneath(root.get(), (tmp / "secret").c_str(), O_RDONLY, sys::Beneath::tree) < 0);
    CHECK(errno == EXDEV);
    CHECK(open_beneath(root.get(), "missing", O_RDONLY, sys::Beneath::same_mount) < 0);
    CHECK(errno == ENOENT);
    const sys::unique_fd same(
        open_beneath(root.get(), "sub/file", O_RDONLY, sys::Beneath::same_mount));
    CHECK(same);
}

}  // namespace

TEST_CASE("open_beneath opens what is beneath and refuses every way out of the tree") {
    refuses_every_way_out(sys::open_beneath);
}

TEST_CASE("without openat2, the component walk refuses the same ways out") {
    refuses_every_way_out(sys::open_beneath_walk);
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

TEST_CASE("without openat2, the component walk does not cross into a mount below the tree either") {
    const sys::unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(root);
    const sys::unique_fd any(sys::open_beneath_walk(root.get(), "proc", O_RDONLY | O_DIRECTORY));
    CHECK(any);
    CHECK(sys::open_beneath_walk(root.get(), "proc/version", O_RDONLY, sys::Beneath::same_mount) < 0);
    CHECK(errno == EXDEV);
}
