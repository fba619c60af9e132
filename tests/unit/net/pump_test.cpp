// The proxy's portable I/O (net/wake, net/pump), each case on both implementations: Linux's
// (eventfd, splice) and the portable one macOS uses (a self-pipe, a read/write pump), which
// these tests are where Linux exercises it. Real loopback TCP sockets, as the proxy has.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "net/portable.hpp"
#include "net/pump.hpp"
#include "net/wake.hpp"
#include "sys/fd.hpp"
#include "loopback.hpp"

namespace {

using namespace agentbox::net;
using namespace agentbox::net::testing;
using agentbox::sys::unique_fd;

std::vector<IoKind> kinds() {
#ifdef __linux__
    return {IoKind::native, IoKind::portable};
#else
    return {IoKind::portable};
#endif
}

const char* name(IoKind k) { return k == IoKind::native ? "native" : "portable"; }

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A connected loopback TCP pair: `near` is the proxy's end (non-blocking), `far` the peer's.
struct TcpPair {
    unique_fd near, far;
};

TcpPair tcp_pair() {
    sockaddr_in a{};
    unique_fd l = loopback_listener(a, 1);
    TcpPair p;
    p.far.reset(open_socket(AF_INET, SOCK_STREAM, 0, false));
    REQUIRE(::connect(p.far.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    p.near.reset(::accept(l.get(), nullptr, nullptr));
    REQUIRE(p.near);
    set_nonblock(p.near.get());
    return p;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    std::uint32_t x = 2463534242u;
    for (auto& c : s) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return s;
}

void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::send(fd, s.data(), s.size(), kSendFlags);
        REQUIRE(n > 0);
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Steps `p` until done, waiting with poll as the proxy waits with asio.
void run(Pump& p, int from, int to, std::uint64_t& delivered) {
    for (int i = 0; i < 100000; ++i) {
        const Pump::Wait w = p.step(delivered);
        if (w == Pump::Wait::done) return;
        pollfd f = w == Pump::Wait::read ? pollfd{from, POLLIN, 0} : pollfd{to, POLLOUT, 0};
        REQUIRE(::poll(&f, 1, 5000) == 1);
    }
    FAIL("the pump never finished");
}

// SIGPIPE blocked for a scope: splice (the native pump) has no MSG_NOSIGNAL; the proxy's
// thread blocks it the same way.
struct NoSigpipe {
    sigset_t old;
    NoSigpipe() {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &s, &old);
    }
    ~NoSigpipe() {
        // Take a SIGPIPE raised meanwhile so that unblocking it does not kill the test.
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGPIPE);
            int sig;
            sigwait(&s, &sig);
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
};

}  // namespace

TEST_CASE("wake: readable from the first signal until drained, on every implementation") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        Wakeup w(k);
        CHECK_FALSE(readable(w.fd()));
        w.signal();
        CHECK(readable(w.fd()));
        w.signal();
        w.drain();
        CHECK_FALSE(readable(w.fd()));
        w.drain();  // nothing to take: does not block
        CHECK_FALSE(readable(w.fd()));
    }
}

TEST_CASE("wake: more signals than a pipe holds never block the signaller, one drain takes all") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        Wakeup w(k);
        for (int i = 0; i < 200000; ++i) w.signal();  // a pipe holds 64 KiB
        CHECK(readable(w.fd()));
        w.drain();
        CHECK_FALSE(readable(w.fd()));
    }
}

TEST_CASE("wake: a signal from another thread wakes a poll that is already waiting") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        Wakeup w(k);
        std::thread t([&w] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            w.signal();
        });
        CHECK(readable(w.fd(), 5000));
        t.join();
        w.drain();
        CHECK_FALSE(readable(w.fd()));
    }
}

TEST_CASE("wake: the descriptors are close-on-exec") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        Wakeup w(k);
        CHECK((::fcntl(w.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    }
}

TEST_CASE("pump: a body of known length moves exactly, leaving what follows it unread") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        TcpPair in = tcp_pair(), out = tcp_pair();
        const std::string body = pattern(3 * Pump::kChunk + 12345);
        const std::string next = "GET /next HTTP/1.1\r\n\r\n";
        std::thread writer([&] { send_all(in.far.get(), body + next); });
        std::string got;
        std::thread reader([&] {
            char buf[65536];
            while (got.size() < body.size()) {
                const ssize_t n = ::recv(out.far.get(), buf, sizeof buf, 0);
                if (n <= 0) break;
                got.append(buf, static_cast<std::size_t>(n));
            }
        });
        std::uint64_t delivered = 0;
        Pump p(k, in.near.get(), out.near.get(), body.size());
        run(p, in.near.get(), out.near.get(), delivered);
        writer.join();
        reader.join();
        CHECK(delivered == body.size());
        CHECK(got == body);
        // The next message stays on the client's socket for the proxy to read.
        REQUIRE(readable(in.near.get(), 5000));
        char buf[256];
        const ssize_t n = ::recv(in.near.get(), buf, sizeof buf, 0);
        CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == next);
        // ... and the far side was not shut down: the body had a length, not an EOF.
        CHECK_FALSE(readable(out.far.get(), 50));
    }
}

