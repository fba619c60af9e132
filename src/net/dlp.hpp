// Secrets do not leave by the front door (DESIGN.md §6, "Request inspection"): what a request
// from the sandbox carries — its method, target, header fields and body — is searched for the
// run's real secret values and for values in well-known credential formats, and a request with
// one is refused. Pure: no I/O, no asio, so that it is unit-tested and fuzzed alone; the proxy
// calls it where it forwards request bytes (net/proxy.cpp).
//
// A finding names the rule and where it was found (a header's name, "url", a body offset),
// never the value or any part of it: findings go to the log and to the client's 403.
//
// Bodies are scanned as a stream with bounded memory: the scanner carries at most
// (longest pattern - 1) bytes from one piece to the next, and holds back from the upstream
// exactly the bytes it cannot clear yet, so that no complete secret value ever leaves.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"

namespace agentbox::net::dlp {

// The well-known credential formats, by the rule names the log and the profile use.
inline constexpr std::string_view kPrivateKey = "private-key";      // -----BEGIN ... PRIVATE KEY-----
inline constexpr std::string_view kAwsKeyId = "aws-access-key-id";  // AKIA/ASIA + 16
inline constexpr std::string_view kGithubToken = "github-token";    // ghp_ gho_ ghu_ ghs_ ghr_ github_pat_
inline constexpr std::string_view kOpenaiKey = "openai-key";        // sk-...
inline constexpr std::string_view kAnthropicKey = "anthropic-key";  // sk-ant-...
// Not a format: a request body the scanner cannot read (an unsupported Content-Encoding, chunk
// extensions, trailers, framing too fragmented to hold back within the bound) is refused.
inline constexpr std::string_view kUnscannable = "unscannable";

// Every format rule name, in the order they are tried.
const std::vector<std::string_view>& format_rules();

struct Secret {
    std::string name;      // "secret:NAME" is its rule
    std::string real;      // refused wherever it appears in what the sandbox sends
    std::string stand_in;  // never a finding, whatever format it looks like
};

// A format rule turned off for one host (profile [network] dlp_off, "RULE@HOST"): that host's
// legitimate traffic carries such values on purpose.
struct RuleOff {
    std::string rule;
    std::string host;  // canonical
};

class Rules {
public:
    Rules() = default;
    Rules(std::vector<Secret> secrets, std::vector<RuleOff> off);

    const std::vector<Secret>& secrets() const { return secrets_; }
    // Which format rules apply to requests for `host` (bit i: format_rules()[i]).
    unsigned formats_for(std::string_view host) const;
    // The most bytes one match can need to be seen whole (and so to be cleared).
    std::size_t lookahead() const { return lookahead_; }
    // A byte that may start a match: the scanner looks closer only there.
    bool may_start(unsigned char c) const { return first_[c]; }

private:
    std::vector<Secret> secrets_;
    std::vector<RuleOff> off_;
    std::size_t lookahead_ = 0;
    std::array<bool, 256> first_{};
};

struct Finding {
    std::string rule;   // "secret:NAME", a format rule, or kUnscannable
    std::string where;  // "method", "url", "header NAME", "a header name", "body"
    std::uint64_t offset = 0;  // "body": of the decoded payload (after chunked framing)
    std::string detail;        // for kUnscannable: why (never a value)
    explicit operator bool() const { return !rule.empty(); }
};

// Streaming matcher over one byte stream.
class Scanner {
public:
    Scanner(const Rules& rules, std::string_view host);

    // Feed the next bytes. False once a finding is made (finding()); later calls do nothing.
    bool feed(std::string_view data);
    // The end of the stream: the bytes held for lookahead are judged with what there is.
    bool finish();
    const Finding& finding() const { return finding_; }
    // Bytes of the stream judged so far: no match starts before this offset.
    std::uint64_t cleared() const { return base_; }

private:
    bool scan(std::string_view window, bool final);
    // The rule that matches at the start of `v` (prev: the byte before it, -1 at the start),
    // or "" ; sets `skip` when a stand-in starts there.
    std::string match(std::string_view v, int prev, std::size_t& skip) const;

