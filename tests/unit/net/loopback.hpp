// Loopback TCP helpers the net unit tests share (several are compiled in one unity unit, where
// file-local copies of the same name clash).
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>

#include "net/portable.hpp"
#include "sys/fd.hpp"

namespace agentbox::net::testing {

// A listening socket on 127.0.0.1, an ephemeral port; `addr` gets its address.
inline sys::unique_fd loopback_listener(sockaddr_in& addr, int backlog = 16) {
    sys::unique_fd l(open_socket(AF_INET, SOCK_STREAM, 0, false));
    REQUIRE(l);
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(l.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(l.get(), backlog) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    return l;
}

// Whether `fd` has input within `ms` milliseconds.
inline bool readable(int fd, int ms = 0) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

// Everything `fd` delivers until its peer closes; each read waits at most 10 s.
inline std::string read_to_eof(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        REQUIRE(readable(fd, 10000));
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        REQUIRE(n >= 0);
        if (n == 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace agentbox::net::testing
