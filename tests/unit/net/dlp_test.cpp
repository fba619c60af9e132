// Request inspection (net/dlp): real secret values and well-known credential formats found in
// what the sandbox sends however the bytes are cut, the stand-in never taken for a key, and
// nothing of a value in a finding or in the bytes released before it.
#include "net/dlp.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "net/secrets.hpp"
#include "profile/names.hpp"

namespace {

using namespace agentbox::net;
using dlp::BodyScanner;
using dlp::Finding;
using dlp::Rules;

const std::string kReal = "sk-ant-api03-REALREALREALREALREALREALREALREALREAL0123";
// Shaped like an Anthropic key on purpose: the stand-in random_stand_in makes for kReal.
const std::string kStandIn = stand_in_for(kReal, "Zq3Xv9Lm2Pw8Rt4Ys7Uk1Nb6Hd5Jf0Gc3Ae7Qo2Wi9Ex4");

Rules rules(std::vector<dlp::RuleOff> off = {}) {
    return Rules({{"KEY", kReal, kStandIn}}, std::move(off));
}

// A value of each format, built from parts so that this file holds none whole.
std::string aws() { return std::string("AKIA") + "IOSFODNN7EXAMPLE"; }
std::string ghp() { return std::string("ghp_") + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"; }
std::string pem() { return std::string("-----BEGIN RSA ") + "PRIVATE KEY-----\nMIIEow..."; }
std::string openai() { return std::string("sk-proj-") + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3"; }

std::string rule_of(const std::string& text, std::string_view host = "api.test") {
    const Rules r = rules();
    return dlp::scan_text(r, host, text).rule;
}

http::Body length(std::size_t n) {
    http::Body b;
    b.kind = http::BodyKind::length;
    b.length = n;
    return b;
}

http::Body chunked() {
    http::Body b;
    b.kind = http::BodyKind::chunked;
    return b;
}

std::string chunk(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + std::string(data) + "\r\n";
}

struct Fed {
    bool ok = true;
    std::string out;  // what was released for upstream
    Finding finding;
};

// `raw` fed in pieces cut at `cuts` (raw offsets, ascending).
Fed feed(const Rules& r, const http::Body& body, std::string_view raw, std::vector<std::size_t> cuts) {
    BodyScanner s(r, "api.test", body);
    Fed f;
    std::size_t at = 0;
    cuts.push_back(raw.size());
    for (std::size_t c : cuts) {
        if (!s.feed(raw.substr(at, c - at), f.out)) {
            f.ok = false;
            f.finding = s.finding();
            return f;
        }
        at = c;
    }
    CHECK(s.done());
    return f;
}

}  // namespace

TEST_CASE("a real value in a body is found whatever the piece boundaries") {
    const Rules r = rules();
    const std::string body = "{\"prompt\": \"hello\", \"x\": \"" + kReal + "\"}";
    const std::size_t at = body.find(kReal);
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        for (std::size_t cut2 = cut; cut2 <= body.size(); cut2 += 7) {
            const Fed f = feed(r, length(body.size()), body, {cut, cut2});
            REQUIRE_FALSE(f.ok);
            CHECK(f.finding.rule == "secret:KEY");
            CHECK(f.finding.where == "body");
            CHECK(f.finding.offset == at);
            // Nothing of the value was let through: the released bytes end before it.
            CHECK(f.out.size() <= at);
        }
    }
}

TEST_CASE("a real value split by chunked framing is found in the de-chunked payload") {
    const Rules r = rules();
    const std::string payload = "data=" + kReal + "&more";
    const std::size_t at = payload.find(kReal);
    for (std::size_t split = 1; split < payload.size(); ++split) {
        const std::string raw = chunk(payload.substr(0, split)) + chunk(payload.substr(split)) +
                                "0\r\n\r\n";
        for (std::size_t cut = 0; cut <= raw.size(); cut += 3) {
            const Fed f = feed(r, chunked(), raw, {cut});
            REQUIRE_FALSE(f.ok);
            CHECK(f.finding.rule == "secret:KEY");
            CHECK(f.finding.offset == at);
            CHECK(f.out.find(kReal.substr(0, kReal.size() - 1)) == std::string::npos);
            CHECK(f.out.find("0\r\n\r\n") == std::string::npos);  // never the last chunk
        }
    }
}

TEST_CASE("one-byte chunks still find the value and hold back a bounded amount") {
    const Rules r = rules();
    std::string raw;
    const std::string payload = std::string(300, 'x') + kReal;
    for (char c : payload) raw += chunk(std::string(1, c));
    raw += "0\r\n\r\n";
    const Fed f = feed(r, chunked(), raw, {});
    REQUIRE_FALSE(f.ok);
    CHECK(f.finding.offset == 300);
}

TEST_CASE("a clean body is released whole, byte for byte, at its end") {
    const Rules r = rules();
    const std::string body = "just some text, " + kStandIn + ", and akia" + std::string(500, 'y');
    for (std::size_t cut = 0; cut <= body.size(); cut += 11) {
        const Fed f = feed(r, length(body.size()), body, {cut});
        REQUIRE(f.ok);
        CHECK(f.out == body);
    }
    const std::string raw = chunk(body.substr(0, 100)) + chunk(body.substr(100)) + "0\r\n\r\n";
    for (std::size_t cut = 0; cut <= raw.size(); ++cut) {
        const Fed f = feed(r, chunked(), raw, {cut});
        REQUIRE(f.ok);
        CHECK(f.out == raw);
    }
}

TEST_CASE("bytes are released as they are cleared: the carry stays under the longest pattern") {
    const Rules r = rules();
    const std::string body(100000, 'q');
    BodyScanner s(r, "api.test", length(body.size() + 10));
    std::string out;
    REQUIRE(s.feed(body, out));
    CHECK(out.size() + r.lookahead() - 1 >= body.size());
    CHECK(out.size() < body.size());
}

TEST_CASE("the stand-in is never a finding, though it has a key's shape") {
    CHECK(rule_of("Bearer " + kStandIn) == "");
    CHECK(rule_of(kStandIn) == "");
    CHECK(rule_of("{\"key\":\"" + kStandIn + "\"}") == "");
    // A real Anthropic-format key that is not the stand-in is.
    std::string other = kStandIn;
    other.back() = other.back() == 'a' ? 'b' : 'a';
    CHECK(rule_of("Bearer " + other) == "anthropic-key");
}

TEST_CASE("format rules: what each one catches, and case") {
    CHECK(rule_of("key=" + aws()) == "aws-access-key-id");
    CHECK(rule_of(std::string("ASIA") + "ABCDEFGHIJKLMNOP") == "aws-access-key-id");
    CHECK(rule_of(std::string("akia") + "iosfodnn7example") == "");  // the format is upper case
    CHECK(rule_of("xx" + aws()) == "");                               // inside a longer word
    CHECK(rule_of("token " + ghp()) == "github-token");
    CHECK(rule_of(std::string("github_pat_") + "11ABCDEFG0123456789abcdefXYZ") == "github-token");
    CHECK(rule_of(std::string("GHP_") + ghp().substr(4)) == "");
    CHECK(rule_of(pem()) == "private-key");
    CHECK(rule_of(std::string("-----BEGIN ") + "PRIVATE KEY-----") == "private-key");
    CHECK(rule_of(std::string("-----BEGIN OPENSSH ") + "PRIVATE KEY-----") == "private-key");
    CHECK(rule_of(std::string("-----BEGIN ") + "PUBLIC KEY-----") == "");
    CHECK(rule_of(std::string("-----begin ") + "private key-----") == "");
    CHECK(rule_of("Authorization: Bearer " + openai()) == "openai-key");
    CHECK(rule_of(std::string("sk-") + "learn-preprocessing-standard-scaler-docs") == "");  // words
    CHECK(rule_of(std::string("sk-ant-") + "api03-abcdefghijklmnopqrstuvwxyzABCDEF012") ==
          "anthropic-key");
    CHECK(rule_of(std::string("SK-ANT-") + "API03-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345") == "");
}

TEST_CASE("a format value split across pieces at every offset is found") {
    const Rules r = rules();
    for (const std::string& v : {aws(), ghp(), pem(), openai()}) {
        const std::string body = "a: " + v + " ;";
        for (std::size_t cut = 0; cut <= body.size(); ++cut) {
            const Fed f = feed(r, length(body.size()), body, {cut});
            REQUIRE_FALSE(f.ok);
            CHECK(f.finding.offset == 3);
        }
    }
}

TEST_CASE("a format rule turned off for one host stays on for the others") {
    const Rules r = rules({{"github-token", "api.github.com"}});
    CHECK(dlp::scan_text(r, "api.github.com", ghp()).rule == "");
    CHECK(dlp::scan_text(r, "evil.test", ghp()).rule == "github-token");
    // Real values are not a format: no host may receive them.
    CHECK(dlp::scan_text(r, "api.github.com", kReal).rule == "secret:KEY");
}

TEST_CASE("check_head: method, target (decoded too), fields, basic credentials, encodings") {
    const Rules r = rules();
    http::Head h;
    h.method = "POST";
    h.target = "/v1/messages";
    h.version = "HTTP/1.1";
    const http::Body none;
    CHECK_FALSE(dlp::check_head(r, "api.test", h, none));

    h.headers = {{"x-api-key", kStandIn}};
    CHECK_FALSE(dlp::check_head(r, "api.test", h, none));

    h.headers = {{"x-api-key", kReal}};
    Finding f = dlp::check_head(r, "api.test", h, none);
    CHECK(f.rule == "secret:KEY");
    CHECK(f.where == "header x-api-key");

    h.headers = {{"Authorization", "Basic " + base64_encode("x-access-token:" + kReal)}};
    CHECK(dlp::check_head(r, "api.test", h, none).where == "header Authorization");

    h.headers = {{ghp(), "1"}};
    f = dlp::check_head(r, "api.test", h, none);
    CHECK(f.where == "a header name");

    h.headers = {};
    h.target = "/q?k=" + kReal;
    CHECK(dlp::check_head(r, "api.test", h, none).where == "url");
    h.target = "/q?k=%67hp_" + ghp().substr(4);
    CHECK(dlp::check_head(r, "api.test", h, none).rule == "github-token");

    h.target = "/upload";
    h.headers = {{"Content-Encoding", "br"}};
    f = dlp::check_head(r, "api.test", h, length(10));
    CHECK(f.rule == "unscannable");
    CHECK(f.where == "header Content-Encoding");
    h.headers = {{"Content-Encoding", "gzip, gzip"}};
    CHECK(dlp::check_head(r, "api.test", h, length(10)).rule == "unscannable");
    h.headers = {{"Content-Encoding", "gzip"}, {"Content-Encoding", "deflate"}};
    CHECK(dlp::check_head(r, "api.test", h, length(10)).rule == "unscannable");
    for (const char* ok : {"identity", "gzip", "GZIP", "x-gzip", "deflate"}) {
        h.headers = {{"Content-Encoding", ok}};
        CHECK_FALSE(dlp::check_head(r, "api.test", h, length(10)));
    }
    // Without a body, the field says nothing about what is sent.
    h.headers = {{"Content-Encoding", "br"}};
    CHECK_FALSE(dlp::check_head(r, "api.test", h, http::Body{}));
}

namespace {

// gzip (window bits 31) or zlib ("deflate", 15) of `data`.
std::string compress(std::string_view data, int bits) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// What a receiver could decode of `data` (a prefix of a stream, perhaps).
std::string inflate_prefix(std::string_view data) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 32) == Z_OK);
    std::string out;
    char buf[4096];
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    for (;;) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        const int rc = inflate(&z, Z_SYNC_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
        if (rc != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) break;
    }
    inflateEnd(&z);
    return out;
}

