#include "net/post.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/http.hpp"
#include "net/portable.hpp"
#include "sys/fd.hpp"

namespace agentbox::net {

std::string parse_http_url(std::string_view url, HttpUrl& out) {
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, 8) == "https://")
        return "https is not supported: export to a local OpenTelemetry Collector over http "
               "and let it forward with TLS";
    if (url.substr(0, scheme.size()) != scheme) return "not an http:// URL";
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (authority.find('@') != std::string_view::npos) return "a user name in the URL is not supported";
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return "unbalanced [ in the host";
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return "bad text after the IPv6 address";
            port = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (out.host.empty()) return "no host in the URL";
    out.port = 80;
    if (!port.empty()) {
        unsigned v = 0;
        for (char c : port) {
            if (c < '0' || c > '9' || v > 65535) return "bad port";
            v = v * 10 + static_cast<unsigned>(c - '0');
        }
        if (v == 0 || v > 65535) return "bad port";
        out.port = static_cast<std::uint16_t>(v);
    }
    for (char c : out.path)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return "bad character in the path";
    return {};
}

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, ms_left(deadline));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

}  // namespace

PostResult http_post(const HttpUrl& url, std::string_view content_type, std::string_view body,
                     Clock::time_point deadline) {
    PostResult r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(url.port);
    if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
        r.error = std::string("resolve ") + url.host + ": " + ::gai_strerror(rc);
        return r;
    }
    sys::unique_fd fd;
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr && !fd; a = a->ai_next) {
        sys::unique_fd s(open_socket(a->ai_family, a->ai_socktype, 0, true));
        if (!s) continue;
        if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last = std::strerror(errno);
            continue;
        }
        if (!wait_for(s.get(), POLLOUT, deadline)) {
            last = "connect timed out";
            continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            last = std::strerror(err);
            continue;
        }
        fd = std::move(s);
    }
    ::freeaddrinfo(res);
    if (!fd) {
        r.error = "connect " + url.host + ":" + port + ": " + last;
        return r;
    }

    const bool v6 = url.host.find(':') != std::string::npos;
    std::string msg = "POST " + url.path + " HTTP/1.1\r\nHost: " + (v6 ? "[" + url.host + "]" : url.host) +
                      ":" + port + "\r\nContent-Type: " + std::string(content_type) +
                      "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\nUser-Agent: agentbox\r\n\r\n";
    msg.append(body);
    std::string_view out = msg;
    while (!out.empty()) {
        if (!wait_for(fd.get(), POLLOUT, deadline)) {
            r.error = "sending timed out";
            return r;
        }
        const ssize_t n = ::send(fd.get(), out.data(), out.size(), kSendFlags);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
            r.error = std::string("send: ") + std::strerror(errno);
            return r;
        }
        out.remove_prefix(static_cast<std::size_t>(n));
    }
    std::string in;
    char buf[4096];
    for (;;) {
        const http::HeadResult h = http::parse_response(in, http::kMaxHead);
        if (h.status == http::Parse::done) {
            r.status = h.head.status;
            return r;
        }
        if (h.status == http::Parse::bad || h.status == http::Parse::too_large) {
            r.error = "bad response: " + h.error;
            return r;
        }
        if (!wait_for(fd.get(), POLLIN, deadline)) {
            r.error = "no response in time";
            return r;
        }
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            r.error = n == 0 ? "connection closed before a response" : std::string("recv: ") + std::strerror(errno);
            return r;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace agentbox::net
