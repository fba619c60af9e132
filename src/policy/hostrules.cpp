#include "policy/hostrules.hpp"

#include <optional>
#include <stdexcept>
#include <tuple>

#include "policy/ipaddr.hpp"
#include "policy/names.hpp"
#include "policy/requestrules.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A label that inet_aton or a URL parser would read as a number: decimal, or 0x-prefixed hex.
// When the last label looks like that, the whole name is an IPv4 literal or it is rejected.
bool numeric_label(std::string_view l) {
    if (l.empty()) return false;
    if (l.size() >= 2 && l[0] == '0' && l[1] == 'x') {
        for (char c : l.substr(2))
            if (!is_hex_digit(c)) return false;
        return true;
    }
    for (char c : l)
        if (c < '0' || c > '9') return false;
    return true;
}

std::string canonical_v6(std::string_view inner, std::string_view original) {
    auto a = ip::parse_v6(inner);
    if (!a) bad("malformed IPv6 address " + util::quote(original));
    return "[" + ip::format(*a) + "]";
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

// Split "host", "host:port", "[v6]", "[v6]:port" or a bare v6 address; port "" when absent.
void split_host_port(std::string_view s, std::string_view& host, std::string_view& port) {
    port = {};
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos) bad("unclosed '[' in " + util::quote(s));
        host = s.substr(0, close + 1);
        std::string_view rest = s.substr(close + 1);
        if (rest.empty()) return;
        if (rest.front() != ':' || rest.size() == 1) bad("malformed port in " + util::quote(s));
        port = rest.substr(1);
        return;
    }
    auto first = s.find(':');
    if (first != std::string_view::npos && s.find(':', first + 1) != std::string_view::npos) {
        host = s;  // two or more colons: a bare IPv6 address, which cannot carry a port
        return;
    }
    if (first == std::string_view::npos) {
        host = s;
        return;
    }
    host = s.substr(0, first);
    port = s.substr(first + 1);
    if (port.empty()) bad("empty port in " + util::quote(s));
}

std::string ip_of(const std::string& canonical, std::optional<ip::V4>& v4,
                  std::optional<ip::V6>& v6) {
    if (!canonical.empty() && canonical.front() == '[')
        v6 = ip::parse_v6(std::string_view(canonical).substr(1, canonical.size() - 2));
    else
        v4 = ip::parse_v4(canonical);
    return canonical;
}

// Specificity of a matching rule: exact hosts beat wildcards, longer wildcards shorter ones.
std::tuple<int, std::size_t> specificity(const HostRule& r) {
    return {r.subdomains_only ? 0 : 1, r.pattern.size()};
}

const HostRule* best_match(const std::vector<HostRule>& rules, const ConnectTarget& t) {
    const HostRule* best = nullptr;
    for (const auto& r : rules)
        if (rule_matches(r, t) && (!best || specificity(r) > specificity(*best))) best = &r;
    return best;
}

std::string rule_text(const char* field, const HostRule& r) {
    return std::string("network.") + field + " " + util::quote(r.raw);
}

std::string target_text(const ConnectTarget& t) { return t.host + ":" + std::to_string(t.port); }

}  // namespace

std::string canonical_host(std::string_view host) {
    if (host.empty()) bad("empty host name");
    for (unsigned char c : host)
        if (c >= 0x80)
            bad("non-ASCII host name " + util::quote(host) + " (write it in its xn-- form)");
    if (host.find('@') != std::string_view::npos)
        bad("user information ('@') in host " + util::quote(host));
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') bad("malformed IPv6 literal " + util::quote(host));
        return canonical_v6(util::to_lower(host.substr(1, host.size() - 2)), host);
    }
    std::string h = util::to_lower(host);
    if (h.find(':') != std::string::npos) return canonical_v6(h, host);
    if (h.back() == '.') h.pop_back();  // ONE trailing dot: "example.com." is the same host
    if (h.empty() || h.size() > 253) bad("bad host name length " + util::quote(host));
    auto labels = util::split(h, '.');
    for (const auto& l : labels) {
        if (l.empty()) bad("empty label in host " + util::quote(host));
        if (l.size() > 63) bad("label longer than 63 bytes in host " + util::quote(host));
        for (char c : l)
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                bad("invalid character " + util::quote(std::string(1, c)) + " in host " +
                    util::quote(host));
    }
    if (numeric_label(labels.back())) {
        auto v4 = ip::parse_v4(h);
        if (!v4)
            bad("ambiguous numeric host " + util::quote(host) +
                " (write an IPv4 address as four decimal parts, like 127.0.0.1)");
        return ip::format(*v4);
    }
    return h;
}

