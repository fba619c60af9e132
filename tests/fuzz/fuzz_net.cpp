// libFuzzer target for the proxy's parsers (net/http, and net/tls for the first bytes of a
// CONNECT tunnel): arbitrary bytes as what a sandboxed client or an upstream server sends. A refusal (bad, too_large, an error string) is the
// expected answer to bad input; a crash, a sanitizer report or a broken invariant is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view data(reinterpret_cast<const char*>(bytes), size);
    fuzz_request(data);
    fuzz_response(data);
    chunked(data);
    fuzz_client_hello(data);
    fuzz_secrets(data);
    fuzz_request_path(data);
    return 0;
}
