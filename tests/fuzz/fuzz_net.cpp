// libFuzzer target for the proxy's parsers (net/http, and net/tls for the first bytes of a
// CONNECT tunnel) and its request inspection (net/dlp: a request inside an intercepted tunnel,
// and request bodies cut at random): arbitrary bytes as what a sandboxed client or an upstream
// server sends. A refusal (bad, too_large, an error string) is the expected answer to bad
// input; a crash, a sanitizer report or a broken invariant is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/dlp.hpp"
#include "net/http.hpp"
#include "net/secrets.hpp"
#include "net/tls.hpp"
#include "policy/requestrules.hpp"

namespace {

using namespace agentbox::net::http;

void check(bool ok) {
    if (!ok) std::abort();
}

// The chunked framer must find the same end however the bytes are split.
void chunked(std::string_view data) {
    Chunked whole;
    const std::size_t all = whole.feed(data);
    check(all <= data.size());
    Chunked halves;
    const std::size_t cut = data.size() / 3;
    std::size_t used = halves.feed(data.substr(0, cut));
    if (!halves.done() && halves.error().empty()) used += halves.feed(data.substr(cut));
    check(whole.done() == halves.done());
    if (whole.done()) check(used == all);
    // As the proxy splices a large chunk: whatever chunk data is due is skipped rather than
    // fed, the rest fed byte by byte. The body must end at the same byte, or fail alike.
    Chunked skipping;
    std::size_t i = 0;
    while (i < data.size() && !skipping.done() && skipping.error().empty()) {
        if (const std::uint64_t n = skipping.data_left()) {
            const std::size_t k = static_cast<std::size_t>(
                std::min<std::uint64_t>(n, data.size() - i));
            skipping.skip(k);
            i += k;
        } else {
            i += skipping.feed(data.substr(i, 1));
        }
    }
    check(skipping.done() == whole.done());
    check(skipping.error().empty() == whole.error().empty());
    if (whole.done()) check(i == all);
}

void fuzz_request(std::string_view data) {
    HeadResult r = parse_request(data, 4096);
    check(r.consumed <= data.size());
    if (r.status != Parse::done) return;
    Target t;
    if (!parse_target(r.head, t).empty()) return;
    check(!t.authority.empty() && t.port != 0);
    Body b;
    (void)request_body(r.head, b);
    if (t.tunnel) return;  // a tunnel forwards no head
    check(!t.path.empty() && t.path.front() == '/');
    const std::string up = upstream_request(r.head, t);
    // The rewritten head must itself parse, as exactly one complete head (unless the added
    // Host field took it past the field-count bound).
    HeadResult again = parse_request(up, up.size() + 1);
    if (r.head.headers.size() < 127)
        check(again.status == Parse::done && again.consumed == up.size());
}

void fuzz_response(std::string_view data) {
    HeadResult s = parse_response(data, 4096);
    check(s.consumed <= data.size());
    if (s.status != Parse::done) return;
    Body b;
    (void)response_body(s.head, "GET", b);
    const std::string out = client_response(s.head, true);
    if (s.head.headers.size() < 127)
        check(parse_response(out, out.size() + 1).status == Parse::done);
}

// A ClientHello's verdict on a prefix is "incomplete" or the same as on the whole: bytes that
// arrive later never change what was decided on the earlier ones.
void fuzz_client_hello(std::string_view data) {
    const agentbox::net::tls::ClientHello whole = agentbox::net::tls::client_hello(data);
    if (whole.kind == agentbox::net::tls::Hello::name) check(!whole.server_name.empty());
    const agentbox::net::tls::ClientHello part =
        agentbox::net::tls::client_hello(data.substr(0, data.size() / 2));
    if (part.kind != agentbox::net::tls::Hello::incomplete)
        check(part.kind == whole.kind && part.server_name == whole.server_name);
}

// Secrets in a request head (net/secrets): to a host the secret is not bound to, a request
// with its stand-in anywhere is refused and left as it was; to the bound host no stand-in
// remains; and the real value never appears in a request to another host.
void fuzz_secrets(std::string_view data) {
    HeadResult r = parse_request(data, 4096);
    if (r.status != Parse::done) return;
    agentbox::net::SecretValue s;
    s.name = "K";
    s.real = "REALVALUE-0123456789abcdef";
    s.stand_in = "sk-0123456789ABCDEFGHIJKLMNOP";  // fixed, so that inputs can contain it
    s.hosts = {"bound.test"};
    const std::vector<agentbox::net::SecretValue> secrets{s};
    for (const char* host : {"bound.test", "other.test"}) {
        Head h = r.head;
        std::string target = h.target;
        const agentbox::net::SecretUse use = agentbox::net::rewrite_request(h, target, host, secrets);
        std::string all = target;
        for (const auto& f : h.headers) all += f.name + ": " + f.value + "\n";
        if (use.refused) {
            check(target == r.head.target && h.headers.size() == r.head.headers.size());
            for (std::size_t i = 0; i < h.headers.size(); ++i)
                check(h.headers[i].value == r.head.headers[i].value);
        } else if (std::string_view(host) == "bound.test") {
            std::string values = target;
            for (const auto& f : h.headers) values += f.value + "\n";
            check(values.find(s.stand_in) == std::string::npos);
        } else {
            // Nothing was put in for another host: what carries the real value came so.
            std::string before = r.head.target;
            for (const auto& f : r.head.headers) before += f.name + ": " + f.value + "\n";
            check(all == before);
        }
    }
}

// Request rules (policy/requestrules): the bytes as a request target. A path the normalizer
// accepts is in normal form (normalizing it again changes nothing) and holds nothing a server
// could resolve elsewhere; the matcher answers without blowing up on the bytes as a pattern.
void fuzz_request_path(std::string_view data) {
    std::string path;
    if (agentbox::policy::normalize_path(data, path).empty()) {
        check(!path.empty() && path.front() == '/');
        check(path.find("//") == std::string::npos && path.find('?') == std::string::npos);
        check(path.find('\\') == std::string::npos);
        for (const char* dot : {"/./", "/../"}) check(path.find(dot) == std::string::npos);
        check(!path.ends_with("/.") && !path.ends_with("/.."));
        std::string again;
        check(agentbox::policy::normalize_path(path, again).empty() && again == path);
        check(agentbox::policy::path_matches("/**", path));
        // A prefix rule matches only what is under its prefix.
        if (agentbox::policy::path_matches("/a/**", path))
            check(path == "/a" || path.starts_with("/a/"));
    }
    const std::size_t cut = data.size() / 2;
    (void)agentbox::policy::path_matches(data.substr(0, cut), data.substr(cut));
}

// ---- net/dlp

const std::string kReal = "REALVALUE-0123456789abcdef";
const std::string kStand = "sk-ant-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";  // inputs can hold it

const agentbox::net::dlp::Rules& dlp_rules() {
    static const agentbox::net::dlp::Rules r({{"K", kReal, kStand}}, {});
    return r;
}

// Cut points from a seed: the same input always cut the same way, each cut 1..64 bytes on.
std::vector<std::size_t> cuts(std::uint32_t seed, std::size_t n) {
    std::vector<std::size_t> out;
    std::size_t at = 0;
    for (;;) {
        seed = seed * 1103515245u + 12345u;
        at += 1 + (seed >> 16) % 64;
        if (at >= n) return out;
        out.push_back(at);
    }
}

struct Result {
    bool ok = true;
    bool done = false;
    std::string rule;
    std::uint64_t offset = 0;
    std::string out;
};

Result feed_body(const agentbox::net::dlp::Rules& r, const Body& body, std::string_view raw,
                 const std::vector<std::size_t>& at, const Head* head = nullptr) {
    agentbox::net::dlp::BodyScanner s(r, "api.test", body, head);
    Result res;
    std::size_t from = 0;
    std::vector<std::size_t> all = at;
    all.push_back(raw.size());
    for (std::size_t c : all) {
        if (!s.feed(raw.substr(from, c - from), res.out)) {
            res.ok = false;
            res.rule = s.finding().rule;
            res.offset = s.finding().offset;
            return res;
        }
        from = c;
    }
    res.done = s.done();
    return res;
}

// A body's verdict does not depend on how it is cut, or on chunked framing; what is let go
// before a finding is a prefix of the body that holds no whole real value; a clean body goes
// whole. The streaming scanner agrees with the whole-text one.
void fuzz_dlp_body(std::string_view data) {
    if (data.size() < 4) return;
    const std::uint32_t seed = static_cast<std::uint8_t>(data[0]) |
                               static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[1])) << 8;
    const std::string_view payload = data.substr(2);
    const auto& r = dlp_rules();
    const agentbox::net::dlp::Finding whole = agentbox::net::dlp::scan_text(r, "api.test", payload);

    Body length;
    length.kind = BodyKind::length;
    length.length = payload.size();
    const Result a = feed_body(r, length, payload, cuts(seed, payload.size()));
    check(a.ok == !whole);
    check(!a.ok || a.done);
    if (!a.ok) {
        check(a.rule == whole.rule && a.offset == whole.offset);
        check(payload.substr(0, a.out.size()) == a.out);
        check(a.out.find(kReal) == std::string::npos && a.out.size() <= a.offset);
    } else {
        check(a.out == payload);
    }

    // The same payload, chunked at other points.
    std::string raw;
    std::size_t from = 0;
    std::vector<std::size_t> parts = cuts(seed ^ 0x5bd1u, payload.size());
    parts.push_back(payload.size());
    for (std::size_t c : parts) {
        if (c == from) continue;
        char size[24];
        std::snprintf(size, sizeof size, "%zx\r\n", c - from);
        raw += size;
        raw.append(payload.substr(from, c - from));
        raw += "\r\n";
        from = c;
    }
    raw += "0\r\n\r\n";
    Body chunked;
    chunked.kind = BodyKind::chunked;
    const Result b = feed_body(r, chunked, raw, cuts(seed * 31u + 7u, raw.size()));
    check(b.ok == a.ok && b.rule == a.rule && b.offset == a.offset);
    if (b.ok) check(b.done && b.out == raw);
}

