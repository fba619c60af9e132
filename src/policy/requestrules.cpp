#include "policy/requestrules.hpp"

#include <stdexcept>
#include <vector>

#include "policy/hostrules.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

const profile::Source kDefault{"<default>", 0, 0};

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_value(char h) {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

std::vector<std::string_view> segments(std::string_view path) {
    // "/a/b" -> {"a", "b"}; "/" -> {""}; "/a/" -> {"a", ""}.
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    for (;;) {
        const std::size_t slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

// Glob within one segment: "*" any run of characters. The two-pointer walk, which is linear
// but for the backtracking of the last star: no recursion, no blow-up on "a*a*a*...".
bool segment_matches(std::string_view pat, std::string_view s) {
    std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
    while (i < s.size()) {
        if (p < pat.size() && pat[p] == '*') {
            star = p++;
            mark = i;
        } else if (p < pat.size() && pat[p] == s[i]) {
            ++p;
            ++i;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < pat.size() && pat[p] == '*') ++p;
    return p == pat.size();
}

bool method_matches(const RequestRule& r, std::string_view method) {
    if (r.methods.empty()) return true;
    for (const auto& m : r.methods)
        if (m == method) return true;
    return false;
}

std::string rule_text(const RequestRule& r) { return "network.request " + util::quote(r.raw); }

}  // namespace

RequestRule parse_request_rule(const profile::Entry& entry) {
    const std::string& v = entry.value;
    auto bad = [&](const std::string& why) {
        return std::invalid_argument(entry.src.str() + ": network.request entry " +
                                     util::quote(entry.raw) + " " + why);
    };
    const std::size_t space = v.find(' ');
    if (space == std::string::npos) throw bad("needs METHODS and a host");
    RequestRule r;
    r.raw = v;
    r.src = entry.src;
    bool any = false;
    for (const std::string& m : util::split(std::string_view(v).substr(0, space), ',')) {
        if (m == "*") {
            any = true;
        } else if (m == "read-only") {
            r.methods.push_back("GET");
            r.methods.push_back("HEAD");
        } else if (m.empty()) {
            throw bad("has an empty method");
        } else {
            r.methods.push_back(m);
        }
    }
    if (any) r.methods.clear();
    const std::string rest = v.substr(space + 1);
    const std::size_t slash = rest.find('/');
    try {
        r.host = canonical_host(rest.substr(0, slash));
    } catch (const std::invalid_argument& e) {
        throw bad(std::string("has a bad host: ") + e.what());
    }
    if (slash != std::string::npos) r.path = rest.substr(slash);
    return r;
}

std::string normalize_path(std::string_view target, std::string& path) {
    path.clear();
    if (target.empty() || target.front() != '/')
        return "the request target is not a path (origin-form \"/...\")";
    target = target.substr(0, target.find_first_of("?#"));
    // Decode, keeping "/" as the only separator.
    std::string decoded;
    decoded.reserve(target.size());
    for (std::size_t i = 0; i < target.size(); ++i) {
        const auto c = static_cast<unsigned char>(target[i]);
        if (c == '%') {
            if (i + 2 >= target.size()) return "a malformed percent-escape in the path";
            const int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
            if (hi < 0 || lo < 0) return "a malformed percent-escape in the path";
            const auto b = static_cast<unsigned char>(hi * 16 + lo);
            if (b == '/' || b == '\\') return "an escaped \"/\" or \"\\\" in the path";
            if (b < 0x20 || b == 0x7f) return "an escaped control character in the path";
            if (unreserved(b)) {
                decoded += static_cast<char>(b);
            } else {
                static constexpr char kHex[] = "0123456789ABCDEF";
                decoded += '%';
                decoded += kHex[b >> 4];
                decoded += kHex[b & 15];
            }
            i += 2;
            continue;
        }
        if (c == '\\') return "a \"\\\" in the path";
        if (c <= 0x20 || c >= 0x7f) return "a control character, space or non-ASCII byte in the path";
        decoded += static_cast<char>(c);
    }
    const std::vector<std::string_view> segs = segments(decoded);
    std::vector<std::string_view> out;
    bool trailing = false;  // the path ends in "/" (a last empty segment, "/." or "/..")
    for (std::size_t k = 0; k < segs.size(); ++k) {
        const std::string_view seg = segs[k];
        const bool last = k + 1 == segs.size();
        trailing = false;
        const std::string_view base = seg.substr(0, seg.find(';'));
        // "..%3B" or ".%3bx": a server that decodes before it strips parameters reads a dot
        // segment where this reads a name.
        if (seg.starts_with("..%") || seg.starts_with(".%"))
            return "a dot segment with an escape (\"" + std::string(seg) + "\") in the path";
        if (base == "." || base == "..") {
            if (base.size() != seg.size())
                return "a dot segment with parameters (\"" + std::string(seg) + "\") in the path";
            if (base == "..") {
                if (out.empty()) return "a \"..\" above the root of the path";
                out.pop_back();
            }
            trailing = true;
            continue;
        }
        if (seg.empty()) {
            if (!last) return "an empty segment (\"//\") in the path";
            trailing = true;
            continue;
        }
        out.push_back(seg);
    }
    path = "/";
    for (std::size_t k = 0; k < out.size(); ++k) {
        if (k > 0) path += '/';
        path += out[k];
    }
    if (trailing && !out.empty()) path += '/';
    return {};
}

bool path_matches(std::string_view pattern, std::string_view path) {
    if (pattern.empty()) return true;
    const std::vector<std::string_view> pat = segments(pattern);
    const std::vector<std::string_view> segs = segments(path);
    // The same two-pointer walk one level up, "**" taking the place of "*".
    std::size_t p = 0, i = 0, star = SIZE_MAX, mark = 0;
    while (i < segs.size()) {
        if (p < pat.size() && pat[p] == "**") {
            star = p++;
            mark = i;
        } else if (p < pat.size() && segment_matches(pat[p], segs[i])) {
            ++p;
            ++i;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < pat.size() && pat[p] == "**") ++p;
    return p == pat.size();
}

bool has_request_rules(const NetPlan& net, std::string_view host) {
    for (const auto& r : net.requests)
        if (r.host == host) return true;
    return false;
}

Decision decide_request(const NetPlan& net, std::string_view method, std::string_view host,
                        std::string_view target, std::string& path) {
    Decision d;
    const std::string what = std::string(method) + " " + std::string(host);
    if (const std::string problem = normalize_path(target, path); !problem.empty()) {
        d.rule = "request path";
        d.source = kDefault;
        d.reason = what + " refused: " + problem + ", which no rule can judge";
        return d;
    }
    const RequestRule* nearest = nullptr;
    for (const auto& r : net.requests) {
        if (r.host != host) continue;
        const bool path_ok = path_matches(r.path, path);
        if (path_ok && method_matches(r, method)) {
            d.verdict = Verdict::allow;
            d.rule = rule_text(r);
            d.source = r.src;
            d.reason = what + path + " is allowed by a request rule";
            return d;
        }
        // The nearest: a rule whose path matched, the longest pattern among them (the most
        // specific), else the host's first rule.
        if (nearest == nullptr) nearest = &r;
        const bool nearest_ok = path_matches(nearest->path, path);
        if (path_ok && (!nearest_ok || r.path.size() > nearest->path.size())) nearest = &r;
    }
    if (nearest == nullptr) {
        // Not a host with request rules: nothing here decides it (the caller asks first).
        d.verdict = Verdict::allow;
        d.rule = "network.request";
        d.source = kDefault;
        d.reason = "no network.request rule names " + std::string(host);
        return d;
    }
    d.rule = rule_text(*nearest);
    d.source = nearest->src;
    d.reason = what + path + " matches no network.request rule for " + std::string(host) +
               (path_matches(nearest->path, path) ? " (this one's path matches, not its methods)"
                                                   : "");
    return d;
}

Decision decide_request_url(const NetPlan& net, std::string_view request) {
    Decision d;
    d.rule = "request URL";
    d.source = kDefault;
    const std::size_t space = request.find(' ');
    if (space == std::string_view::npos || space == 0) {
        d.reason = "refused: expected METHOD URL";
        return d;
    }
    const std::string_view method = request.substr(0, space);
    std::string_view url = request.substr(space + 1);
    const std::string lower = util::to_lower(url.substr(0, 8));
    std::uint16_t port = 0;
    if (lower.starts_with("http://")) {
        url.remove_prefix(7);
        port = 80;
    } else if (lower.starts_with("https://")) {
        url.remove_prefix(8);
        port = 443;
    } else {
        d.reason = "refused: the URL must start with http:// or https://";
        return d;
    }
    const std::size_t end = url.find_first_of("/?#");
    const std::string_view authority = url.substr(0, end);
    std::string target(end == std::string_view::npos ? "/" : url.substr(end));
    if (target.front() != '/') target.insert(0, "/");
    if (authority.find('@') != std::string_view::npos) {
        d.reason = "refused: userinfo in the URL";
        return d;
    }
    // The scheme's port unless the URL names one ("host", "host:8080", "[v6]", "[v6]:8443").
    std::string hostport(authority);
    const std::size_t close = hostport.rfind(']');
    const std::size_t colon = hostport.rfind(':');
    const bool has_port = colon != std::string::npos &&
                          (close == std::string::npos ? hostport.find(':') == colon : colon > close);
    if (!has_port) hostport += ":" + std::to_string(port);
    const Decision c = decide_connect(net, hostport);
    if (c.verdict != Verdict::allow) return c;
    const std::string host = parse_target(hostport).host;
    if (!has_request_rules(net, host)) {
        Decision out = c;
        out.reason += "; no network.request rule names " + host + ", so any request may pass";
        return out;
    }
    std::string path;
    return decide_request(net, method, host, target, path);
}

}  // namespace agentbox::policy
