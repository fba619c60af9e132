#include "net/http.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace agentbox::net::http {

namespace {

constexpr std::size_t kMaxHeaders = 128;
constexpr std::size_t kMaxChunkLine = 4096;
constexpr std::size_t kMaxTrailers = 16 * 1024;

bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    auto v = parse_decimal(s, 65535);
    if (!v || *v == 0) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}

HeadResult fail(Parse status, std::string error) {
    HeadResult r;
    r.status = status;
    r.error = std::move(error);
    return r;
}

// Split the head into lines. Every line must end in CRLF: a bare CR or LF is where two parsers
// start to disagree about where a header ends.
HeadResult split_head(std::string_view buf, std::size_t max, std::vector<std::string_view>& lines) {
    std::size_t start = 0;
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    while (start + 1 < buf.size() && buf[start] == '\r' && buf[start + 1] == '\n' && start < 8)
        start += 2;
    const std::size_t end = buf.find("\r\n\r\n", start);
    if (end == std::string_view::npos || end + 4 > max) {
        if (buf.size() >= max || (end != std::string_view::npos && end + 4 > max))
            return fail(Parse::too_large,
                        "request head larger than " + std::to_string(max) + " bytes");
        // Reject what can never become valid as soon as it is seen, rather than waiting for
        // max bytes: a bare LF or NUL anywhere in what we have.
        for (std::size_t i = start; i < buf.size(); ++i) {
            const char c = buf[i];
            if (c == '\0') return fail(Parse::bad, "NUL byte in the message head");
            if (c == '\n' && (i == 0 || buf[i - 1] != '\r'))
                return fail(Parse::bad, "line ending in a bare LF");
        }
        return HeadResult{};
    }
    std::string_view head = buf.substr(start, end + 2 - start);
    while (!head.empty()) {
        const std::size_t cr = head.find('\r');
        if (cr == std::string_view::npos || cr + 1 >= head.size() || head[cr + 1] != '\n')
            return fail(Parse::bad, "line ending in a bare CR");
        std::string_view line = head.substr(0, cr);
        if (line.find('\n') != std::string_view::npos)
            return fail(Parse::bad, "line ending in a bare LF");
        lines.push_back(line);
        head.remove_prefix(cr + 2);
    }
    HeadResult r;
    r.status = Parse::done;
    r.consumed = end + 4;
    return r;
}

std::string parse_fields(const std::vector<std::string_view>& lines, Head& h) {
    if (lines.size() - 1 > kMaxHeaders)
        return "more than " + std::to_string(kMaxHeaders) + " header fields";
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string_view line = lines[i];
        if (line.empty()) return "empty header line";
        if (line.front() == ' ' || line.front() == '\t')
            return "obsolete line folding in the header";
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return "header line without ':'";
        std::string_view name = line.substr(0, colon);
        // "Name : value" is refused (RFC 9112 §5.1): some servers would ignore the field,
        // others take it, and that difference is a smuggling vector.
        if (!is_token(name)) return "invalid header name " + util::quote(name);
        std::string_view value = trim_ows(line.substr(colon + 1));
        for (unsigned char c : value)
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return "control character in the value of " + util::quote(name);
        h.headers.push_back(Header{std::string(name), std::string(value)});
    }
    return "";
}

bool valid_version(std::string_view v) { return v == "HTTP/1.1" || v == "HTTP/1.0"; }

// Tokens of a comma-separated list field, trimmed, empty elements skipped.
std::vector<std::string> tokens(const std::string& value) {
    std::vector<std::string> out;
    for (const auto& part : util::split(value, ',')) {
        std::string_view t = trim_ows(part);
        if (!t.empty()) out.push_back(util::to_lower(t));
    }
    return out;
}

// Fields that describe this hop only, plus those the Connection field names. The framing
// fields are never dropped even when named: "Connection: content-length" would otherwise make
// the proxy forward a body the next hop cannot delimit.
bool hop_by_hop(const Head& h, std::string_view name, bool request) {
    static constexpr std::string_view always[] = {"connection", "proxy-connection", "keep-alive",
                                                  "te", "upgrade", "proxy-authenticate"};
    static constexpr std::string_view request_only[] = {"proxy-authorization", "expect", "host"};
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) return false;
    for (auto a : always)
        if (iequals(name, a)) return true;
    if (request)
        for (auto a : request_only)
            if (iequals(name, a)) return true;
    for (const auto& v : h.all("connection"))
        for (const auto& t : tokens(v))
            if (iequals(name, t)) return true;
    return false;
}

}  // namespace