ConnectTarget parse_target(std::string_view target) {
    std::string_view host, port;
    split_host_port(target, host, port);
    ConnectTarget t;
    t.host = canonical_host(host);
    if (!port.empty()) {
        auto p = parse_port(port);
        if (!p) bad("invalid port " + util::quote(port) + " in " + util::quote(target));
        t.port = *p;
    }
    std::optional<ip::V4> v4;
    std::optional<ip::V6> v6;
    ip_of(t.host, v4, v6);
    t.ip = v4.has_value() || v6.has_value();
    return t;
}

HostRule parse_host_rule(const profile::Entry& entry, const char* field) {
    HostRule r;
    r.raw = entry.raw.empty() ? entry.value : entry.raw;
    r.src = entry.src;
    auto fail = [&](const std::string& why) -> void {
        bad(entry.src.str() + ": network." + field + " " + util::quote(r.raw) + ": " + why);
    };
    std::string_view text = entry.value;
    std::string_view host, port;
    try {
        split_host_port(text, host, port);
    } catch (const std::invalid_argument& e) {
        fail(e.what());
    }
    if (host == "*")
        fail("a bare \"*\" would allow every host; use network.mode = \"host\" for that");
    if (util::starts_with(host, "*.")) {
        r.subdomains_only = true;
        host.remove_prefix(2);
    }
    if (host.find('*') != std::string_view::npos)
        fail("'*' is only allowed as the whole first label (\"*.example.com\")");
    try {
        r.pattern = canonical_host(host);
    } catch (const std::invalid_argument& e) {
        fail(e.what());
    }
    std::optional<ip::V4> v4;
    std::optional<ip::V6> v6;
    ip_of(r.pattern, v4, v6);
    if (r.subdomains_only && (v4 || v6)) fail("a wildcard cannot apply to an IP address");
    if (port.empty()) {
        r.ports = {80, 443};
    } else if (port == "*") {
        r.any_port = true;
    } else {
        auto p = parse_port(port);
        if (!p) fail("invalid port " + util::quote(port));
        r.ports = {*p};
    }
    return r;
}

bool rule_matches(const HostRule& rule, const ConnectTarget& t) {
    bool host_ok;
    if (rule.subdomains_only)
        host_ok = !t.ip && t.host.size() > rule.pattern.size() + 1 &&
                  util::ends_with(t.host, "." + rule.pattern);
    else
        host_ok = t.host == rule.pattern;
    if (!host_ok) return false;
    if (rule.any_port) return true;
    for (auto p : rule.ports)
        if (p == t.port) return true;
    return false;
}

std::string private_range(const std::string& canonical) {
    std::optional<ip::V4> v4;
    std::optional<ip::V6> v6;
    ip_of(canonical, v4, v6);
    if (v4) return ip::private_range(*v4);
    if (v6) return ip::private_range(*v6);
    return "";
}

NetPlan make_net_plan(const profile::Network& network) {
    NetPlan n;
    if (network.mode.set) {
        n.mode = network.mode.value;
        n.mode_src = network.mode.src;
    }
    if (network.unlisted.set) {
        n.unlisted = network.unlisted.value;
        n.unlisted_src = network.unlisted.src;
    }
    if (network.allow_private.set) {
        n.allow_private = network.allow_private.value;
        n.allow_private_src = network.allow_private.src;
    }
    for (const auto& e : network.allow) n.allow.push_back(parse_host_rule(e, "allow"));
    for (const auto& e : network.deny) n.deny.push_back(parse_host_rule(e, "deny"));
    for (const auto& e : network.request) n.requests.push_back(parse_request_rule(e));
    for (const auto& e : network.dlp_off) {
        const std::size_t at = e.value.rfind('@');  // profile::parse made it "RULE@HOST"
        std::string host;
        try {
            host = canonical_host(e.value.substr(at + 1));
        } catch (const std::invalid_argument& x) {
            throw std::invalid_argument(e.src.str() + ": network.dlp_off entry " +
                                        util::quote(e.raw) + ": " + x.what());
        }
        n.dlp_off.push_back(DlpOff{e.value.substr(0, at), host, e.value, e.src});
    }
    // On by default in proxy mode: without it a tool that ignores HTTP(S)_PROXY simply fails.
    n.capture = n.mode == profile::NetMode::proxy && (!network.capture.set || network.capture.value);
    n.capture_required = n.capture && network.capture.set;
    if (network.capture.set) n.capture_src = network.capture.src;
    return n;
}

