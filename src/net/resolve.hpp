// Name resolution for the proxy, outside the sandbox, and its test override.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace agentbox::net {

// Canonical host name -> canonical IP literals, in the order given.
using ResolveMap = std::map<std::string, std::vector<std::string>>;

// The test resolver override, AGENTBOX_TEST_RESOLVE="name=127.0.0.1,name=::1,other=10.0.0.1":
// names mapped this way are never looked up in DNS; other names resolve normally. Both sides
// are canonicalised with policy::canonical_host, so "API.Test." and "api.test" are one name.
// It is read from agentbox's own environment (never the sandbox's) and every run that uses it
// says so on stderr and in the log, because it changes where allowed names connect to.
// Throws std::invalid_argument naming the bad entry.
ResolveMap parse_resolve_override(std::string_view spec);

inline constexpr const char* kResolveOverrideEnv = "AGENTBOX_TEST_RESOLVE";

}  // namespace agentbox::net