std::vector<std::string> Head::all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& f : headers)
        if (iequals(f.name, name)) out.push_back(f.value);
    return out;
}

std::optional<std::string> Head::get(std::string_view name) const {
    for (const auto& f : headers)
        if (iequals(f.name, name)) return f.value;
    return std::nullopt;
}

bool Head::has_token(std::string_view name, std::string_view token) const {
    for (const auto& v : all(name))
        for (const auto& t : tokens(v))
            if (iequals(t, token)) return true;
    return false;
}

HeadResult parse_request(std::string_view buf, std::size_t max) {
    std::vector<std::string_view> lines;
    HeadResult r = split_head(buf, max, lines);
    if (r.status != Parse::done) return r;
    const std::string_view line = lines.front();
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return fail(Parse::bad, "malformed request line " + util::quote(line));
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method)) return fail(Parse::bad, "invalid method " + util::quote(method));
    if (target.empty()) return fail(Parse::bad, "empty request target");
    for (unsigned char c : target)
        if (c <= 0x20 || c >= 0x7f)
            return fail(Parse::bad, "invalid byte in the request target " + util::quote(target));
    if (!valid_version(version))
        return fail(Parse::bad, "unsupported protocol version " + util::quote(version));
    r.head.method = std::string(method);
    r.head.target = std::string(target);
    r.head.version = std::string(version);
    if (auto e = parse_fields(lines, r.head); !e.empty()) return fail(Parse::bad, e);
    return r;
}

HeadResult parse_response(std::string_view buf, std::size_t max) {
    std::vector<std::string_view> lines;
    HeadResult r = split_head(buf, max, lines);
    if (r.status != Parse::done) return r;
    std::string_view line = lines.front();
    // "HTTP/1.1 200 OK"; the reason phrase may be empty, and some servers omit its space.
    if (line.size() < 12 || !valid_version(line.substr(0, 8)) || line[8] != ' ')
        return fail(Parse::bad, "malformed status line " + util::quote(line));
    auto code = parse_decimal(line.substr(9, 3), 999);
    if (!code || *code < 100 || (line.size() > 12 && line[12] != ' '))
        return fail(Parse::bad, "malformed status line " + util::quote(line));
    r.head.version = std::string(line.substr(0, 8));
    r.head.status = static_cast<int>(*code);
    r.head.reason = line.size() > 13 ? std::string(line.substr(13)) : "";
    if (auto e = parse_fields(lines, r.head); !e.empty()) return fail(Parse::bad, e);
    return r;
}

std::string parse_target(const Head& request, Target& out) {
    out = Target{};
    std::string_view t = request.target;
    std::string_view authority;
    if (request.method == "CONNECT") {
        out.tunnel = true;
        authority = t;
        out.path.clear();
    } else {
        constexpr std::string_view scheme = "http://";
        if (t.size() < scheme.size() || !iequals(t.substr(0, scheme.size()), scheme)) {
            if (t.find("://") != std::string_view::npos)
                return "only http:// URLs can be proxied as requests; https and other "
                       "schemes go through CONNECT (HTTPS_PROXY)";
            return "not a proxy request: expected an absolute http:// URL or CONNECT "
                   "host:port, got " + util::quote(t);
        }
        t.remove_prefix(scheme.size());
        const std::size_t end = t.find_first_of("/?#");
        authority = t.substr(0, end);
        std::string_view rest = end == std::string_view::npos ? "" : t.substr(end);
        if (const auto hash = rest.find('#'); hash != std::string_view::npos)
            rest = rest.substr(0, hash);  // a fragment is never sent to the server
        out.path = rest.empty() || rest.front() != '/' ? "/" + std::string(rest)
                                                        : std::string(rest);
    }
    if (authority.empty()) return "empty host in " + util::quote(request.target);
    if (authority.find('@') != std::string_view::npos)
        return "user information ('@') in " + util::quote(request.target) +
               " is refused: it makes one host name look like another";
    std::string_view host, port;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return "unclosed '[' in " + util::quote(authority);
        host = authority.substr(0, close + 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return "malformed authority " + util::quote(authority);
            port = rest.substr(1);
            if (port.empty()) return "empty port in " + util::quote(authority);
        }
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return "empty port in " + util::quote(authority);
        }
    }
    if (host.empty()) return "empty host in " + util::quote(authority);
    if (port.empty()) {
        if (out.tunnel) return "CONNECT needs host:port, got " + util::quote(authority);
        out.port = 80;
    } else {
        auto p = parse_port(port);
        if (!p) return "invalid port " + util::quote(port) + " in " + util::quote(authority);
        out.port = *p;
    }
    out.host = std::string(host);
    out.host_header = std::string(authority);
    out.authority = out.host + ":" + std::to_string(out.port);
    return "";
}

