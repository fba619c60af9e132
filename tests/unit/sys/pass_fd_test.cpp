#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "sys/fd.hpp"
#include "sys/pass_fd.hpp"

using agentbox::sys::unique_fd;

TEST_CASE("send_fd / recv_fd pass a descriptor with its tag, close-on-exec on arrival") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    const unique_fd a(sv[0]), b(sv[1]);
    const unique_fd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(passed);
    const char tag = 'T';
    REQUIRE(agentbox::sys::send_fd(a.get(), &tag, 1, passed.get()) == 0);

    std::uint64_t buf = 0;  // bigger than the message, as the supervisor's Report is
    int fd = -2;
    REQUIRE(agentbox::sys::recv_fd(b.get(), &buf, sizeof buf, 0, fd) == 1);
    REQUIRE(fd >= 0);
    const unique_fd got(fd);
    CHECK(*reinterpret_cast<const char*>(&buf) == 'T');
    CHECK(got.get() != passed.get());
    CHECK((::fcntl(got.get(), F_GETFD) & FD_CLOEXEC) != 0);
    struct stat x {}, y {};
    REQUIRE(::fstat(got.get(), &x) == 0);
    REQUIRE(::fstat(passed.get(), &y) == 0);
    CHECK(x.st_ino == y.st_ino);
    CHECK(x.st_dev == y.st_dev);
}

TEST_CASE("recv_fd: a message without a descriptor gives -1; EOF gives 0; nothing yet, EAGAIN") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    unique_fd a(sv[0]);
    const unique_fd b(sv[1]);
    int fd = -2;
    char buf[8];
    CHECK(agentbox::sys::recv_fd(b.get(), buf, sizeof buf, MSG_DONTWAIT, fd) == -1);
    CHECK(errno == EAGAIN);
    REQUIRE(::write(a.get(), "done", 4) == 4);
    CHECK(agentbox::sys::recv_fd(b.get(), buf, sizeof buf, 0, fd) == 4);
    CHECK(fd == -1);
    a.reset();
    CHECK(agentbox::sys::recv_fd(b.get(), buf, sizeof buf, 0, fd) == 0);
    CHECK(fd == -1);
}
