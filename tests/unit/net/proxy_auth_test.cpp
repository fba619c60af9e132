// The proxy's credential (net/proxy_auth.hpp): what a process outside the sandbox that found
// the proxy's host port gets without it -- a 407 and nothing of the rules behind it.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "net/proxy.hpp"
#include "net/proxy_auth.hpp"
#include "util/escape.hpp"

namespace agentbox::net {
namespace {

constexpr const char* kCred = "agentbox:0123456789abcdef0123456789abcdef";

http::Head head_with(std::initializer_list<http::Header> headers) {
    http::Head h;
    h.method = "CONNECT";
    h.target = "example.com:443";
    h.version = "HTTP/1.1";
    h.headers = headers;
    return h;
}

std::string basic(std::string_view cred) { return "Basic " + util::base64(cred); }

// A proxy on 127.0.0.1 of this host, as the Seatbelt launcher starts it.
struct HostProxy {
    std::uint16_t port = 0;
    std::unique_ptr<Proxy> proxy;

    explicit HostProxy(std::string credential) {
        sys::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(fd);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd.get(), 16) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        ProxyOptions o;  // an empty NetPlan: every host is refused (403)
        o.credential = std::move(credential);
        proxy = std::make_unique<Proxy>(std::move(o), std::move(fd));
    }

    // Sends `request`, returns the status line of the answer.
    std::string ask(const std::string& request) const {
        sys::unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(s);
        timeval tv{10, 0};
        ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        REQUIRE(::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::write(s.get(), request.data(), request.size()) ==
                static_cast<ssize_t>(request.size()));
        std::string got;
        char buf[4096];
        for (ssize_t n; (n = ::read(s.get(), buf, sizeof buf)) > 0;) got.append(buf, n);
        return got;
    }
};

std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}

const std::string kConnect = "CONNECT denied.example:443 HTTP/1.1\r\nHost: denied.example:443\r\n";
const std::string kAbsolute = "GET http://denied.example/x HTTP/1.1\r\nHost: denied.example\r\n";

}  // namespace

TEST_CASE("proxy auth: constant-time compare is equality") {
    CHECK(equal_constant_time("", ""));
    CHECK(equal_constant_time("agentbox:abc", "agentbox:abc"));
    CHECK_FALSE(equal_constant_time("agentbox:abc", "agentbox:abd"));  // last byte
    CHECK_FALSE(equal_constant_time("bgentbox:abc", "agentbox:abc"));  // first byte
    CHECK_FALSE(equal_constant_time("agentbox:ab", "agentbox:abc"));   // a prefix
    CHECK_FALSE(equal_constant_time("agentbox:abc", "agentbox:ab"));
    CHECK_FALSE(equal_constant_time("", "a"));
    CHECK_FALSE(equal_constant_time(std::string_view("a\0", 2), "a"));
}

TEST_CASE("proxy auth: only one Proxy-Authorization, Basic of the credential, is accepted") {
    CHECK(proxy_authorized(head_with({{"Proxy-Authorization", basic(kCred)}}), kCred));
    CHECK(proxy_authorized(head_with({{"proxy-authorization", "basic  " + util::base64(kCred)}}),
                           kCred));
    CHECK_FALSE(proxy_authorized(head_with({}), kCred));
    CHECK_FALSE(proxy_authorized(head_with({{"Proxy-Authorization", basic("agentbox:wrong")}}),
                                 kCred));
    CHECK_FALSE(proxy_authorized(head_with({{"Proxy-Authorization", "Bearer " + std::string(kCred)}}),
                                 kCred));
    CHECK_FALSE(proxy_authorized(head_with({{"Proxy-Authorization", "Basic not*base64"}}), kCred));
    CHECK_FALSE(proxy_authorized(head_with({{"Proxy-Authorization", "Basic"}}), kCred));
    // The right one and another: which one counts is not left to the reader.
    CHECK_FALSE(proxy_authorized(head_with({{"Proxy-Authorization", basic(kCred)},
                                            {"Proxy-Authorization", basic("x:y")}}),
                                 kCred));
    // Authorization is the server's field, not the proxy's.
    CHECK_FALSE(proxy_authorized(head_with({{"Authorization", basic(kCred)}}), kCred));
    // No credential configured never means "anything goes".
    CHECK_FALSE(proxy_authorized(head_with({{"Proxy-Authorization", basic(":")}}), ""));
}

TEST_CASE("proxy auth: the 407 names the scheme and never the credential") {
    const std::string r = proxy_auth_required();
    CHECK(r.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"));
    CHECK(r.find("\r\nProxy-Authenticate: Basic realm=\"agentbox\"\r\n") != std::string::npos);
    CHECK(r.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("proxy auth: tokens are fresh hex, which userinfo takes as it is") {
    const std::string a = new_proxy_token(), b = new_proxy_token();
    CHECK(a.size() == 32);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a != b);
}

TEST_CASE("proxy auth: a host-port proxy refuses a CONNECT without the credential with 407") {
    HostProxy p(kCred);
    const std::string r = p.ask(kConnect + "\r\n");
    CHECK(status_line(r) == "HTTP/1.1 407 Proxy Authentication Required");
    CHECK(r.find("Proxy-Authenticate: Basic") != std::string::npos);
    CHECK(r.find(kCred) == std::string::npos);
    CHECK(status_line(p.ask(kConnect + "Proxy-Authorization: " + basic("agentbox:wrong") +
                            "\r\n\r\n")) == "HTTP/1.1 407 Proxy Authentication Required");
    // With it, the request reaches the rules (which refuse this host).
    CHECK(status_line(p.ask(kConnect + "Proxy-Authorization: " + basic(kCred) + "\r\n\r\n")) ==
          "HTTP/1.1 403 Forbidden");
}

TEST_CASE("proxy auth: a host-port proxy refuses an absolute-URI request without the credential") {
    HostProxy p(kCred);
    CHECK(status_line(p.ask(kAbsolute + "\r\n")) == "HTTP/1.1 407 Proxy Authentication Required");
    CHECK(status_line(p.ask(kAbsolute + "Proxy-Authorization: " + basic("agentbox:wrong") +
                            "\r\n\r\n")) == "HTTP/1.1 407 Proxy Authentication Required");
    // The server's Authorization is not the proxy's.
    CHECK(status_line(p.ask(kAbsolute + "Authorization: " + basic(kCred) + "\r\n\r\n")) ==
          "HTTP/1.1 407 Proxy Authentication Required");
    CHECK(status_line(p.ask(kAbsolute + "Proxy-Authorization: " + basic(kCred) + "\r\n\r\n")) ==
          "HTTP/1.1 403 Forbidden");
}

TEST_CASE("proxy auth: without a credential (Linux, in-namespace) no request is asked for one") {
    HostProxy p("");
    CHECK(status_line(p.ask(kConnect + "\r\n")) == "HTTP/1.1 403 Forbidden");
    CHECK(status_line(p.ask(kAbsolute + "\r\n")) == "HTTP/1.1 403 Forbidden");
}

}  // namespace agentbox::net
