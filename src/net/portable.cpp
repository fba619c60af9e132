#include "net/portable.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace agentbox::net {

namespace {

// Outside Linux the flags are set after the call: a fork in another thread in between would
// inherit the fd, which is why the macOS launcher spawns with POSIX_SPAWN_CLOEXEC_DEFAULT.
[[maybe_unused]] bool set_flags(int fd, bool nonblock) {
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return false;
    if (!nonblock) return true;
    const int fl = ::fcntl(fd, F_GETFL);
    return fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

}  // namespace

bool open_pipe(int fds[2], bool nonblock) {
#ifdef __linux__
    return ::pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)) == 0;
#else
    if (::pipe(fds) < 0) return false;
    if (set_flags(fds[0], nonblock) && set_flags(fds[1], nonblock)) return true;
    const int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    errno = e;
    return false;
#endif
}

int open_socket(int family, int type, int protocol, bool nonblock) {
#ifdef __linux__
    return ::socket(family, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), protocol);
#else
    const int fd = ::socket(family, type, protocol);
    if (fd < 0) return -1;
    if (!set_flags(fd, nonblock)) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    no_sigpipe(fd);
    return fd;
#endif
}

void no_sigpipe([[maybe_unused]] int fd) {
#ifdef SO_NOSIGPIPE
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
}

}  // namespace agentbox::net
