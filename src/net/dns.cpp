#include "net/dns.hpp"

#include <algorithm>
#include <set>

#include "policy/hostrules.hpp"

namespace agentbox::net::dns {

namespace {

constexpr std::size_t kHeader = 12;
constexpr std::uint16_t kQr = 0x8000;
constexpr std::uint16_t kAa = 0x0400;
constexpr std::uint16_t kRd = 0x0100;
constexpr std::uint16_t kRa = 0x0080;

std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v & 0xffff));
}

}  // namespace

Query parse_query(const std::uint8_t* bytes, std::size_t size) {
    Query q;
    if (size < kHeader) return q;  // no id to answer to
    q.id = be16(bytes);
    q.flags = be16(bytes + 2);
    if (q.flags & kQr) return q;  // a response sent to us: never answered (no loops)
    const std::uint16_t opcode = (q.flags >> 11) & 0xf;
    const std::uint16_t qdcount = be16(bytes + 4);
    if (opcode != 0 || qdcount > 1) {
        q.status = Query::notimp;
        return q;
    }
    q.status = Query::formerr;
    if (qdcount == 0) return q;
    // The name: labels up to the root, at most 255 bytes in all (RFC 1035 3.1). A pointer
    // cannot appear in the first question (there is nothing before it to point to).
    std::size_t at = kHeader, wire = 0;
    std::string name;
    for (;;) {
        if (at >= size) return q;
        const std::uint8_t len = bytes[at++];
        ++wire;
        if (len == 0) break;
        if (len > 63) return q;  // a pointer (0xc0) or a reserved label type
        // The root's zero byte must still fit after this label.
        if (size - at < len || wire + len + 1 > 255) return q;
        wire += len;
        if (!name.empty()) name += '.';
        for (std::size_t i = 0; i < len; ++i) {
            const char c = static_cast<char>(bytes[at + i]);
            // A dot inside a label would make "a.b" of one label: not a name we can judge.
            if (c == '.') return q;
            name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
        at += len;
    }
    if (size - at < 4) return q;
    q.qtype = be16(bytes + at);
    q.qclass = be16(bytes + at + 2);
    q.question_end = at + 4;
    q.name = std::move(name);
    q.status = Query::ok;
    return q;
}

std::vector<std::uint8_t> make_answer(const std::uint8_t* bytes, const Query& q, Rcode rcode,
                                      std::optional<std::uint32_t> ipv4, std::uint32_t ttl) {
    std::vector<std::uint8_t> out;
    if (q.status == Query::drop) return out;
    const bool question = q.status == Query::ok;
    const bool answer = question && ipv4 && rcode == Rcode::noerror;
    put16(out, q.id);
    // QR, the query's opcode and RD, authoritative (these names are ours alone), recursion
    // "available" (a stub resolver that sees RA=0 may try another server: there is none).
    put16(out, static_cast<std::uint16_t>(kQr | (q.flags & 0x7800) | kAa | (q.flags & kRd) | kRa |
                                          static_cast<std::uint16_t>(rcode)));
    put16(out, question ? 1 : 0);
    put16(out, answer ? 1 : 0);
    put16(out, 0);
    put16(out, 0);
    if (question) out.insert(out.end(), bytes + kHeader, bytes + q.question_end);
    if (answer) {
        put16(out, 0xc000 | kHeader);  // the name: a pointer to the question's
        put16(out, kTypeA);
        put16(out, kClassIN);
        put32(out, ttl);
        put16(out, 4);
        put32(out, *ipv4);
    }
    return out;
}

SyntheticNames::SyntheticNames(std::uint32_t capacity)
    : capacity_(std::min<std::uint32_t>(capacity, kSize - 2)) {}

std::optional<std::uint32_t> SyntheticNames::address_of(const std::string& name) {
    if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
    if (by_index_.size() >= capacity_) return std::nullopt;
    // .0 is the range's network address: the first one handed out is .1.
    const std::uint32_t addr = kBase + 1 + static_cast<std::uint32_t>(by_index_.size());
    by_index_.push_back(name);
    by_name_.emplace(name, addr);
    return addr;
}

std::optional<std::string> SyntheticNames::name_of(std::uint32_t addr) const {
    if (!in_range(addr) || addr <= kBase) return std::nullopt;
    const std::uint32_t i = addr - kBase - 1;
    if (i >= by_index_.size()) return std::nullopt;
    return by_index_[i];
}

policy::Decision decide_name(const policy::NetPlan& net, const std::string& name) {
    std::set<std::uint16_t> ports{80, 443};
    for (const auto& r : net.allow)
        for (const auto p : r.ports) ports.insert(p);
    // Port 1 stands for every port no rule names: it meets "host:*" rules and "unlisted".
    ports.insert(1);
    std::optional<policy::Decision> at443;
    for (const auto p : ports) {
        policy::Decision d = policy::decide_connect(net, name + ":" + std::to_string(p));
        if (d.verdict != policy::Verdict::deny) return d;
        if (p == 443) at443 = std::move(d);
    }
    return *at443;
}

}  // namespace agentbox::net::dns
