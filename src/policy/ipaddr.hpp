// Literal IP addresses for host rules: strict parsing, canonical text, private ranges. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agentbox::policy::ip {

using V4 = std::array<std::uint8_t, 4>;
using V6 = std::array<std::uint16_t, 8>;

// Exactly four decimal parts 0..255 without leading zeros ("010" would be octal to inet_aton).
std::optional<V4> parse_v4(std::string_view s);
// RFC 4291 text form, optionally ending in a dotted quad; no zone id ("%eth0").
std::optional<V6> parse_v6(std::string_view s);

std::string format(const V4& a);
std::string format(const V6& a);  // RFC 5952: lower case, longest zero run as "::"

// Name of the non-public range the address lies in, or "" when public.
std::string private_range(const V4& a);
std::string private_range(const V6& a);

}  // namespace agentbox::policy::ip
