// The sandbox's DNS (DESIGN.md §6, "Tools that ignore the proxy variables"), pure: a query
// read the way a resolver sends it, an answer built for it, the synthetic addresses handed
// out for allowed names, and the decision of whether a name gets one. The bytes come from a
// sandboxed process, so every length is checked here and nothing is trusted. Nothing here
// asks a real DNS server: a name is never resolved inside the sandbox, only named.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "policy/request.hpp"

namespace agentbox::net::dns {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeAAAA = 28;
inline constexpr std::uint16_t kClassIN = 1;

enum class Rcode : std::uint8_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5 };

struct Query {
    enum Status {
        ok,       // one question, read whole
        drop,     // not a query at all (too short for a header, or a response): no answer
        formerr,  // a query whose question cannot be read: answered FORMERR
        notimp,   // another opcode than QUERY, or more than one question: answered NOTIMP
    } status = drop;
    std::uint16_t id = 0;
    std::uint16_t flags = 0;  // the query's, for the RD bit and opcode echoed in the answer
    std::string name;         // lower case, dotted, no trailing dot ("" for the root)
    std::uint16_t qtype = 0, qclass = 0;
    std::size_t question_end = 0;  // offset just past the question, in the query's bytes
};

// Reads the header and the one question; anything after it (EDNS's OPT record) is ignored.
Query parse_query(const std::uint8_t* bytes, std::size_t size);

// The answer to `q` (parsed from `bytes`): the header, the question as the client sent it
// (same case, which some resolvers check), and with `ipv4` (host byte order) one A record.
// A drop query has no answer: the result is empty.
std::vector<std::uint8_t> make_answer(const std::uint8_t* bytes, const Query& q, Rcode rcode,
                                      std::optional<std::uint32_t> ipv4 = std::nullopt,
                                      std::uint32_t ttl = 300);

// The addresses handed out for names: one per name for the whole run, from 198.18.0.0/15
// (RFC 2544's benchmarking range, which no real host answers at), so that a connect to one
// says which name the tool meant. Never reused: a name keeps its address, an address its name.
class SyntheticNames {
public:
    static constexpr std::uint32_t kBase = 0xC6120000;  // 198.18.0.0
    static constexpr std::uint32_t kSize = 1u << 17;    // /15
    explicit SyntheticNames(std::uint32_t capacity = kSize - 2);

    // The address of `name` (canonical), given it now if it has none; nullopt when every
    // address is taken.
    std::optional<std::uint32_t> address_of(const std::string& name);
    // The name an address was given to, or nullopt (not synthetic, or never handed out).
    std::optional<std::string> name_of(std::uint32_t addr) const;
    static bool in_range(std::uint32_t addr) { return (addr & ~(kSize - 1)) == kBase; }

private:
    std::uint32_t capacity_;
    std::map<std::string, std::uint32_t> by_name_;
    std::vector<std::string> by_index_;  // address kBase + 1 + i
};

// Does `name` (canonical) get an address? The connect decision (policy::decide_connect) at
// every port the plan could allow for it — 80, 443 and each port an allow rule names — and
// one more for rules of any port and for "ask": the first that is not a deny, else the deny
// for port 443. The connect itself is decided again, with its real port, by the proxy.
policy::Decision decide_name(const policy::NetPlan& net, const std::string& name);

}  // namespace agentbox::net::dns
