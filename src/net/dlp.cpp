#include "net/dlp.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <iterator>
#include <new>

#include <zlib.h>

#include "net/secrets.hpp"

namespace agentbox::net::dlp {

namespace {

// Where a format's token may be: after the start of the stream or a byte that cannot be part
// of it. Without this, base64 data (which an upload body often is) would now and then hold
// "sk-" and forty letters by chance.
bool word(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return upper(c) || lower(c) || digit(c); }

bool starts(std::string_view v, std::string_view p) { return v.substr(0, p.size()) == p; }

// `n` bytes of `v` from `at`, each one `ok`.
template <class F>
bool run(std::string_view v, std::size_t at, std::size_t n, F ok) {
    if (v.size() < at + n) return false;
    for (std::size_t i = at; i < at + n; ++i)
        if (!ok(v[i])) return false;
    return true;
}

// Lengths: what each format needs to see to decide (the scanner's lookahead).
constexpr std::size_t kPemGap = 24;  // "RSA ", "OPENSSH ", "ENCRYPTED ", "EC ", "DSA "...
constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemEnd = "PRIVATE KEY-----";
constexpr std::size_t kGithubRest = 36;
constexpr std::size_t kGithubPatRest = 22;
constexpr std::size_t kAnthropicRest = 32;
constexpr std::size_t kOpenaiRest = 40;
constexpr std::size_t kFormatLookahead = kPemBegin.size() + kPemGap + kPemEnd.size();

bool pem(std::string_view v) {
    if (!starts(v, kPemBegin)) return false;
    for (std::size_t gap = 0; gap <= kPemGap; ++gap) {
        const std::size_t at = kPemBegin.size() + gap;
        if (starts(v.substr(std::min(at, v.size())), kPemEnd)) return true;
        if (at >= v.size()) return false;
        const char c = v[at];
        if (!(upper(c) || digit(c) || c == ' ')) return false;
    }
    return false;
}

bool aws(std::string_view v) {
    return (starts(v, "AKIA") || starts(v, "ASIA")) &&
           run(v, 4, 16, [](char c) { return upper(c) || digit(c); });
}

bool github(std::string_view v) {
    for (std::string_view p : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"})
        if (starts(v, p)) return run(v, p.size(), kGithubRest, alnum);
    return starts(v, "github_pat_") &&
           run(v, 11, kGithubPatRest, [](char c) { return alnum(c) || c == '_'; });
}

bool anthropic(std::string_view v) {
    return starts(v, "sk-ant-") && run(v, 7, kAnthropicRest, word);
}

// "sk-" is common enough in ordinary text ("sk-learn-...") that letters alone are not a key:
// OpenAI's keys, old and new, mix upper case, lower case and digits.
bool openai(std::string_view v) {
    if (!starts(v, "sk-") || !run(v, 3, kOpenaiRest, word)) return false;
    const std::string_view rest = v.substr(3, kOpenaiRest);
    return std::any_of(rest.begin(), rest.end(), upper) &&
           std::any_of(rest.begin(), rest.end(), lower) &&
           std::any_of(rest.begin(), rest.end(), digit);
}

// In format_rules() order; the token formats want a boundary before them, a PEM block not.
struct Format {
    std::string_view name;
    bool (*match)(std::string_view);
    bool boundary;
};
const Format kFormats[] = {
    {kPrivateKey, pem, false},       {kAwsKeyId, aws, true},        {kGithubToken, github, true},
    {kAnthropicKey, anthropic, true}, {kOpenaiKey, openai, true},
};

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// The request's Content-Encoding, when it has a body: "" (none or identity), "zlib" (gzip,
// x-gzip or deflate, once), or "?" (anything else, or more than one coding).
std::string coding(const http::Head& request) {
    std::string out;
    for (const auto& v : request.all("content-encoding")) {
        std::size_t i = 0;
        while (i <= v.size()) {
            std::size_t j = v.find(',', i);
            if (j == std::string::npos) j = v.size();
            std::string_view tok = std::string_view(v).substr(i, j - i);
            while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
            while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
            i = j + 1;
            if (tok.empty() || iequal(tok, "identity")) continue;
            if (!out.empty()) return "?";
            out = iequal(tok, "gzip") || iequal(tok, "x-gzip") || iequal(tok, "deflate") ? "zlib" : "?";
        }
    }
    return out;
}

}  // namespace

const std::vector<std::string_view>& format_rules() {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> v;
        for (const auto& f : kFormats) v.push_back(f.name);
        return v;
    }();
    return names;
}

Rules::Rules(std::vector<Secret> secrets, std::vector<RuleOff> off)
    : secrets_(std::move(secrets)), off_(std::move(off)) {
    // Empty values would match everywhere; resolve_secrets refuses them, this is the backstop.
    secrets_.erase(std::remove_if(secrets_.begin(), secrets_.end(),
                                  [](const Secret& s) { return s.real.empty(); }),
                   secrets_.end());
    lookahead_ = kFormatLookahead;
    for (const char c : {'-', 'A', 'g', 's'}) first_[static_cast<unsigned char>(c)] = true;
    for (const auto& s : secrets_) {
        lookahead_ = std::max({lookahead_, s.real.size(), s.stand_in.size()});
        first_[static_cast<unsigned char>(s.real[0])] = true;
        if (!s.stand_in.empty()) first_[static_cast<unsigned char>(s.stand_in[0])] = true;
    }
}

unsigned Rules::formats_for(std::string_view host) const {
    unsigned mask = 0;
    const auto& names = format_rules();
    for (std::size_t i = 0; i < names.size(); ++i) {
        bool on = true;
        for (const auto& o : off_)
            if (o.rule == names[i] && o.host == host) on = false;
        if (on) mask |= 1u << i;
    }
    return mask;
}

Scanner::Scanner(const Rules& rules, std::string_view host)
    : rules_(&rules), formats_(rules.formats_for(host)) {}

std::string Scanner::match(std::string_view v, int prev, std::size_t& skip) const {
    // Real values first: a real value is refused even where a stand-in could also start.
    for (const auto& s : rules_->secrets())
        if (starts(v, s.real)) return "secret:" + s.name;
    // The stand-in is what the sandbox is meant to send: shaped like a key on purpose, it is
    // passed over whole, so no format rule sees it.
    for (const auto& s : rules_->secrets())
        if (!s.stand_in.empty() && starts(v, s.stand_in)) {
            skip = s.stand_in.size();
            return {};
        }
    for (std::size_t i = 0; i < std::size(kFormats); ++i) {
        if (!(formats_ & (1u << i))) continue;
        const Format& f = kFormats[i];
        if (f.boundary && prev >= 0 && word(prev)) continue;
        if (f.match(v)) return std::string(f.name);
    }
    return {};
}

bool Scanner::scan(std::string_view window, bool final) {
    const std::size_t n = window.size();
    const std::size_t look = rules_->lookahead();
    // Positions with their whole lookahead in the window are judged now; the rest wait for
    // more bytes (or the end of the stream).
    const std::size_t limit = final ? n : (n >= look ? n - look + 1 : 0);
    std::size_t p = 0;
    while (p < limit) {
        if (skip_ > 0) {
            const std::size_t s = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, limit - p));
            p += s;
            skip_ -= s;
            prev_ = static_cast<unsigned char>(window[p - 1]);
            continue;
        }
        const auto c = static_cast<unsigned char>(window[p]);
        if (rules_->may_start(c)) {
            std::size_t skip = 0;
            std::string rule = match(window.substr(p), prev_, skip);
            if (!rule.empty()) {
                finding_.rule = std::move(rule);
                finding_.offset = base_ + p;
                base_ += p;
                carry_.clear();
                done_ = true;
                return false;
            }
            if (skip > 0) {
                skip_ = skip;
                continue;
            }
        }
        prev_ = c;
        ++p;
    }
    carry_.assign(window.substr(p));
    base_ += p;
    return true;
}