Decision decide_connect(const NetPlan& net, std::string_view target) {
    Decision d;
    if (net.mode == profile::NetMode::none) {
        d.rule = "network.mode \"none\"";
        d.source = net.mode_src;
        d.reason = "the sandbox has no network";
        return d;
    }
    if (net.mode == profile::NetMode::host) {
        d.verdict = Verdict::allow;
        d.rule = "network.mode \"host\"";
        d.source = net.mode_src;
        d.reason = "warning: the sandbox shares the host network, nothing is filtered";
        return d;
    }
    ConnectTarget t;
    try {
        t = parse_target(target);
    } catch (const std::invalid_argument& e) {
        d.rule = "connect target";
        d.source = profile::Source{"<default>", 0, 0};
        d.reason = std::string("refused: ") + e.what();
        return d;
    }
    const HostRule* deny = best_match(net.deny, t);
    const HostRule* allow = best_match(net.allow, t);
    if (deny && (!allow || specificity(*deny) >= specificity(*allow))) {
        d.rule = rule_text("deny", *deny);
        d.source = deny->src;
        d.reason = target_text(t) + " is denied by a host rule";
        return d;
    }
    std::string range = t.ip ? private_range(t.host) : "";
    // A matching allow rule for a literal is always exact (wildcards never match addresses),
    // so "a rule names that exact address" is simply: some allow rule matched.
    if (!range.empty() && !net.allow_private && !allow) {
        d.rule = "network.allow_private false";
        d.source = net.allow_private_src;
        d.reason = t.host + " is a " + range + " address; name it in network.allow or set "
                   "network.allow_private";
        return d;
    }
    if (allow) {
        d.verdict = Verdict::allow;
        d.rule = rule_text("allow", *allow);
        d.source = allow->src;
        d.reason = target_text(t) + " is allowed through the proxy";
        return d;
    }
    d.verdict = net.unlisted == profile::Unlisted::ask ? Verdict::ask : Verdict::deny;
    d.rule = std::string("network.unlisted \"") + name_of(net.unlisted) + "\"";
    d.source = net.unlisted_src;
    d.reason = target_text(t) + " matches no network.allow rule";
    return d;
}

Decision decide_address(const NetPlan& net, const ConnectTarget& target, std::string_view address) {
    Decision d;
    ConnectTarget a;
    try {
        a.host = canonical_host(address);
    } catch (const std::invalid_argument& e) {
        d.rule = "resolved address";
        d.source = profile::Source{"<default>", 0, 0};
        d.reason = std::string("refused: ") + e.what();
        return d;
    }
    a.port = target.port;
    a.ip = true;
    const std::string what = target.host + " resolved to " + a.host;
    if (const HostRule* deny = best_match(net.deny, a)) {
        d.rule = rule_text("deny", *deny);
        d.source = deny->src;
        d.reason = what + ", which is denied by a host rule";
        return d;
    }
    const std::string range = private_range(a.host);
    if (range.empty()) {
        d.verdict = Verdict::allow;
        d.rule = "resolved address";
        d.source = profile::Source{"<default>", 0, 0};
        d.reason = what + ", a public address";
        return d;
    }
    if (const HostRule* allow = best_match(net.allow, a)) {
        d.verdict = Verdict::allow;
        d.rule = rule_text("allow", *allow);
        d.source = allow->src;
        d.reason = what + ", a " + range + " address named by an allow rule";
        return d;
    }
    if (net.allow_private) {
        d.verdict = Verdict::allow;
        d.rule = "network.allow_private true";
        d.source = net.allow_private_src;
        d.reason = what + ", a " + range + " address";
        return d;
    }
    d.rule = "network.allow_private false";
    d.source = net.allow_private_src;
    d.reason = what + ", a " + range + " address; name " + a.host +
               " in network.allow or set network.allow_private";
    return d;
}

}  // namespace agentbox::policy