std::string request_body(const Head& request, Body& out) {
    out = Body{};
    const auto te = request.all("transfer-encoding");
    const auto cl = request.all("content-length");
    if (!te.empty()) {
        if (!cl.empty())
            return "both Transfer-Encoding and Content-Length (a request smuggling pattern)";
        if (request.http10()) return "Transfer-Encoding in an HTTP/1.0 request";
        std::vector<std::string> codings;
        for (const auto& v : te)
            for (auto& c : tokens(v)) codings.push_back(std::move(c));
        if (codings.size() != 1 || codings.front() != "chunked")
            return "unsupported Transfer-Encoding " + util::quote(util::join(te, ", ")) +
                   " (only \"chunked\")";
        out.kind = BodyKind::chunked;
        return "";
    }
    if (!cl.empty()) {
        // Repeated fields must all agree; a list ("5, 5") is refused as ambiguous.
        auto first = parse_decimal(cl.front(), std::uint64_t{1} << 62);
        if (!first) return "invalid Content-Length " + util::quote(cl.front());
        for (const auto& v : cl)
            if (v != cl.front()) return "conflicting Content-Length fields";
        out.kind = *first == 0 ? BodyKind::none : BodyKind::length;
        out.length = *first;
    }
    return "";
}

std::string response_body(const Head& response, std::string_view method, Body& out) {
    out = Body{};
    if (method == "HEAD" || (response.status >= 100 && response.status < 200) ||
        response.status == 204 || response.status == 304)
        return "";
    const auto te = response.all("transfer-encoding");
    if (!te.empty() && !response.http10()) {
        std::vector<std::string> codings;
        for (const auto& v : te)
            for (auto& c : tokens(v)) codings.push_back(std::move(c));
        // RFC 9112 §6.3: chunked last means chunked framing; any other last coding means the
        // body runs until the connection closes. Transfer-Encoding overrides Content-Length.
        out.kind = !codings.empty() && codings.back() == "chunked" ? BodyKind::chunked
                                                                    : BodyKind::until_close;
        return "";
    }
    const auto cl = response.all("content-length");
    if (!cl.empty()) {
        auto first = parse_decimal(cl.front(), std::uint64_t{1} << 62);
        if (!first) return "invalid Content-Length " + util::quote(cl.front()) + " from upstream";
        for (const auto& v : cl)
            if (v != cl.front()) return "conflicting Content-Length fields from upstream";
        out.kind = *first == 0 ? BodyKind::none : BodyKind::length;
        out.length = *first;
        return "";
    }
    out.kind = BodyKind::until_close;
    return "";
}

std::string upstream_request(const Head& request, const Target& target) {
    std::string s = request.method + " " + target.path + " " + request.version + "\r\n";
    // Host is the authority that was checked, whatever the client's own Host field said: the
    // server must not be asked for a different virtual host than the one the policy allowed.
    s += "Host: " + target.host_header + "\r\n";
    for (const auto& f : request.headers) {
        if (hop_by_hop(request, f.name, true)) continue;
        s += f.name + ": " + f.value + "\r\n";
    }
    s += "\r\n";
    return s;
}

std::string client_response(const Head& response, bool close) {
    std::string s = response.version + " " + std::to_string(response.status) + " " +
                    response.reason + "\r\n";
    for (const auto& f : response.headers) {
        if (hop_by_hop(response, f.name, false)) continue;
        s += f.name + ": " + f.value + "\r\n";
    }
    if (close) s += "Connection: close\r\n";
    s += "\r\n";
    return s;
}

