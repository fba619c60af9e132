// The proxy's own credential (DESIGN.md §6), for a proxy that listens where processes outside
// the sandbox can reach it: the Seatbelt launcher's, on a loopback port of the host. Any local
// user could otherwise use the run's allow rules, its ask approvals and its secrets (a stand-in
// sent through it is swapped for the real value). On Linux the proxy listens inside the
// sandbox's own network namespace, which nobody else can reach, and none is asked for.
//
// The command gets it as the userinfo of the proxy variables (http://agentbox:TOKEN@host:port),
// from which curl, Python and Node send `Proxy-Authorization: Basic` with every proxy request.
// Pure: unit-tested alone (tests/unit/net/proxy_auth_test.cpp).
#pragma once

#include <string>
#include <string_view>

#include "net/http.hpp"

namespace agentbox::net {

inline constexpr const char* kProxyUser = "agentbox";

// Equal, in a time that depends on the lengths only, never on where the first difference is.
bool equal_constant_time(std::string_view a, std::string_view b);

// Whether `request` carries exactly one Proxy-Authorization field, `Basic` of `credential`
// ("user:password"). Two fields, another scheme, or bad base64 are refusals.
bool proxy_authorized(const http::Head& request, std::string_view credential);

// The proxy's answer to a request without the credential: 407 with Proxy-Authenticate, which
// makes a client that has it (and was waiting to be asked) send it.
std::string proxy_auth_required();

// A new random token: 32 hex digits, 128 bits from the system's entropy. Hex, so that it goes
// into a URL's userinfo as it is (`kProxyUser:TOKEN@`, macos/seatbelt.cpp).
std::string new_proxy_token();

}  // namespace agentbox::net
