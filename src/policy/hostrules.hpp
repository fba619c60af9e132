// Network host rules (DESIGN.md §6), pure: canonical host names, rule parsing and matching,
// and the connect decision that both `explain` and the proxy use.
//
//   "example.com"      that host, ports 80 and 443
//   "example.com:8080" that host, that port;  "example.com:*" any port
//   "*.example.com"    subdomains only, not the apex
//   "10.0.0.5", "[fd00::1]:8443"  literal addresses (needed to reach private ranges)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/plan.hpp"
#include "policy/request.hpp"
#include "profile/model.hpp"

namespace agentbox::policy {

// Lower case, ONE trailing dot stripped, ASCII only, no empty labels, no userinfo. IP literals
// are normalised: IPv4 as a strict dotted quad (hex, octal and short forms such as "0x7f.1" or
// "2130706433" are rejected as ambiguous rather than guessed), IPv6 as "[compressed]".
// Throws std::invalid_argument saying what is wrong.
std::string canonical_host(std::string_view host);

struct ConnectTarget {
    std::string host;        // canonical
    std::uint16_t port = 443;
    bool ip = false;         // a literal address
};

// "host", "host:port", "[v6]:port" or a bare IPv6 address; the port defaults to 443.
// Throws std::invalid_argument.
ConnectTarget parse_target(std::string_view target);

// Parse one network.allow / network.deny entry. `field` is "allow" or "deny", for messages.
// Throws std::invalid_argument naming the rule and its file:line:col.
HostRule parse_host_rule(const profile::Entry& entry, const char* field);

bool rule_matches(const HostRule& rule, const ConnectTarget& target);

// For a canonical literal address: the name of the loopback/private/link-local/CGNAT/metadata
// range it lies in ("" for a public address or a name). Resolved names are checked by the
// proxy after resolution; this covers the literals a request names directly.
std::string private_range(const std::string& canonical);

// The network section as a NetPlan (rules parsed; throws like parse_host_rule).
NetPlan make_net_plan(const profile::Network& network);

// May the sandbox connect to `target`? Deny rules beat allow rules at equal specificity; an
// exact host beats a wildcard, a longer wildcard a shorter one; a literal private address is
// denied unless allow_private or an allow rule names it; unlisted -> deny or ask.
Decision decide_connect(const NetPlan& net, std::string_view target);

// The proxy resolved the allowed name `target` outside the sandbox and got `address` (any
// spelling; canonicalised here). May it connect there? A deny rule naming the address refuses
// it; an address in a loopback/private/link-local/CGNAT/multicast/metadata range is refused
// unless network.allow_private is set or an allow rule names that exact address (and port).
// This is what stops an allowed name that resolves to 127.0.0.1 or 169.254.169.254 from
// reaching the host or the cloud metadata service (DNS rebinding included: the address checked
// is the one connected to).
Decision decide_address(const NetPlan& net, const ConnectTarget& target, std::string_view address);

}  // namespace agentbox::policy