std::string error_response(int status, std::string_view reason, std::string_view body,
                           std::string_view rule) {
    std::string text = "agentbox proxy: " + std::string(body) + "\n";
    std::string s = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    s += "Content-Type: text/plain; charset=utf-8\r\n";
    s += "Content-Length: " + std::to_string(text.size()) + "\r\n";
    if (!rule.empty()) {
        // One line, printable: the rule is the profile's own text, quoted by policy.
        std::string r;
        for (char c : rule) r += (c >= 0x20 && c < 0x7f) ? c : '?';
        s += "X-Agentbox-Rule: " + r + "\r\n";
    }
    s += "Connection: close\r\n\r\n" + text;
    return s;
}

void Chunked::skip(std::uint64_t n) {
    if (state_ != State::data || n > left_) {
        state_ = State::bad;
        error_ = "malformed chunked body: more chunk data skipped than the chunk holds";
        return;
    }
    left_ -= n;
    if (left_ == 0) state_ = State::data_cr;
}

std::size_t Chunked::feed(std::string_view data) {
    std::size_t i = 0;
    auto bad = [&](std::string why) {
        state_ = State::bad;
        error_ = "malformed chunked body: " + std::move(why);
        return i;
    };
    while (i < data.size() && state_ != State::done && state_ != State::bad) {
        const char c = data[i];
        switch (state_) {
            case State::size: {
                int d = -1;
                if (c >= '0' && c <= '9') d = c - '0';
                else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
                if (d >= 0) {
                    if (left_ >> 58) return bad("chunk size too large");
                    left_ = left_ * 16 + static_cast<std::uint64_t>(d);
                    digits_ = true;
                } else if (c == ';' || c == ' ' || c == '\t') {
                    if (!digits_) return bad("missing chunk size");
                    state_ = State::ext;
                } else if (c == '\r') {
                    if (!digits_) return bad("missing chunk size");
                    state_ = State::size_lf;
                } else {
                    return bad("invalid byte in chunk size");
                }
                break;
            }
            case State::ext:
                if (c == '\r') state_ = State::size_lf;
                else if (c == '\n' || (static_cast<unsigned char>(c) < 0x20 && c != '\t'))
                    return bad("control byte in chunk extension");
                break;
            case State::size_lf:
                if (c != '\n') return bad("chunk size line not ended by CRLF");
                state_ = left_ == 0 ? State::trailer : State::data;
                line_ = 0;
                break;
            case State::data: {
                const std::size_t n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(left_, data.size() - i));
                left_ -= n;
                i += n;
                if (left_ == 0) state_ = State::data_cr;
                continue;
            }
            case State::data_cr:
                if (c != '\r') return bad("chunk data not followed by CRLF");
                state_ = State::data_lf;
                break;
            case State::data_lf:
                if (c != '\n') return bad("chunk data not followed by CRLF");
                state_ = State::size;
                digits_ = false;
                line_ = 0;
                break;
            case State::trailer:
                if (c == '\r') state_ = State::end_lf;
                else if (c == '\n') return bad("bare LF in trailer");
                else state_ = State::trailer_line;
                break;
            case State::trailer_line:
                if (c == '\r') state_ = State::trailer_line_lf;
                else if (c == '\n') return bad("bare LF in trailer");
                break;
            case State::trailer_line_lf:
                if (c != '\n') return bad("trailer line not ended by CRLF");
                state_ = State::trailer;
                break;
            case State::end_lf:
                if (c != '\n') return bad("last chunk not ended by CRLF");
                state_ = State::done;
                break;
            case State::done:
            case State::bad: break;
        }
        ++i;
        if (state_ == State::size || state_ == State::ext || state_ == State::size_lf) {
            if (++line_ > kMaxChunkLine) return bad("chunk size line too long");
        } else if (state_ == State::trailer || state_ == State::trailer_line ||
                   state_ == State::trailer_line_lf || state_ == State::end_lf) {
            if (++line_ > kMaxTrailers) return bad("trailer section too long");
        }
    }
    return i;
}

}  // namespace agentbox::net::http