// Arbitrary bytes as a chunked body, and as a gzip one: a refusal or a verdict, never a
// crash; whatever the scanner lets go is a prefix of its input. The proxy feeds it exactly the
// bytes http::Chunked says belong to the body and stops when that says done: by then the
// scanner has refused the body or let all of it go (else the end would be held back forever).
void fuzz_dlp_raw(std::string_view data) {
    const auto& r = dlp_rules();
    Body chunked;
    chunked.kind = BodyKind::chunked;
    const Result c = feed_body(r, chunked, data, cuts(static_cast<std::uint32_t>(data.size()), data.size()));
    check(data.substr(0, c.out.size()) == c.out);
    Chunked framer;
    const std::size_t used = framer.feed(data);
    if (framer.done()) {
        const Result d = feed_body(r, chunked, data.substr(0, used), cuts(3, used));
        check(!d.ok || (d.done && d.out == data.substr(0, used)));
    }
    Head gz;
    gz.method = "POST";
    gz.target = "/";
    gz.version = "HTTP/1.1";
    gz.headers = {{"Content-Encoding", "gzip"}};
    Body length;
    length.kind = BodyKind::length;
    length.length = data.size();
    const Result g = feed_body(r, length, data, cuts(7, data.size()), &gz);
    check(data.substr(0, g.out.size()) == g.out);
}

