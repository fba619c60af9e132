#include "policy/ipaddr.hpp"

#include <cstdio>
#include <vector>

#include "util/strings.hpp"

namespace agentbox::policy::ip {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Parse 1..4 hex digits into one group.
std::optional<std::uint16_t> parse_group(std::string_view g) {
    if (g.empty() || g.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : g) {
        int h = hex_value(c);
        if (h < 0) return std::nullopt;
        v = v * 16 + static_cast<unsigned>(h);
    }
    return static_cast<std::uint16_t>(v);
}

// Groups of one side of "::" (may be empty), with an optional trailing dotted quad.
bool parse_groups(std::string_view s, bool may_end_in_v4, std::vector<std::uint16_t>& out) {
    if (s.empty()) return true;
    auto parts = util::split(s, ':');
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto& p = parts[i];
        if (i + 1 == parts.size() && may_end_in_v4 && p.find('.') != std::string::npos) {
            auto v4 = parse_v4(p);
            if (!v4) return false;
            out.push_back(static_cast<std::uint16_t>(((*v4)[0] << 8) | (*v4)[1]));
            out.push_back(static_cast<std::uint16_t>(((*v4)[2] << 8) | (*v4)[3]));
            continue;
        }
        auto g = parse_group(p);
        if (!g) return false;
        out.push_back(*g);
    }
    return true;
}

bool in_v4(const V4& a, unsigned b0, unsigned b1, unsigned prefix) {
    std::uint32_t addr = (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) |
                         (std::uint32_t{a[2]} << 8) | a[3];
    std::uint32_t net = (b0 << 24) | (b1 << 16);
    std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (addr & mask) == (net & mask);
}

}  // namespace

std::optional<V4> parse_v4(std::string_view s) {
    auto parts = util::split(s, '.');
    if (parts.size() != 4) return std::nullopt;
    V4 out{};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& p = parts[i];
        if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
        unsigned v = 0;
        for (char c : p) {
            if (!is_digit(c)) return std::nullopt;
            v = v * 10 + static_cast<unsigned>(c - '0');
        }
        if (v > 255) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(v);
    }
    return out;
}

std::optional<V6> parse_v6(std::string_view s) {
    if (s.find('%') != std::string_view::npos) return std::nullopt;  // zone ids: link-local only
    std::vector<std::uint16_t> head, tail;
    auto dc = s.find("::");
    if (dc == std::string_view::npos) {
        if (!parse_groups(s, true, head) || head.size() != 8) return std::nullopt;
    } else {
        if (s.find("::", dc + 1) != std::string_view::npos) return std::nullopt;
        std::string_view left = s.substr(0, dc), right = s.substr(dc + 2);
        if (!parse_groups(left, false, head) || !parse_groups(right, true, tail))
            return std::nullopt;
        if (head.size() + tail.size() > 7) return std::nullopt;
    }
    V6 out{};
    for (std::size_t i = 0; i < head.size(); ++i) out[i] = head[i];
    for (std::size_t i = 0; i < tail.size(); ++i) out[8 - tail.size() + i] = tail[i];
    return out;
}

std::string format(const V4& a) {
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
           std::to_string(a[3]);
}

std::string format(const V6& a) {
    // Longest run of at least two zero groups; the first one on a tie (RFC 5952 §4.2.3).
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        if (a[static_cast<std::size_t>(i)] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && a[static_cast<std::size_t>(j)] == 0) ++j;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    char buf[8];
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(buf, sizeof buf, "%x", unsigned{a[static_cast<std::size_t>(i)]});
        out += buf;
    }
    return out;
}

std::string private_range(const V4& a) {
    // Metadata first: it lies inside link-local, but deserves its own name in a denial.
    if (a == V4{169, 254, 169, 254}) return "cloud metadata (169.254.169.254)";
    if (in_v4(a, 0, 0, 8)) return "\"this network\" (0.0.0.0/8)";
    if (in_v4(a, 10, 0, 8)) return "private (10.0.0.0/8)";
    if (in_v4(a, 100, 64, 10)) return "carrier-grade NAT (100.64.0.0/10)";
    if (in_v4(a, 127, 0, 8)) return "loopback (127.0.0.0/8)";
    if (in_v4(a, 169, 254, 16)) return "link-local (169.254.0.0/16)";
    if (in_v4(a, 172, 16, 12)) return "private (172.16.0.0/12)";
    if (in_v4(a, 192, 168, 16)) return "private (192.168.0.0/16)";
    if (in_v4(a, 224, 0, 4)) return "multicast (224.0.0.0/4)";
    if (in_v4(a, 240, 0, 4)) return "reserved (240.0.0.0/4)";
    return "";
}

std::string private_range(const V6& a) {
    auto embedded = [&]() {
        return V4{static_cast<std::uint8_t>(a[6] >> 8), static_cast<std::uint8_t>(a[6] & 0xff),
                  static_cast<std::uint8_t>(a[7] >> 8), static_cast<std::uint8_t>(a[7] & 0xff)};
    };
    bool first5_zero = a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0 && a[4] == 0;
    if (first5_zero && a[5] == 0 && a[6] == 0 && a[7] == 1) return "loopback (::1)";
    if (first5_zero && a[5] == 0 && a[6] == 0 && a[7] == 0) return "unspecified (::)";
    // Addresses that carry an IPv4 address reach that address: judge them by it.
    if (first5_zero && a[5] == 0xffff) {
        auto r = private_range(embedded());
        return r.empty() ? r : "IPv4-mapped " + r;
    }
    if (first5_zero && a[5] == 0) return "IPv4-compatible (::/96, deprecated)";
    if (a[0] == 0x64 && a[1] == 0xff9b && a[2] == 0 && a[3] == 0 && a[4] == 0 && a[5] == 0) {
        auto r = private_range(embedded());
        return r.empty() ? r : "NAT64 " + r;
    }
    if ((a[0] & 0xfe00) == 0xfc00) return "unique local (fc00::/7)";
    if ((a[0] & 0xffc0) == 0xfe80) return "link-local (fe80::/10)";
    if ((a[0] & 0xffc0) == 0xfec0) return "site-local (fec0::/10, deprecated)";
    if ((a[0] & 0xff00) == 0xff00) return "multicast (ff00::/8)";
    return "";
}

}  // namespace agentbox::policy::ip
