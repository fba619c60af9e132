// HTTP/1.1 as the proxy needs it (RFC 9110/9112), pure: message heads, request targets, body
// framing and the chunked coding. No I/O here, so the parser is unit-tested and fuzzed alone.
//
// The parser is strict on purpose. A proxy and the server behind it must agree on where one
// message ends and the next begins, or a request can be smuggled past the policy check; so
// anything two implementations might read differently (obs-fold, both Content-Length and
// Transfer-Encoding, a bare CR, a space before the colon) is a 400, not a guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agentbox::net::http {

struct Header {
    std::string name;   // as received
    std::string value;  // leading and trailing whitespace removed
};

struct Head {
    // Request: method, target, version. Response: version, status, reason.
    std::string method, target, version;
    int status = 0;
    std::string reason;
    std::vector<Header> headers;

    // The values of every field called `name` (case-insensitive).
    std::vector<std::string> all(std::string_view name) const;
    std::optional<std::string> get(std::string_view name) const;  // first value
    // A comma-separated field (Connection, Transfer-Encoding) contains this token.
    bool has_token(std::string_view name, std::string_view token) const;
    bool http10() const { return version == "HTTP/1.0"; }
};

enum class Parse { incomplete, done, bad, too_large };

struct HeadResult {
    Parse status = Parse::incomplete;
    std::size_t consumed = 0;  // bytes of the head, including the empty line (status done)
    std::string error;         // what is wrong (bad, too_large)
    Head head;
};

// Parse a request head at the start of `buf`. Leading empty lines are skipped (RFC 9112 §2.2).
// `too_large` when no complete head lies within the first `max` bytes.
HeadResult parse_request(std::string_view buf, std::size_t max);
HeadResult parse_response(std::string_view buf, std::size_t max);

// The target of a proxy request.
struct Target {
    bool tunnel = false;      // CONNECT
    std::string authority;    // "host:port" as the policy sees it ("[v6]:port" for IPv6)
    std::string host;         // as written (not yet canonical), without brackets for v6 kept
    std::uint16_t port = 0;
    std::string host_header;  // what Host: must say upstream (authority as written)
    std::string path;         // origin-form for the upstream request ("/" when empty)
};

// CONNECT takes authority-form "host:port" (the port is required); anything else the
// absolute-form "http://host[:port]/path?query". Userinfo ("user@host") is refused: it is a
// classic way to make one name look like another (http://allowed.com@evil.com/). Other
// schemes are refused too: the proxy does not originate TLS; clients use CONNECT for https.
// Returns the error text, or "" on success.
std::string parse_target(const Head& request, Target& out);

enum class BodyKind { none, length, chunked, until_close };
struct Body {
    BodyKind kind = BodyKind::none;
    std::uint64_t length = 0;  // BodyKind::length
};

// How the request's body is delimited (RFC 9112 §6.3). Returns the error text or "".
std::string request_body(const Head& request, Body& out);
// How a response to `method` is delimited; `status` from the response head.
std::string response_body(const Head& response, std::string_view method, Body& out);

// The request as sent upstream: origin-form target, Host set to the checked authority, hop-by-
// hop fields (Connection and what it names, Keep-Alive, Proxy-*, TE, Upgrade, Expect) removed.
std::string upstream_request(const Head& request, const Target& target);
// The response as sent to the client: hop-by-hop fields removed, "Connection: close" added when
// the proxy will close the client connection after it.
std::string client_response(const Head& response, bool close);

// The proxy's own answers (400, 403, 502, ...): a short text body and Connection: close.
std::string error_response(int status, std::string_view reason, std::string_view body,
                           std::string_view rule = {});

// The chunked transfer coding, framed without being decoded: the proxy forwards the bytes as
// they are and only needs to know where the message ends. Chunk-size lines and trailers are
// bounded; extensions are allowed but limited in length.
class Chunked {
public:
    // Feed bytes. Returns how many of them belong to the body (the rest is the next message).
    // After done(), feed() consumes nothing. On malformed input sets error() and stops.
    std::size_t feed(std::string_view data);
    bool done() const { return state_ == State::done; }
    const std::string& error() const { return error_; }
    // The bytes of chunk data the coding expects next (0 outside a chunk's data): a caller
    // may move up to that many elsewhere (splice them) and say so with skip(), which frames
    // them exactly as feed() would, without looking at them. The chunk's CRLF, the next
    // size line and the end of the body still go through feed().
    std::uint64_t data_left() const { return state_ == State::data ? left_ : 0; }
    void skip(std::uint64_t n);  // n <= data_left()

private:
    enum class State { size, ext, size_lf, data, data_cr, data_lf, trailer, trailer_line,
                       trailer_line_lf, end_lf, done, bad };
    State state_ = State::size;
    std::uint64_t left_ = 0;
    std::size_t line_ = 0;  // bytes of the current size line or trailer section
    bool digits_ = false;
    std::string error_;
};

inline constexpr std::size_t kMaxHead = 64 * 1024;

}  // namespace agentbox::net::http
