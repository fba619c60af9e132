// The proxy's HTTP parsing (net/http): heads, targets, body framing, chunked coding.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "net/http.hpp"
#include "net/resolve.hpp"

namespace agentbox::net::http {
namespace {

Head request(const std::string& text) {
    HeadResult r = parse_request(text, kMaxHead);
    REQUIRE_MESSAGE(r.status == Parse::done, r.error);
    return r.head;
}

std::string bad_request(const std::string& text) {
    HeadResult r = parse_request(text, kMaxHead);
    CHECK_MESSAGE(r.status == Parse::bad, text);
    return r.error;
}

std::string target_error(const std::string& line) {
    Target t;
    return parse_target(request(line + "\r\n\r\n"), t);
}

TEST_CASE("parse_request: a complete head, fields, and the bytes it used") {
    const std::string text =
        "\r\nGET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\nX-A:  spaced  \r\n"
        "Connection: keep-alive, Foo\r\n\r\nBODY";
    HeadResult r = parse_request(text, kMaxHead);
    REQUIRE(r.status == Parse::done);
    CHECK(r.consumed == text.size() - 4);
    CHECK(r.head.method == "GET");
    CHECK(r.head.target == "http://example.com/a?b");
    CHECK(r.head.version == "HTTP/1.1");
    CHECK(r.head.get("x-a") == "spaced");
    CHECK(r.head.has_token("connection", "foo"));
    CHECK_FALSE(r.head.has_token("connection", "close"));
}

TEST_CASE("parse_request: incomplete until the empty line, too_large past the bound") {
    CHECK(parse_request("GET http://a/ HTTP/1.1\r\nHost: a\r\n", kMaxHead).status ==
          Parse::incomplete);
    CHECK(parse_request("", kMaxHead).status == Parse::incomplete);
    std::string big = "GET http://a/ HTTP/1.1\r\nX: " + std::string(200, 'x');
    CHECK(parse_request(big, 100).status == Parse::too_large);
    // Complete, but longer than the bound: still too large (the bound is on the head).
    CHECK(parse_request(big + "\r\n\r\n", 100).status == Parse::too_large);
}

TEST_CASE("parse_request refuses heads two parsers could read differently (smuggling)") {
    bad_request("GET http://a/ HTTP/1.1\nHost: a\n\n");               // bare LF
    bad_request("GET http://a/ HTTP/1.1\r\nHost: a\rX: b\r\n\r\n");    // bare CR
    bad_request("GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n");         // space before colon
    bad_request("GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n");       // obs-fold
    bad_request("GET http://a/ HTTP/1.1\r\nX: a\x01\r\n\r\n");         // control byte
    bad_request("GET  http://a/ HTTP/1.1\r\n\r\n");                    // double space
    bad_request("GET http://a/ HTTP/2.0\r\n\r\n");                     // version
    bad_request("G(T http://a/ HTTP/1.1\r\n\r\n");                     // method not a token
    bad_request("GET http://a/\x7f HTTP/1.1\r\n\r\n");                 // DEL in target
    bad_request("GARBAGE\r\n\r\n");
    bad_request("GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n");
    CHECK(parse_request(std::string("GET http://a/ HTTP/1.1\r\nX: \0\r\n", 30), kMaxHead)
              .status == Parse::bad);  // NUL: refused before the head is complete
    std::string many = "GET http://a/ HTTP/1.1\r\n";
    for (int i = 0; i < 200; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
    CHECK(bad_request(many + "\r\n").find("header fields") != std::string::npos);
}

TEST_CASE("parse_target: CONNECT authority-form and absolute http URLs") {
    Target t;
    REQUIRE(parse_target(request("CONNECT api.example.com:443 HTTP/1.1\r\n\r\n"), t) == "");
    CHECK(t.tunnel);
    CHECK(t.authority == "api.example.com:443");
    CHECK(t.port == 443);
    REQUIRE(parse_target(request("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n"), t) == "");
    CHECK(t.authority == "[::1]:8443");
    REQUIRE(parse_target(request("GET http://Example.COM./x?y=1#frag HTTP/1.1\r\n\r\n"), t) == "");
    CHECK_FALSE(t.tunnel);
    CHECK(t.authority == "Example.COM.:80");
    CHECK(t.host_header == "Example.COM.");
    CHECK(t.path == "/x?y=1");
    REQUIRE(parse_target(request("GET HTTP://h:8080 HTTP/1.1\r\n\r\n"), t) == "");
    CHECK(t.path == "/");
    CHECK(t.port == 8080);
    REQUIRE(parse_target(request("GET http://h?q HTTP/1.1\r\n\r\n"), t) == "");
    CHECK(t.path == "/?q");
}

TEST_CASE("parse_target refuses userinfo, other schemes, origin-form and bad ports") {
    CHECK(target_error("GET http://allowed.com@evil.com/ HTTP/1.1").find("user information") !=
          std::string::npos);
    CHECK(target_error("CONNECT user:pw@evil.com:443 HTTP/1.1").find("user information") !=
          std::string::npos);
    CHECK(target_error("GET https://a/ HTTP/1.1").find("CONNECT") != std::string::npos);
    CHECK(target_error("GET ftp://a/ HTTP/1.1") != "");
    CHECK(target_error("GET /index.html HTTP/1.1").find("not a proxy request") !=
          std::string::npos);
    CHECK(target_error("CONNECT example.com HTTP/1.1").find("host:port") != std::string::npos);
    CHECK(target_error("CONNECT example.com:0 HTTP/1.1") != "");
    CHECK(target_error("CONNECT example.com:65536 HTTP/1.1") != "");
    CHECK(target_error("CONNECT example.com:44x HTTP/1.1") != "");
    CHECK(target_error("CONNECT example.com: HTTP/1.1") != "");
    CHECK(target_error("CONNECT [::1:443 HTTP/1.1") != "");
    CHECK(target_error("GET http:///x HTTP/1.1") != "");
}

TEST_CASE("request_body: length, chunked, and the ambiguous combinations refused") {
    Body b;
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), b) == "");
    CHECK(b.kind == BodyKind::length);
    CHECK(b.length == 12);
    CHECK(request_body(request("GET http://a/ HTTP/1.1\r\n\r\n"), b) == "");
    CHECK(b.kind == BodyKind::none);
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"),
                       b) == "");
    CHECK(b.kind == BodyKind::chunked);
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Length: 3\r\n\r\n"),
                       b)
              .find("smuggling") != std::string::npos);
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
                       b) != "");
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\n"
                               "Content-Length: 4\r\n\r\n"),
                       b) != "");
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n"), b) != "");
    CHECK(request_body(request("POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), b) != "");
    CHECK(request_body(request("POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
                       b) != "");
}

TEST_CASE("response_body: HEAD, 204, 304 have none; chunked; until close") {
    auto resp = [](const std::string& t) {
        HeadResult r = parse_response(t, kMaxHead);
        REQUIRE_MESSAGE(r.status == Parse::done, r.error);
        return r.head;
    };
    Body b;
    CHECK(response_body(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), "HEAD", b) == "");
    CHECK(b.kind == BodyKind::none);
    CHECK(response_body(resp("HTTP/1.1 204 No Content\r\n\r\n"), "GET", b) == "");
    CHECK(b.kind == BodyKind::none);
    CHECK(response_body(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), "GET", b) == "");
    CHECK(b.kind == BodyKind::length);
    CHECK(response_body(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), "GET", b) == "");
    CHECK(b.kind == BodyKind::chunked);
    CHECK(response_body(resp("HTTP/1.1 200 OK\r\n\r\n"), "GET", b) == "");
    CHECK(b.kind == BodyKind::until_close);
    CHECK(response_body(resp("HTTP/1.0 200\r\n\r\n"), "GET", b) == "");
    CHECK(b.kind == BodyKind::until_close);
    CHECK(parse_response("HTTP/1.1 2000 OK\r\n\r\n", kMaxHead).status == Parse::bad);
    CHECK(parse_response("ICY 200 OK\r\n\r\n", kMaxHead).status == Parse::bad);
}