bool Scanner::feed(std::string_view data) {
    if (done_) return false;
    if (data.empty()) return true;
    std::string window;
    window.reserve(carry_.size() + data.size());
    window.append(carry_).append(data);
    return scan(window, false);
}

bool Scanner::finish() {
    if (done_) return !finding_;
    const std::string window = std::move(carry_);
    carry_.clear();
    const bool ok = scan(window, true);
    done_ = true;
    return ok;
}

Finding scan_text(const Rules& rules, std::string_view host, std::string_view text) {
    Scanner s(rules, host);
    if (s.feed(text) && s.finish()) return {};
    return s.finding();
}

Finding check_head(const Rules& rules, std::string_view host, const http::Head& request,
                   const http::Body& body) {
    auto at = [](Finding f, std::string where) {
        f.where = std::move(where);
        f.offset = 0;
        return f;
    };
    if (Finding f = scan_text(rules, host, request.method)) return at(f, "method");
    // As sent, and percent-decoded: "%67hp_..." is "ghp_..." to the server.
    if (Finding f = scan_text(rules, host, request.target)) return at(f, "url");
    if (request.target.find('%') != std::string::npos)
        if (Finding f = scan_text(rules, host, percent_decode(request.target))) return at(f, "url");
    for (const auto& h : request.headers) {
        // The name is checked first and, when it carries a value, not named in the finding.
        if (Finding f = scan_text(rules, host, h.name)) return at(f, "a header name");
        if (Finding f = scan_text(rules, host, h.value)) return at(f, "header " + h.name);
        if (!(iequal(h.name, "authorization") || iequal(h.name, "proxy-authorization"))) continue;
        const std::size_t sp = h.value.find(' ');
        if (sp == std::string::npos || !iequal(std::string_view(h.value).substr(0, sp), "basic"))
            continue;
        std::size_t b = sp;
        while (b < h.value.size() && h.value[b] == ' ') ++b;
        std::string creds;
        if (!base64_decode(std::string_view(h.value).substr(b), creds)) continue;
        if (Finding f = scan_text(rules, host, creds)) return at(f, "header " + h.name);
    }
    // What cannot be decoded cannot be searched: refused before anything is sent.
    if (body.kind != http::BodyKind::none && coding(request) == "?") {
        Finding f;
        f.rule = std::string(kUnscannable);
        f.where = "header Content-Encoding";
        f.detail = "a request body is searched only as identity, gzip or deflate";
        return f;
    }
    return {};
}

