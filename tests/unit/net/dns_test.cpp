// The sandbox's DNS responder, pure (net/dns): queries read as resolvers send them and as an
// attacker might, answers byte by byte, the synthetic address book, and which names get one.
#include "net/dns.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "policy/hostrules.hpp"

namespace {

using namespace agentbox::net::dns;
using Bytes = std::vector<std::uint8_t>;

Bytes qname(const std::string& dotted) {
    Bytes out;
    std::size_t start = 0;
    while (start <= dotted.size() && !dotted.empty()) {
        const std::size_t dot = dotted.find('.', start);
        const std::string label =
            dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    out.push_back(0);
    return out;
}

Bytes query(const std::string& name, std::uint16_t type, std::uint16_t flags = 0x0100,
            std::uint16_t qd = 1) {
    Bytes q{0x12, 0x34, static_cast<std::uint8_t>(flags >> 8), static_cast<std::uint8_t>(flags),
            0, static_cast<std::uint8_t>(qd), 0, 0, 0, 0, 0, 0};
    const Bytes n = qname(name);
    q.insert(q.end(), n.begin(), n.end());
    q.insert(q.end(), {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
    return q;
}

Query parse(const Bytes& b) { return parse_query(b.data(), b.size()); }

agentbox::profile::Entry entry(const std::string& v) {
    agentbox::profile::Entry e;
    e.value = e.raw = v;
    e.src = agentbox::profile::Source{"p.toml", 1, 1};
    return e;
}

agentbox::policy::NetPlan plan(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
    agentbox::policy::NetPlan n;
    n.mode = agentbox::profile::NetMode::proxy;
    for (const auto& a : allow) n.allow.push_back(agentbox::policy::parse_host_rule(entry(a), "allow"));
    for (const auto& d : deny) n.deny.push_back(agentbox::policy::parse_host_rule(entry(d), "deny"));
    return n;
}

}  // namespace

TEST_CASE("parse_query: one question, lower-cased, EDNS after it ignored") {
    Bytes b = query("API.Example.COM", kTypeA);
    b.insert(b.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});  // an OPT record
    b[11] = 1;                                                   // arcount
    const Query q = parse(b);
    REQUIRE(q.status == Query::ok);
    CHECK(q.id == 0x1234);
    CHECK(q.name == "api.example.com");
    CHECK(q.qtype == kTypeA);
    CHECK(q.qclass == kClassIN);
    CHECK(q.question_end == b.size() - 11);
}

TEST_CASE("parse_query: what is not a query is dropped, a broken question is FORMERR") {
    CHECK(parse(Bytes(11, 0)).status == Query::drop);
    CHECK(parse(query("a.test", kTypeA, 0x8180)).status == Query::drop);  // a response
    CHECK(parse(query("a.test", kTypeA, 0x2900)).status == Query::notimp);  // opcode 5
    CHECK(parse(query("a.test", kTypeA, 0x0100, 2)).status == Query::notimp);
    CHECK(parse(query("a.test", kTypeA, 0x0100, 0)).status == Query::formerr);

    Bytes cut = query("a.test", kTypeA);
    cut.resize(cut.size() - 1);
    CHECK(parse(cut).status == Query::formerr);
    Bytes label_past_end = query("a.test", kTypeA);
    label_past_end.resize(13);
    CHECK(parse(label_past_end).status == Query::formerr);
    Bytes pointer = query("a.test", kTypeA);
    pointer[12] = 0xc0;
    CHECK(parse(pointer).status == Query::formerr);
    Bytes dot_in_label = query("ab.test", kTypeA);
    dot_in_label[14] = '.';  // "a.b" as one label would be judged as two
    CHECK(parse(dot_in_label).status == Query::formerr);
    // 255 bytes is the longest name on the wire.
    std::string longest;
    for (int i = 0; i < 4; ++i) longest += (i ? "." : "") + std::string(i < 3 ? 63 : 61, 'a');
    CHECK(parse(query(longest, kTypeA)).status == Query::ok);
    CHECK(parse(query(longest + "a", kTypeA)).status == Query::formerr);
}

TEST_CASE("make_answer: the question echoed as sent, one A record pointing at it") {
    const Bytes b = query("Allowed.Test", kTypeA);
    const Query q = parse(b);
    const Bytes a = make_answer(b.data(), q, Rcode::noerror, 0xC6120001u, 60);
    REQUIRE(a.size() == b.size() + 16);
    CHECK(a[0] == 0x12);
    CHECK(a[1] == 0x34);
    CHECK(a[2] == 0x85);  // QR, AA, RD
    CHECK(a[3] == 0x80);  // RA, NOERROR
    CHECK(a[5] == 1);     // one question
    CHECK(a[7] == 1);     // one answer
    CHECK(Bytes(a.begin() + 12, a.begin() + static_cast<long>(b.size())) ==
          Bytes(b.begin() + 12, b.end()));
    const Bytes rr(a.begin() + static_cast<long>(b.size()), a.end());
    CHECK(rr == Bytes{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 1});
}

TEST_CASE("make_answer: NXDOMAIN and an empty AAAA carry no record; FORMERR no question") {
    const Bytes b = query("denied.test", kTypeA);
    Bytes a = make_answer(b.data(), parse(b), Rcode::nxdomain);
    CHECK(a.size() == b.size());
    CHECK((a[3] & 0xf) == 3);
    CHECK(a[7] == 0);
    const Bytes six = query("allowed.test", kTypeAAAA);
    a = make_answer(six.data(), parse(six), Rcode::noerror);
    CHECK(a.size() == six.size());
    CHECK(a[7] == 0);
    Bytes cut = query("a.test", kTypeA);
    cut.resize(14);
    a = make_answer(cut.data(), parse(cut), Rcode::formerr);
    CHECK(a.size() == 12);
    CHECK((a[3] & 0xf) == 1);
    CHECK(a[5] == 0);
    CHECK(make_answer(cut.data(), parse(Bytes(3, 0)), Rcode::formerr).empty());
}

TEST_CASE("SyntheticNames: one address per name for the run, never reused, bounded") {
    SyntheticNames s(2);
    const auto a = s.address_of("a.test");
    const auto b = s.address_of("b.test");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == 0xC6120001u);
    CHECK(*b == 0xC6120002u);
    CHECK(s.address_of("a.test") == a);
    CHECK(!s.address_of("c.test"));  // full: no address rather than another name's
    CHECK(s.name_of(*a) == "a.test");
    CHECK(s.name_of(*b) == "b.test");
    CHECK(!s.name_of(0xC6120003u));
    CHECK(!s.name_of(0xC6120000u));
    CHECK(!s.name_of(0x7f000001u));
    CHECK(SyntheticNames::in_range(0xC613ffffu));
    CHECK(!SyntheticNames::in_range(0xC6140000u));
}

TEST_CASE("decide_name: a name gets an address when some port of it could be allowed") {
    using agentbox::policy::Verdict;
    const auto net = plan({"allowed.test", "odd.test:8080", "any.test:*", "*.wild.test"},
                          {"bad.wild.test"});
    CHECK(decide_name(net, "allowed.test").verdict == Verdict::allow);
    CHECK(decide_name(net, "odd.test").verdict == Verdict::allow);
    CHECK(decide_name(net, "any.test").verdict == Verdict::allow);
    CHECK(decide_name(net, "x.wild.test").verdict == Verdict::allow);
    const auto denied = decide_name(net, "bad.wild.test");
    CHECK(denied.verdict == Verdict::deny);
    CHECK(denied.rule.find("bad.wild.test") != std::string::npos);
    CHECK(decide_name(net, "other.test").verdict == Verdict::deny);
    CHECK(decide_name(net, "").verdict == Verdict::deny);
    CHECK(decide_name(net, "a:b").verdict == Verdict::deny);
    auto ask = net;
    ask.unlisted = agentbox::profile::Unlisted::ask;
    CHECK(decide_name(ask, "other.test").verdict == Verdict::ask);
}