http::Head encoded(const char* coding) {
    http::Head h;
    h.method = "POST";
    h.target = "/";
    h.version = "HTTP/1.1";
    h.headers = {{"Content-Encoding", coding}};
    return h;
}

Fed feed_head(const Rules& r, const http::Head& head, const http::Body& body, std::string_view raw,
              std::size_t cut) {
    BodyScanner s(r, "api.test", body, &head);
    Fed f;
    for (std::string_view piece : {raw.substr(0, cut), raw.substr(cut)}) {
        if (!s.feed(piece, f.out)) {
            f.ok = false;
            f.finding = s.finding();
            return f;
        }
    }
    CHECK(s.done());
    return f;
}

}  // namespace

TEST_CASE("a gzip or deflate body is decoded and the decoded bytes searched") {
    const Rules r = rules();
    // Incompressible-ish text before the value, so that some compressed bytes go first.
    std::string text;
    for (int i = 0; i < 4000; ++i) text += std::to_string(i * 7919 % 10007) + ",";
    const std::string payload = text + kReal + " tail";
    for (const auto& [coding, bits] : {std::pair{"gzip", 31}, std::pair{"deflate", 15}}) {
        const std::string z = compress(payload, bits);
        for (std::size_t cut = 0; cut <= z.size(); cut += 97) {
            const Fed f = feed_head(r, encoded(coding), length(z.size()), z, cut);
            REQUIRE_FALSE(f.ok);
            CHECK(f.finding.rule == "secret:KEY");
            CHECK(f.finding.offset == text.size());
            // What went upstream does not decode to the value, nor to most of it.
            CHECK(inflate_prefix(f.out).find(kReal.substr(0, 20)) == std::string::npos);
        }
        // The same, chunked.
        const std::string raw = chunk(z.substr(0, z.size() / 2)) + chunk(z.substr(z.size() / 2)) +
                                "0\r\n\r\n";
        const Fed f = feed_head(r, encoded(coding), chunked(), raw, raw.size() / 3);
        REQUIRE_FALSE(f.ok);
        CHECK(f.finding.rule == "secret:KEY");
    }
}