TEST_CASE("upstream_request: origin-form, the checked Host, hop-by-hop fields dropped") {
    Head h = request(
        "POST http://api.test:8080/v1?x HTTP/1.1\r\nHost: evil.test\r\nProxy-Authorization: "
        "Basic eA==\r\nProxy-Connection: keep-alive\r\nConnection: close, X-Secret, "
        "Content-Length\r\nX-Secret: 1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
        "Accept: */*\r\n\r\n");
    Target t;
    REQUIRE(parse_target(h, t) == "");
    const std::string up = upstream_request(h, t);
    CHECK(up.find("POST /v1?x HTTP/1.1\r\nHost: api.test:8080\r\n") == 0);
    CHECK(up.find("evil.test") == std::string::npos);
    CHECK(up.find("Proxy-") == std::string::npos);
    CHECK(up.find("X-Secret") == std::string::npos);
    CHECK(up.find("Expect") == std::string::npos);
    CHECK(up.find("Connection") == std::string::npos);
    // "Connection: content-length" must not strip the framing field.
    CHECK(up.find("Content-Length: 2\r\n") != std::string::npos);
    CHECK(up.find("Accept: */*\r\n\r\n") != std::string::npos);
}

TEST_CASE("client_response and error_response") {
    HeadResult r = parse_response("HTTP/1.1 200 OK\r\nKeep-Alive: 5\r\nConnection: keep-alive\r\n"
                                  "Content-Length: 0\r\n\r\n",
                                  kMaxHead);
    REQUIRE(r.status == Parse::done);
    CHECK(client_response(r.head, false) == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK(client_response(r.head, true).find("Connection: close\r\n\r\n") != std::string::npos);
    const std::string e = error_response(403, "Forbidden", "no", "network.deny \"x\"\n");
    CHECK(e.find("HTTP/1.1 403 Forbidden\r\n") == 0);
    CHECK(e.find("X-Agentbox-Rule: network.deny \"x\"?\r\n") != std::string::npos);
    CHECK(e.find("Content-Length: 19\r\n") != std::string::npos);
    CHECK(e.substr(e.size() - 19) == "agentbox proxy: no\n");
}

TEST_CASE("Chunked frames a body fed in any split, and stops at its end") {
    const std::string body = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
                             "Trailer: x\r\n\r\n";
    const std::string next = "GET http://a/ HTTP/1.1\r\n\r\n";
    for (std::size_t split = 0; split <= body.size(); ++split) {
        Chunked c;
        const std::string all = body + next;
        std::size_t used = c.feed(std::string_view(all).substr(0, split));
        if (!c.done()) used += c.feed(std::string_view(all).substr(split));
        INFO(split);
        CHECK(c.error() == "");
        CHECK(c.done());
        CHECK(used == body.size());
    }
    Chunked bytewise;
    for (std::size_t i = 0; i < body.size(); ++i) {
        CHECK_FALSE(bytewise.done());
        CHECK(bytewise.feed(std::string_view(body).substr(i, 1)) == 1);
    }
    CHECK(bytewise.done());
}

TEST_CASE("Chunked: data skipped (spliced elsewhere) frames as if it had been fed") {
    // What the proxy does with a large chunk: the size line fed, the data moved by splice
    // and skipped, then the CRLF, the next size line and the end fed again. The body must
    // end exactly where feeding it whole ends, so what follows is parsed as the next message.
    const std::string next = "GET http://evil.test/ HTTP/1.1\r\n\r\n";
    Chunked c;
    CHECK(c.data_left() == 0);
    CHECK(c.feed("a;x=1\r\n012") == 10);
    CHECK(c.data_left() == 7);
    c.skip(3);
    CHECK(c.data_left() == 4);
    c.skip(4);
    CHECK(c.data_left() == 0);
    CHECK(c.error() == "");
    const std::string rest = "\r\n3\r\nabc\r\n0\r\n\r\n";
    CHECK(c.feed(rest + next) == rest.size());
    CHECK(c.done());

    // Skipping past a chunk's end, or outside chunk data, is an error, never a resync.
    Chunked over;
    over.feed("4\r\n");
    over.skip(5);
    CHECK(over.error() != "");
    CHECK_FALSE(over.done());
    CHECK(over.feed("\r\n0\r\n\r\n") == 0);
    Chunked outside;
    outside.skip(1);
    CHECK(outside.error() != "");
}

TEST_CASE("Chunked refuses malformed framing") {
    for (const char* bad : {"x\r\n", "\r\n", "4\nWiki\r\n", "4\r\nWikiX\r\n", "-1\r\n",
                            "11111111111111111\r\n", "0\r\nbad\n", "4\r\nWiki\r\n0\r\n\rX"}) {
        Chunked c;
        c.feed(bad);
        INFO(bad);
        CHECK(c.error() != "");
        CHECK_FALSE(c.done());
    }
    Chunked c;
    c.feed("1;" + std::string(5000, 'e'));
    CHECK(c.error().find("too long") != std::string::npos);
}

}  // namespace
}  // namespace agentbox::net::http

namespace agentbox::net {
namespace {

TEST_CASE("parse_resolve_override canonicalises names and addresses") {
    ResolveMap m = parse_resolve_override("API.Test.=127.0.0.1, api.test=::1,other.test=[fd00::1]");
    REQUIRE(m.size() == 2);
    CHECK(m["api.test"] == std::vector<std::string>{"127.0.0.1", "[::1]"});
    CHECK(m["other.test"] == std::vector<std::string>{"[fd00::1]"});
    CHECK(parse_resolve_override("").empty());
    CHECK_THROWS_AS(parse_resolve_override("api.test"), std::invalid_argument);
    CHECK_THROWS_AS(parse_resolve_override("api.test=example.com"), std::invalid_argument);
    CHECK_THROWS_AS(parse_resolve_override("api.test=127.1"), std::invalid_argument);
    CHECK_THROWS_AS(parse_resolve_override("a@b=127.0.0.1"), std::invalid_argument);
}

}  // namespace
}  // namespace agentbox::net