// A request as it arrives inside an intercepted tunnel (intercepted() in net/proxy.cpp):
// parsed, origin-form only, checked by net/dlp before the stand-in swap. A head that holds
// the real value in its method, target or a field is always refused, and a finding never
// holds a value.
void fuzz_intercepted_request(std::string_view data) {
    HeadResult r = parse_request(data, 4096);
    if (r.status != Parse::done) return;
    Head& req = r.head;
    if (req.target.empty() || req.target.front() != '/' || req.method == "CONNECT") return;
    Body body;
    if (!request_body(req, body).empty()) return;
    const agentbox::net::dlp::Finding f =
        agentbox::net::dlp::check_head(dlp_rules(), "api.test", req, body);
    std::string sent = req.method + " " + req.target;
    for (const auto& h : req.headers) sent += "\n" + h.name + "\n" + h.value;
    if (sent.find(kReal) != std::string::npos) check(static_cast<bool>(f));
    const std::string said = f.rule + f.where + f.detail;
    check(said.find(kReal) == std::string::npos && said.find(kReal.substr(0, 8)) == std::string::npos);
    if (f) return;
    // What goes upstream after the swap.
    agentbox::net::SecretValue s;
    s.name = "K";
    s.real = kReal;
    s.stand_in = kStand;
    s.hosts = {"api.test"};
    Target inner;
    inner.host = "api.test";
    inner.port = 443;
    inner.authority = "api.test:443";
    inner.host_header = "api.test";
    inner.path = req.target;
    const agentbox::net::SecretUse use = agentbox::net::rewrite_request(req, inner.path, "api.test", {s});
    if (use.refused) return;
    const std::string up = upstream_request(req, inner);
    HeadResult again = parse_request(up, up.size() + 1);
    if (req.headers.size() < 127) check(again.status == Parse::done);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view data(reinterpret_cast<const char*>(bytes), size);
    fuzz_request(data);
    fuzz_response(data);
    chunked(data);
    fuzz_client_hello(data);
    fuzz_secrets(data);
    fuzz_request_path(data);
    fuzz_dlp_body(data);
    fuzz_dlp_raw(data);
    fuzz_intercepted_request(data);
    return 0;
}
