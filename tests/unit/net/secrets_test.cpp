// Secrets (net/secrets): the stand-in's shape, and the request rewriting the proxy does with
// it: the real value put in only for the hosts a secret is bound to, every other host refused
// whatever header or encoding carries the stand-in.
#include "net/secrets.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using namespace agentbox::net;

const std::string kReal = "sk-ant-api03-REALREALREALREALREALREAL";

std::vector<SecretValue> one() {
    SecretValue s;
    s.name = "ANTHROPIC_API_KEY";
    s.real = kReal;
    s.stand_in = random_stand_in(kReal);
    s.hosts = {"api.anthropic.com"};
    return {s};
}

http::Head request(std::vector<http::Header> headers) {
    http::Head h;
    h.method = "POST";
    h.target = "/v1/messages";
    h.version = "HTTP/1.1";
    h.headers = std::move(headers);
    return h;
}

std::string header(const http::Head& h, const std::string& name) {
    return h.get(name).value_or("");
}

}  // namespace

TEST_CASE("a stand-in keeps the key's prefix and nothing else of it") {
    const std::string s = stand_in_for(kReal, std::string(64, 'x'));
    CHECK(s.rfind("sk-ant-api03-", 0) == 0);
    CHECK(s.size() == kReal.size());
    CHECK(s.find("REAL") == std::string::npos);
    const std::string r1 = random_stand_in(kReal), r2 = random_stand_in(kReal);
    CHECK(r1 != r2);
    CHECK(r1.find("REAL") == std::string::npos);
    // A short password: no prefix worth keeping, and never fewer than 24 random characters.
    const std::string p = random_stand_in("a-b");
    CHECK(p.size() >= 24);
    CHECK(p.find("a-b") == std::string::npos);
    CHECK(random_stand_in("ghp_0123456789").rfind("ghp_", 0) == 0);
}

TEST_CASE("base64 round-trips and refuses what is not base64") {
    for (const std::string s : {"", "a", "ab", "abc", "abcd", "x-access-token:ghp_123"}) {
        std::string back;
        REQUIRE(base64_decode(base64_encode(s), back));
        CHECK(back == s);
    }
    std::string out;
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    CHECK_FALSE(base64_decode("dXNl cjpw", out));
    CHECK_FALSE(base64_decode("dXM=lcjpw", out));
}

TEST_CASE("x-api-key (Claude Code) to its host gets the real value") {
    auto secrets = one();
    auto req = request({{"x-api-key", secrets[0].stand_in}, {"content-type", "application/json"}});
    std::string target = req.target;
    const SecretUse u = rewrite_request(req, target, "api.anthropic.com", secrets);
    CHECK_FALSE(u.refused);
    CHECK(header(req, "x-api-key") == kReal);
    CHECK(header(req, "content-type") == "application/json");
    REQUIRE(u.substituted.size() == 1);
    CHECK(u.substituted[0].find(kReal) == std::string::npos);
}

TEST_CASE("Authorization: Bearer (Codex) and api-key (Azure) to the bound host") {
    auto secrets = one();
    auto req = request({{"Authorization", "Bearer " + secrets[0].stand_in},
                        {"api-key", secrets[0].stand_in}});
    std::string target = req.target;
    CHECK_FALSE(rewrite_request(req, target, "api.anthropic.com", secrets).refused);
    CHECK(header(req, "authorization") == "Bearer " + kReal);
    CHECK(header(req, "api-key") == kReal);
}

TEST_CASE("basic auth with a token (git over HTTPS) is rewritten inside its base64") {
    auto secrets = one();
    auto req = request({{"Authorization", "Basic " + base64_encode("x-access-token:" + secrets[0].stand_in)}});
    std::string target = req.target;
    CHECK_FALSE(rewrite_request(req, target, "api.anthropic.com", secrets).refused);
    std::string creds;
    const std::string v = header(req, "authorization");
    REQUIRE(v.rfind("Basic ", 0) == 0);
    REQUIRE(base64_decode(v.substr(6), creds));
    CHECK(creds == "x-access-token:" + kReal);
}

TEST_CASE("the stand-in sent to a host it is not bound to is refused, in any header") {
    auto secrets = one();
    for (const auto& h : std::vector<http::Header>{
             {"x-api-key", secrets[0].stand_in},
             {"Authorization", "Bearer " + secrets[0].stand_in},
             {"X-Custom", "prefix" + secrets[0].stand_in + "suffix"},
             {"Authorization", "Basic " + base64_encode("u:" + secrets[0].stand_in)}}) {
        auto req = request({h});
        const auto before = req.headers;
        std::string target = req.target;
        const SecretUse u = rewrite_request(req, target, "evil.example", secrets);
        CHECK(u.refused);
        CHECK(u.secret == "ANTHROPIC_API_KEY");
        // Left as it was: nothing of the real value was put anywhere.
        CHECK(req.headers[0].value == before[0].value);
        CHECK(req.headers[0].value.find(kReal) == std::string::npos);
    }
}

TEST_CASE("the stand-in in the query string of an unbound host is refused") {
    auto secrets = one();
    auto req = request({});
    std::string target = "/collect?k=" + secrets[0].stand_in;
    const SecretUse u = rewrite_request(req, target, "evil.example", secrets);
    CHECK(u.refused);
    CHECK(u.where == "request target");
    CHECK(target.find(kReal) == std::string::npos);
}

TEST_CASE("a bound host with a stand-in of another secret is refused whole") {
    auto secrets = one();
    SecretValue gh;
    gh.name = "GH_TOKEN";
    gh.real = "ghp_REALGHREALGHREALGH";
    gh.stand_in = random_stand_in(gh.real);
    gh.hosts = {"github.com"};
    secrets.push_back(gh);
    auto req = request({{"x-api-key", secrets[0].stand_in}, {"x-gh", gh.stand_in}});
    std::string target = req.target;
    const SecretUse u = rewrite_request(req, target, "api.anthropic.com", secrets);
    CHECK(u.refused);
    CHECK(u.secret == "GH_TOKEN");
    // The first header's substitution was not applied either.
    CHECK(header(req, "x-api-key") == secrets[0].stand_in);
}

TEST_CASE("mask_reals puts the stand-in back where a server echoes the key") {
    auto secrets = one();
    std::string head = "HTTP/1.1 401 Unauthorized\r\nX-Echo: " + kReal + "\r\n\r\n";
    mask_reals(head, secrets);
    CHECK(head.find(kReal) == std::string::npos);
    CHECK(head.find(secrets[0].stand_in) != std::string::npos);
}