    const Rules* rules_;
    unsigned formats_;
    std::string carry_;      // not yet judged: fewer than lookahead() bytes
    std::uint64_t base_ = 0; // stream offset of carry_[0]
    int prev_ = -1;
    std::uint64_t skip_ = 0; // the rest of a stand-in, not searched
    bool done_ = false;
    Finding finding_;
};

// A whole value (a header, the target): the finding's offset is where in `text`.
Finding scan_text(const Rules& rules, std::string_view host, std::string_view text);

// The request head as the sandbox sent it (before any stand-in is swapped for a real value):
// method, target (as sent and percent-decoded), every field name and value (and the
// credentials inside Authorization: Basic). A body with a Content-Encoding other than
// identity, gzip or deflate (one of them, once) is a finding here already (kUnscannable).
Finding check_head(const Rules& rules, std::string_view host, const http::Head& request,
                   const http::Body& body);

// A request body as it is forwarded, framing and all (Content-Length or chunked: the
// de-chunked payload is what is searched, so a value split by chunk framing is still found).
// With Content-Encoding gzip or deflate the payload is decompressed (streaming, zlib) and
// the decoded bytes searched; more than kMaxDecoded of them, or a stream zlib cannot read,
// is refused (kUnscannable).
class BodyScanner {
public:
    BodyScanner(const Rules& rules, std::string_view host, const http::Body& body,
                const http::Head* request = nullptr);
    ~BodyScanner();
    BodyScanner(const BodyScanner&) = delete;
    BodyScanner& operator=(const BodyScanner&) = delete;

    // The next raw bytes of the body, exactly as received. Appends to `out` the raw bytes that
    // may now go upstream (earlier bytes held back included); at the end of the body, all of
    // them. False on a finding (finding()): nothing more may be sent, and the request must
    // not be completed.
    bool feed(std::string_view raw, std::string& out);
    bool done() const { return state_ == State::done; }
    const Finding& finding() const { return finding_; }

    // The most raw bytes held back at once before the body is refused as unscannable.
    static constexpr std::size_t kMaxHeld = 64 * 1024;
    // The most decoded bytes one compressed body may give: a bound on a decompression bomb's
    // cost (memory is bounded anyway: the decoder streams).
    static constexpr std::uint64_t kMaxDecoded = 256ull * 1024 * 1024;

private:
    bool fail(std::string detail);
    bool data(std::string_view d);
    bool decode(std::string_view d);
    bool found();
    void release(std::string& out);

    enum class State { size, size_ws, size_lf, data, data_cr, data_lf, trailer_cr, trailer_lf, done, bad };
    Scanner scan_;
    bool chunked_;
    State state_;
    std::uint64_t left_ = 0;  // of the current chunk, or of the Content-Length body
    bool digits_ = false;
    std::string held_;           // raw bytes not yet released
    std::uint64_t held_raw_ = 0; // raw offset of held_[0]
    std::uint64_t raw_ = 0;      // raw bytes fed
    std::uint64_t decoded_ = 0;  // payload bytes seen (compressed, with a Content-Encoding)
    std::uint64_t data_end_ = 0; // raw offset just after the last payload byte
    // Payload runs inside held_: (payload offset, raw offset), one per run of data bytes.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> runs_;
    // With a Content-Encoding: the decoder, and (payload offset, decoded offset) after each
    // step of input it took: payload before such a point gives no decoded byte past it.
    struct Inflate;
    std::unique_ptr<Inflate> z_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> steps_;
    std::uint64_t out_ = 0;  // decoded bytes
    std::uint64_t held_payload_ = 0;  // payload offset up to which release() let bytes go
    Finding finding_;
};

}  // namespace agentbox::net::dlp
