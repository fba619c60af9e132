// The server name of a TLS ClientHello (net/tls), which the proxy checks against the host of a
// CONNECT: built here byte by byte, whole, split over records and over reads, and broken.
#include "net/tls.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using agentbox::net::tls::client_hello;
using agentbox::net::tls::Hello;

std::string be(std::uint32_t v, int n) {
    std::string out;
    for (int i = n - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
}

std::string vec(const std::string& body, int n) {
    return be(static_cast<std::uint32_t>(body.size()), n) + body;
}

// server_name extension with the given host names (host_name entries).
std::string sni(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& n : names) list += be(0, 1) + vec(n, 2);
    return be(0, 2) + vec(vec(list, 2), 2);
}

// A ClientHello handshake message (type, 3-byte length, body) with these extensions.
std::string hello(const std::string& extensions, bool with_extensions = true) {
    std::string body = be(0x0303, 2) + std::string(32, 'r') + vec("", 1) + vec(be(0x1301, 2), 2) +
                       vec(std::string(1, '\0'), 1);
    if (with_extensions) body += vec(extensions, 2);
    return be(1, 1) + be(static_cast<std::uint32_t>(body.size()), 3) + body;
}

// One handshake record per piece.
std::string records(const std::string& message, std::size_t piece = 1 << 14) {
    std::string out;
    for (std::size_t at = 0; at < message.size(); at += piece) {
        const std::string p = message.substr(at, piece);
        out += be(0x16, 1) + be(0x0301, 2) + vec(p, 2);
    }
    return out;
}

}  // namespace

TEST_CASE("the host name of a ClientHello, canonical") {
    const std::string padding = be(21, 2) + vec(std::string(40, '\0'), 2);  // another extension
    auto h = client_hello(records(hello(padding + sni({"Allowed.Test."}))));
    CHECK(h.kind == Hello::name);
    CHECK(h.server_name == "allowed.test");
}

TEST_CASE("a ClientHello split over records and over reads") {
    const std::string bytes = records(hello(sni({"api.example.com"})), 7);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        CAPTURE(n);
        CHECK(client_hello(bytes.substr(0, n)).kind == Hello::incomplete);
    }
    const auto h = client_hello(bytes + "application data may follow");
    CHECK(h.kind == Hello::name);
    CHECK(h.server_name == "api.example.com");
}

TEST_CASE("not TLS, no name, and names no server would take") {
    CHECK(client_hello("GET / HTTP/1.1\r\n").kind == Hello::not_tls);
    CHECK(client_hello("SSH-2.0-OpenSSH_9.2\r\n").kind == Hello::not_tls);
    CHECK(client_hello(std::string("\x16\x02\x00", 3)).kind == Hello::not_tls);  // not version 3
    CHECK(client_hello(records(hello(""))).kind == Hello::no_name);
    CHECK(client_hello(records(hello("", false))).kind == Hello::no_name);
    // Two server_name extensions: a server and the proxy could each believe another one.
    CHECK(client_hello(records(hello(sni({"a.test"}) + sni({"b.test"})))).kind == Hello::malformed);
    CHECK(client_hello(records(hello(sni({""})))).kind == Hello::malformed);
    // One server_name list naming two hosts (the allowed one first): the proxy would judge the
    // first while an upstream may serve the second. Refused, in either order.
    CHECK(client_hello(records(hello(sni({"allowed.test", "evil.example"})))).kind ==
          Hello::malformed);
    CHECK(client_hello(records(hello(sni({"evil.example", "allowed.test"})))).kind ==
          Hello::malformed);
    // An empty list, and a name of a type RFC 6066 does not define before the host name.
    CHECK(client_hello(records(hello(sni({})))).kind == Hello::malformed);
    const std::string other_type = be(0, 2) + vec(vec(be(1, 1) + vec("x", 2) + be(0, 1) +
                                                          vec("allowed.test", 2), 2), 2);
    CHECK(client_hello(records(hello(other_type))).kind == Hello::malformed);
    CHECK(client_hello(records(hello(sni({"a b.test"})))).kind == Hello::malformed);
    CHECK(client_hello(records(hello(sni({std::string("a\0.test", 7)})))).kind == Hello::malformed);
    // Lengths that do not add up, a record that is not a handshake, another handshake type.
    CHECK(client_hello(records(hello(sni({"a.test"})).substr(0, 60)) + be(0x17, 1) + be(0x0303, 2) +
                       vec("x", 2))
              .kind == Hello::malformed);
    std::string server_hello = hello(sni({"a.test"}));
    server_hello[0] = 2;
    CHECK(client_hello(records(server_hello)).kind == Hello::malformed);
    std::string bad_len = hello(sni({"a.test"}));
    bad_len[bad_len.size() - 8] = '\x7f';  // a name length past the end
    CHECK(client_hello(records(bad_len)).kind == Hello::malformed);
    // Longer than a ClientHello may be: refused without waiting for it all.
    const std::string huge = be(1, 1) + be(1 << 20, 3) + std::string(100, 'x');
    CHECK(client_hello(records(huge)).kind == Hello::malformed);
}