struct BodyScanner::Inflate {
    z_stream s{};
    bool ended = false;
    Inflate() {
        // 15 + 32: a zlib or a gzip header, whichever it is ("deflate" is zlib's format).
        if (inflateInit2(&s, 15 + 32) != Z_OK) throw std::bad_alloc();
    }
    ~Inflate() { inflateEnd(&s); }
};

BodyScanner::~BodyScanner() = default;

BodyScanner::BodyScanner(const Rules& rules, std::string_view host, const http::Body& body,
                         const http::Head* request)
    : scan_(rules, host),
      chunked_(body.kind == http::BodyKind::chunked),
      state_(State::data) {
    if (request && body.kind != http::BodyKind::none) {
        const std::string c = coding(*request);
        if (c == "zlib") z_ = std::make_unique<Inflate>();
        if (c == "?") {
            fail("a request body is searched only as identity, gzip or deflate");
            return;
        }
    }
    if (chunked_) {
        state_ = State::size;
    } else if (body.kind == http::BodyKind::length) {
        left_ = body.length;
        if (left_ == 0) state_ = State::done;
    } else {
        // Requests have no body, or one of these two framings (RFC 9112 §6.3).
        state_ = State::done;
    }
}

bool BodyScanner::fail(std::string detail) {
    state_ = State::bad;
    finding_.rule = std::string(kUnscannable);
    finding_.where = "body";
    finding_.offset = decoded_;
    finding_.detail = std::move(detail);
    return false;
}

bool BodyScanner::data(std::string_view d) {
    if (d.empty()) return true;
    // A new run where framing came between this payload byte and the last one.
    if (runs_.empty() || raw_ != data_end_) runs_.emplace_back(decoded_, raw_);
    data_end_ = raw_ + d.size();
    decoded_ += d.size();
    if (z_) return decode(d);
    return scan_.feed(d) || found();
}

bool BodyScanner::found() {
    finding_ = scan_.finding();
    finding_.where = "body";
    state_ = State::bad;
    return false;
}

// Compressed payload in steps of a few hundred bytes, each one's decoded output searched
// before the next: the step points are what lets release() map cleared decoded bytes back
// to the compressed bytes that may go.
bool BodyScanner::decode(std::string_view d) {
    constexpr std::size_t kStep = 512;
    z_stream& s = z_->s;
    std::uint64_t in = decoded_ - d.size();
    while (!d.empty()) {
        const std::size_t step = std::min(d.size(), kStep);
        s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(d.data()));
        s.avail_in = static_cast<uInt>(step);
        for (;;) {
            if (z_->ended) {
                // Another gzip member after the first (RFC 1952 allows several).
                if (inflateReset(&s) != Z_OK) return fail("the compressed body cannot be read");
                z_->ended = false;
            }
            char buf[16 * 1024];
            s.next_out = reinterpret_cast<Bytef*>(buf);
            s.avail_out = sizeof buf;
            const int rc = inflate(&s, Z_NO_FLUSH);
            const std::size_t got = sizeof buf - s.avail_out;
            out_ += got;
            if (out_ > kMaxDecoded) return fail("the compressed body decodes to more than 256 MiB");
            if (got > 0 && !scan_.feed(std::string_view(buf, got))) return found();
            if (rc == Z_STREAM_END) {
                z_->ended = true;
                if (s.avail_in == 0) break;
                continue;
            }
            if (rc == Z_BUF_ERROR) break;  // nothing more without more input
            if (rc != Z_OK) return fail("the compressed body cannot be read");
            if (s.avail_in == 0 && s.avail_out != 0) break;
        }
        in += step;
        steps_.emplace_back(in, out_);
        d.remove_prefix(step);
    }
    return true;
}