TEST_CASE("a clean gzip body goes whole; a broken one is refused") {
    const Rules r = rules();
    const std::string z = compress(std::string(300000, 'a') + kStandIn, 31);
    for (std::size_t cut = 0; cut <= z.size(); cut += 13) {
        const Fed f = feed_head(r, encoded("gzip"), length(z.size()), z, cut);
        REQUIRE(f.ok);
        CHECK(f.out == z);
    }
    std::string broken = z;
    broken[broken.size() - 8] = static_cast<char>(broken[broken.size() - 8] ^ 0x55);  // its CRC
    const Fed f = feed_head(r, encoded("gzip"), length(broken.size()), broken, 0);
    CHECK_FALSE(f.ok);
    CHECK(f.finding.rule == "unscannable");
    const Fed plain = feed_head(r, encoded("gzip"), length(10), "not gzip!!", 3);
    CHECK_FALSE(plain.ok);
}

TEST_CASE("a finding never holds the value or a piece of it") {
    const Rules r = rules();
    http::Head h;
    h.method = "GET";
    h.target = "/x?" + kReal;
    h.version = "HTTP/1.1";
    h.headers = {{"x", kReal}};
    const Finding f = dlp::check_head(r, "api.test", h, http::Body{});
    const std::string all = f.rule + f.where + f.detail;
    CHECK(all.find("REAL") == std::string::npos);
    CHECK(all.find("sk-ant") == std::string::npos);
}