TEST_CASE("pump: a connection that ends inside a body is an error") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        TcpPair in = tcp_pair(), out = tcp_pair();
        send_all(in.far.get(), "short");
        ::shutdown(in.far.get(), SHUT_WR);
        std::uint64_t delivered = 0;
        Pump p(k, in.near.get(), out.near.get(), 100);
        CHECK_THROWS_AS(run(p, in.near.get(), out.near.get(), delivered), std::runtime_error);
    }
}

TEST_CASE("pump: EOF half-closes the far side, which can still answer") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        TcpPair in = tcp_pair(), out = tcp_pair();
        const std::string data = pattern(100000);
        send_all(in.far.get(), data);
        ::shutdown(in.far.get(), SHUT_WR);
        std::uint64_t delivered = 0;
        Pump p(k, in.near.get(), out.near.get(), 0);
        std::string got;
        std::thread reader([&] { got = read_to_eof(out.far.get()); });
        run(p, in.near.get(), out.near.get(), delivered);
        reader.join();
        CHECK(got == data);
        CHECK(delivered == data.size());
        // Only the writing direction ended: the server's answer still comes back.
        send_all(out.far.get(), "answer");
        REQUIRE(readable(out.near.get(), 5000));
        char buf[16];
        CHECK(::recv(out.near.get(), buf, sizeof buf, 0) == 6);
    }
}

TEST_CASE("pump: a slow reader gets every byte in order through short writes") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        TcpPair in = tcp_pair(), out = tcp_pair();
        // A small send buffer on the slow side, so that writes come up short and block (a
        // small receive buffer as well would only add TCP's delayed-ACK stalls).
        const int small = 4096;
        ::setsockopt(out.near.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        const std::string data = pattern(Pump::kChunk + 12345);
        std::thread writer([&] {
            send_all(in.far.get(), data);
            ::shutdown(in.far.get(), SHUT_WR);
        });
        std::string got;
        std::thread reader([&] {
            char buf[1500];
            for (;;) {
                const ssize_t n = ::recv(out.far.get(), buf, sizeof buf, 0);
                if (n <= 0) break;
                got.append(buf, static_cast<std::size_t>(n));
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        });
        std::uint64_t delivered = 0;
        int write_waits = 0;
        Pump p(k, in.near.get(), out.near.get(), 0);
        for (int i = 0; i < 1000000; ++i) {
            const Pump::Wait w = p.step(delivered);
            if (w == Pump::Wait::done) break;
            if (w == Pump::Wait::write) ++write_waits;
            // What was delivered never runs ahead of what the reader can have been sent.
            REQUIRE(delivered <= data.size());
            pollfd f = w == Pump::Wait::read ? pollfd{in.near.get(), POLLIN, 0}
                                             : pollfd{out.near.get(), POLLOUT, 0};
            REQUIRE(::poll(&f, 1, 5000) == 1);
        }
        writer.join();
        reader.join();
        CHECK(write_waits > 0);
        CHECK(delivered == data.size());
        CHECK(got.size() == data.size());
        CHECK(got == data);
    }
}

TEST_CASE("pump: a peer that left is an error for the pump, not a SIGPIPE for the process") {
    for (IoKind k : kinds()) {
        CAPTURE(name(k));
        // The portable pump must not need the signal blocked (MSG_NOSIGNAL, SO_NOSIGPIPE);
        // splice has no such flag, so the native one runs as the proxy's thread does.
        std::optional<NoSigpipe> guard;
        if (k == IoKind::native) guard.emplace();
        TcpPair in = tcp_pair(), out = tcp_pair();
        // The server vanishes with data unread: a reset.
        const linger l{1, 0};
        ::setsockopt(out.far.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        out.far.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const std::string data = pattern(1024 * 1024);
        std::thread writer([&] {
            std::string_view s = data;
            while (!s.empty()) {
                const ssize_t n = ::send(in.far.get(), s.data(), s.size(), kSendFlags);
                if (n <= 0) break;
                s.remove_prefix(static_cast<std::size_t>(n));
            }
            ::shutdown(in.far.get(), SHUT_WR);
        });
        std::uint64_t delivered = 0;
        Pump p(k, in.near.get(), out.near.get(), 0);
        CHECK_THROWS_AS(run(p, in.near.get(), out.near.get(), delivered), std::system_error);
        ::shutdown(in.far.get(), SHUT_RDWR);  // ends the writer if it is still blocked
        writer.join();
    }
}
