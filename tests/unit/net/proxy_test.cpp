// The proxy (net/proxy.hpp) on its own, without a sandbox: what the supervisor's thread sees
// of it. Real loopback TCP sockets; the proxy's thread runs as in a run.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/portable.hpp"
#include "net/proxy.hpp"
#include "sys/fd.hpp"
#include "loopback.hpp"

namespace {

using namespace agentbox::net;
using namespace agentbox::net::testing;
using agentbox::sys::unique_fd;

// How many times the proxy signalled its event fd since it was last read (net/wake.cpp: an
// eventfd counts the signals; a pipe holds a byte for each).
std::uint64_t wake_count(int fd) {
#ifdef __linux__
    std::uint64_t n = 0;
    REQUIRE(::read(fd, &n, sizeof n) == static_cast<ssize_t>(sizeof n));
    return n;
#else
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    REQUIRE(n > 0);
    return static_cast<std::uint64_t>(n);
#endif
}

}  // namespace

TEST_CASE("a burst of requests is answered before the supervisor is woken, and wakes it once") {
    // Five clients' requests, to a host no rule allows, are all waiting before the proxy
    // starts: its thread has them to answer without a pause, each with two events to log
    // (decision, net.connect). The supervisor is woken once, after the last answer: a wake-up
    // per event would put the supervisor's thread on a CPU in the middle of each request.
    sockaddr_in addr{};
    unique_fd l = loopback_listener(addr);  // as init hands the proxy its own
    constexpr int kClients = 5;
    std::vector<unique_fd> clients;
    const std::string request = "GET http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\n\r\n";
    for (int i = 0; i < kClients; ++i) {
        unique_fd c(open_socket(AF_INET, SOCK_STREAM, 0, false));
        REQUIRE(c);
        REQUIRE(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::send(c.get(), request.data(), request.size(), 0) ==
                static_cast<ssize_t>(request.size()));
        clients.push_back(std::move(c));
    }

    ProxyOptions o;
    o.net.mode = agentbox::profile::NetMode::proxy;
    Proxy proxy(std::move(o), std::move(l));
    REQUIRE(readable(proxy.event_fd(), 10000));
    // By the time the supervisor could look, every client has its answer waiting.
    for (const unique_fd& c : clients) CHECK(readable(c.get(), 0));
    for (const unique_fd& c : clients)
        CHECK(read_to_eof(c.get()).rfind("HTTP/1.1 403 ", 0) == 0);
    CHECK(wake_count(proxy.event_fd()) == 1);

    std::vector<ProxyEvent> events = proxy.take_events();
    int refused = 0;
    for (const ProxyEvent& e : events)
        for (const auto& [k, v] : e.fields)
            if (e.type == "net.connect" && k == "verdict" && v == "deny") ++refused;
    CHECK(refused == kClients);
    CHECK(events.size() == 2 * kClients);
    proxy.stop();
}