TEST_CASE("chunk extensions and trailers are refused: their bytes would go unsearched") {
    const Rules r = rules();
    Fed f = feed(r, chunked(), "5;x=1\r\nhello\r\n0\r\n\r\n", {});
    CHECK_FALSE(f.ok);
    CHECK(f.finding.rule == "unscannable");
    f = feed(r, chunked(), "5\r\nhello\r\n0\r\nX-Key: v\r\n\r\n", {});
    CHECK_FALSE(f.ok);
    CHECK(f.finding.rule == "unscannable");
    f = feed(r, chunked(), "5 \r\nhello\r\n0\r\n\r\n", {});
    CHECK(f.ok);
}

TEST_CASE("the profile's switchable rules are exactly the scanner's format rules") {
    // network.dlp_off is validated against profile::kDlpFormatRules (profile cannot see net/):
    // a rule added here without it could not be switched, one renamed would switch nothing.
    std::vector<std::string_view> names(std::begin(agentbox::profile::kDlpFormatRules),
                                        std::end(agentbox::profile::kDlpFormatRules));
    CHECK(names == dlp::format_rules());
}

TEST_CASE("a switched-off format is cleared in a streamed body to its host only") {
    const Rules r = rules({{"private-key", "vault.test"}});
    const std::string body = "key=" + pem() + "&also=" + kReal;
    for (const std::string host : {"vault.test", "evil.test"}) {
        BodyScanner s(r, host, length(body.size() - kReal.size() - 6));
        std::string out;
        const bool ok = s.feed(body.substr(0, body.size() - kReal.size() - 6), out);
        CHECK(ok == (host == "vault.test"));
        if (!ok) CHECK(s.finding().rule == "private-key");
    }
    // The real value in the same body is refused even at the host with the switch.
    BodyScanner s(r, "vault.test", length(body.size()));
    std::string out;
    CHECK_FALSE(s.feed(body, out));
    CHECK(s.finding().rule == "secret:KEY");
}
