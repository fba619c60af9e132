// The collector URL (net/post.hpp): http://HOST[:PORT][/PATH] only; https, user names and bad
// ports are refused with the reason, so `run --otlp` fails before the command runs.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "net/post.hpp"

using namespace agentbox::net;

TEST_CASE("post: collector URLs") {
    HttpUrl u;
    CHECK(parse_http_url("http://127.0.0.1:4318", u).empty());
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 4318);
    CHECK(u.path == "/");
    CHECK(parse_http_url("http://collector.example/otlp/v1/logs", u).empty());
    CHECK(u.host == "collector.example");
    CHECK(u.port == 80);
    CHECK(u.path == "/otlp/v1/logs");
    CHECK(parse_http_url("http://[::1]:4318/", u).empty());
    CHECK(u.host == "::1");
    CHECK(u.port == 4318);
}

TEST_CASE("post: URLs agentbox cannot send to are refused, saying why") {
    HttpUrl u;
    CHECK(parse_http_url("https://collector:4318", u).find("local OpenTelemetry Collector") !=
          std::string::npos);
    CHECK_FALSE(parse_http_url("ftp://x", u).empty());
    CHECK_FALSE(parse_http_url("http://", u).empty());
    CHECK_FALSE(parse_http_url("http://u:p@host:4318", u).empty());
    CHECK_FALSE(parse_http_url("http://host:0", u).empty());
    CHECK_FALSE(parse_http_url("http://host:65536", u).empty());
    CHECK_FALSE(parse_http_url("http://host:43a", u).empty());
    CHECK_FALSE(parse_http_url("http://[::1:4318", u).empty());
    CHECK_FALSE(parse_http_url("http://host/a b", u).empty());
}

TEST_CASE("post: a refused connection is an error, not a hang") {
    HttpUrl u;
    REQUIRE(parse_http_url("http://127.0.0.1:1", u).empty());
    const auto t0 = std::chrono::steady_clock::now();
    const PostResult r = http_post(u, "application/json", "{}", t0 + std::chrono::seconds(5));
    CHECK(r.status == 0);
    CHECK_FALSE(r.error.empty());
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
