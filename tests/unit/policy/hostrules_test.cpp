// Host names, rules and literal addresses (policy/hostrules, policy/ipaddr).
#include <doctest/doctest.h>

#include <stdexcept>

#include "fixtures.hpp"
#include "policy/hostrules.hpp"
#include "policy/ipaddr.hpp"

namespace agentbox::policy {
namespace {

using test::E;

TEST_CASE("canonical_host normalises case, one trailing dot and address literals") {
    CHECK(canonical_host("API.GitHub.COM") == "api.github.com");
    CHECK(canonical_host("example.com.") == "example.com");
    CHECK(canonical_host("127.0.0.1") == "127.0.0.1");
    CHECK(canonical_host("0.0.0.0") == "0.0.0.0");
    CHECK(canonical_host("[::1]") == "[::1]");
    CHECK(canonical_host("[FD00:0000:0:0::0001]") == "[fd00::1]");
    CHECK(canonical_host("2001:db8:0:0:1:0:0:1") == "[2001:db8::1:0:0:1]");  // first longest run
    CHECK(canonical_host("[2001:db8::0:1]") == "[2001:db8::1]");
    CHECK(canonical_host("[::ffff:1.2.3.4]") == "[::ffff:102:304]");
    CHECK(canonical_host("[1:0:2:3:4:5:6:7]") == "[1:0:2:3:4:5:6:7]");  // one zero: no "::"
    CHECK(canonical_host("my_host-1.internal") == "my_host-1.internal");
    CHECK(canonical_host("1password.com") == "1password.com");  // digits first: still a name
}

TEST_CASE("canonical_host rejects what could be read two ways") {
    for (const char* bad :
         {"", ".", "example.com..", "a..b", ".example.com", "user@example.com",
          "ex ample.com", "exa/mple.com", "*.example.com", "0x7f.1", "0x7f000001", "2130706433",
          "127.1", "127.0.1", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.0x4",
          "caf\xc3\xa9.fr", "[::1", "[1::2::3]", "[fe80::1%eth0]", "[1:2:3:4:5:6:7:8:9]",
          "[12345::]", "[::1.2.3]"}) {
        INFO(bad);
        CHECK_THROWS_AS(canonical_host(bad), std::invalid_argument);
    }
}

TEST_CASE("parse_target splits host and port, default 443") {
    auto t = parse_target("example.com");
    CHECK(t.host == "example.com");
    CHECK(t.port == 443);
    CHECK_FALSE(t.ip);
    t = parse_target("[::1]:8080");
    CHECK(t.host == "[::1]");
    CHECK(t.port == 8080);
    CHECK(t.ip);
    t = parse_target("::1");
    CHECK(t.host == "[::1]");
    CHECK(t.port == 443);
    CHECK_THROWS_AS(parse_target("example.com:"), std::invalid_argument);
    CHECK_THROWS_AS(parse_target("example.com:-1"), std::invalid_argument);
    CHECK_THROWS_AS(parse_target("[::1]x"), std::invalid_argument);
}

TEST_CASE("parse_host_rule: ports, wildcards, and errors naming the rule and file:line") {
    auto r = parse_host_rule(E("Example.COM", 3), "allow");
    CHECK(r.pattern == "example.com");
    CHECK(r.ports == std::vector<std::uint16_t>{80, 443});
    CHECK_FALSE(r.subdomains_only);
    r = parse_host_rule(E("*.example.com:8443", 4), "allow");
    CHECK(r.subdomains_only);
    CHECK(r.ports == std::vector<std::uint16_t>{8443});
    r = parse_host_rule(E("example.com:*", 5), "deny");
    CHECK(r.any_port);

    for (const char* bad : {"*", "*:443", "a.*.com", "*example.com", "**.example.com",
                            "*.10.0.0.1", "example.com:99999", "exa mple.com"}) {
        INFO(bad);
        try {
            parse_host_rule(E(bad, 9), "allow");
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            std::string what = e.what();
            CHECK(what.find("test.toml:9:1") != std::string::npos);
            CHECK(what.find("network.allow") != std::string::npos);
        }
    }
}

TEST_CASE("rule_matches: exact hosts, subdomains only, ports") {
    auto exact = parse_host_rule(E("github.com", 1), "allow");
    auto wild = parse_host_rule(E("*.github.com", 2), "allow");
    CHECK(rule_matches(exact, parse_target("github.com")));
    CHECK(rule_matches(exact, parse_target("github.com:80")));
    CHECK_FALSE(rule_matches(exact, parse_target("github.com:8080")));
    CHECK_FALSE(rule_matches(exact, parse_target("api.github.com")));
    CHECK_FALSE(rule_matches(wild, parse_target("github.com")));
    CHECK(rule_matches(wild, parse_target("api.github.com")));
    CHECK_FALSE(rule_matches(wild, parse_target("notgithub.com")));
    CHECK_FALSE(rule_matches(wild, parse_target("github.com.evil.com")));
}

TEST_CASE("private ranges of literal addresses") {
    CHECK(private_range("10.1.2.3").find("private") != std::string::npos);
    CHECK(private_range("172.16.0.1").find("private") != std::string::npos);
    CHECK(private_range("172.32.0.1").empty());
    CHECK(private_range("192.168.0.1").find("private") != std::string::npos);
    CHECK(private_range("127.8.8.8").find("loopback") != std::string::npos);
    CHECK(private_range("169.254.1.1").find("link-local") != std::string::npos);
    CHECK(private_range("169.254.169.254").find("metadata") != std::string::npos);
    CHECK(private_range("100.64.0.1").find("carrier-grade") != std::string::npos);
    CHECK(private_range("100.128.0.1").empty());
    CHECK(private_range("0.0.0.0").find("this network") != std::string::npos);
    CHECK(private_range("8.8.8.8").empty());
    CHECK(private_range("[::1]").find("loopback") != std::string::npos);
    CHECK(private_range("[fe80::1]").find("link-local") != std::string::npos);
    CHECK(private_range("[fd00:ec2::254]").find("unique local") != std::string::npos);
    CHECK(private_range("[::ffff:a00:1]").find("IPv4-mapped private") != std::string::npos);
    CHECK(private_range("[::ffff:808:808]").empty());
    CHECK(private_range("[64:ff9b::7f00:1]").find("NAT64 loopback") != std::string::npos);
    CHECK(private_range("[2606:4700::1111]").empty());
    CHECK(private_range("example.com").empty());
}

NetPlan proxy_plan(std::vector<profile::Entry> allow, std::vector<profile::Entry> deny = {},
                   bool allow_private = false) {
    NetPlan n;
    n.mode = profile::NetMode::proxy;
    for (const auto& e : allow) n.allow.push_back(parse_host_rule(e, "allow"));
    for (const auto& e : deny) n.deny.push_back(parse_host_rule(e, "deny"));
    n.allow_private = allow_private;
    return n;
}

TEST_CASE("decide_address: allowed name resolving to an internal address is refused") {
    const NetPlan n = proxy_plan({E("api.example.com", 3)});
    const ConnectTarget t = parse_target("api.example.com:443");
    for (const char* a : {"127.0.0.1", "10.0.0.5", "169.254.169.254", "100.64.1.1", "::1",
                          "::ffff:127.0.0.1", "fe80::1", "fd00::1", "224.0.0.1", "0.0.0.0"}) {
        INFO(a);
        const Decision d = decide_address(n, t, a);
        CHECK(d.verdict == Verdict::deny);
        CHECK(d.rule == "network.allow_private false");
        CHECK(d.reason.find("api.example.com resolved to") == 0);
    }
    CHECK(decide_address(n, t, "93.184.216.34").verdict == Verdict::allow);
    CHECK(decide_address(n, t, "2606:2800:220:1::1").verdict == Verdict::allow);
    // A zone id or anything not an address is refused, not guessed at.
    CHECK(decide_address(n, t, "fe80::1%eth0").verdict == Verdict::deny);
}

TEST_CASE("decide_address: a rule naming the exact address, or allow_private, lets it through") {
    const ConnectTarget t = parse_target("api.test:8443");
    NetPlan n = proxy_plan({E("api.test:8443", 3), E("127.0.0.1:8443", 4)});
    Decision d = decide_address(n, t, "127.0.0.1");
    CHECK(d.verdict == Verdict::allow);
    CHECK(d.rule == "network.allow \"127.0.0.1:8443\"");
    // The address rule is port-exact: the same address on another port is still refused.
    CHECK(decide_address(n, parse_target("api.test:9000"), "127.0.0.1").verdict == Verdict::deny);
    CHECK(decide_address(n, t, "127.0.0.2").verdict == Verdict::deny);
    n = proxy_plan({E("api.test:8443", 3)}, {}, true);
    d = decide_address(n, t, "10.1.2.3");
    CHECK(d.verdict == Verdict::allow);
    CHECK(d.rule == "network.allow_private true");
}

TEST_CASE("decide_address: a deny rule naming the address beats allow_private") {
    const NetPlan n = proxy_plan({E("api.test", 3)}, {E("93.184.216.34:*", 5), E("10.9.9.9:*", 6)},
                                 true);
    const ConnectTarget t = parse_target("api.test:443");
    CHECK(decide_address(n, t, "93.184.216.34").rule == "network.deny \"93.184.216.34:*\"");
    CHECK(decide_address(n, t, "10.9.9.9").verdict == Verdict::deny);
    CHECK(decide_address(n, t, "10.9.9.8").verdict == Verdict::allow);
}

}  // namespace
}  // namespace agentbox::policy