// Everything before the first payload byte not yet cleared may go.
void BodyScanner::release(std::string& out) {
    std::uint64_t upto = held_raw_ + held_.size();
    std::uint64_t cleared = state_ == State::done ? decoded_ : scan_.cleared();
    if (z_ && state_ != State::done) {
        // The last step whose decoded bytes are all cleared: its compressed bytes may go.
        std::size_t k = 0;
        while (k < steps_.size() && steps_[k].second <= cleared) held_payload_ = steps_[k++].first;
        steps_.erase(steps_.begin(), steps_.begin() + static_cast<std::ptrdiff_t>(k));
        cleared = held_payload_;
    }
    if (cleared < decoded_) {
        for (auto it = runs_.rbegin(); it != runs_.rend(); ++it)
            if (it->first <= cleared) {
                upto = it->second + (cleared - it->first);
                break;
            }
    }
    const std::size_t n = static_cast<std::size_t>(upto - held_raw_);
    out.append(held_, 0, n);
    held_.erase(0, n);
    held_raw_ = upto;
    // Runs wholly before what is still held are of no more use.
    while (runs_.size() > 1 && runs_[1].first <= cleared) runs_.erase(runs_.begin());
}

bool BodyScanner::feed(std::string_view raw, std::string& out) {
    if (state_ == State::bad) return false;
    if (state_ == State::done) return raw.empty() || fail("bytes after the end of the body");
    std::size_t i = 0;
    while (i < raw.size() && state_ != State::done) {
        const char c = raw[i];
        switch (state_) {
            case State::data: {
                const std::size_t n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(left_, raw.size() - i));
                if (!data(raw.substr(i, n))) return false;
                raw_ += n;
                i += n;
                left_ -= n;
                if (left_ == 0) state_ = chunked_ ? State::data_cr : State::done;
                continue;
            }
            case State::size: {
                const int d = hex(c);
                if (d >= 0) {
                    if (left_ >> 58) return fail("chunk size too large");
                    left_ = left_ * 16 + static_cast<std::uint64_t>(d);
                    digits_ = true;
                } else if (digits_ && (c == ' ' || c == '\t')) {
                    state_ = State::size_ws;
                } else if (digits_ && c == '\r') {
                    state_ = State::size_lf;
                } else if (c == ';') {
                    // An extension's bytes would go upstream unsearched.
                    return fail("chunk extensions are not scanned");
                } else {
                    return fail("malformed chunk size");
                }
                break;
            }
            case State::size_ws:
                if (c == '\r') state_ = State::size_lf;
                else if (c == ';') return fail("chunk extensions are not scanned");
                else if (c != ' ' && c != '\t') return fail("malformed chunk size");
                break;
            case State::size_lf:
                if (c != '\n') return fail("malformed chunk size");
                digits_ = false;
                if (left_ == 0) {
                    // The last chunk: an empty trailer section (CR LF) must follow.
                    state_ = State::trailer_cr;
                } else {
                    state_ = State::data;
                }
                break;
            case State::data_cr:
                if (c != '\r') return fail("chunk data not followed by CRLF");
                state_ = State::data_lf;
                break;
            case State::data_lf:
                if (c != '\n') return fail("chunk data not followed by CRLF");
                state_ = State::size;
                break;
            case State::trailer_cr:
                if (c != '\r') return fail("trailer fields are not scanned");
                state_ = State::trailer_lf;
                break;
            case State::trailer_lf:
                if (c != '\n') return fail("malformed last chunk");
                state_ = State::done;
                break;
            case State::done:
            case State::bad: break;
        }
        ++raw_;
        ++i;
    }
    if (i < raw.size()) return fail("bytes after the end of the body");
    held_.append(raw);
    if (state_ == State::done && !scan_.finish()) return found();
    release(out);
    if (held_.size() > kMaxHeld) return fail("the body's framing holds back too many bytes");
    return true;
}

}  // namespace agentbox::net::dlp
