// network.dlp_off in the Plan: compiled into NetPlan::dlp_off for the proxy's DLP rules,
// printed where the network plan is, and refused (file:line:col) where it could change
// nothing: outside proxy mode, or for a host the plan never lets the sandbox reach.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "fixtures.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::S;

Plan compile_off(profile::NetMode mode, std::vector<profile::Entry> allow,
                 std::vector<profile::Entry> off, bool secret = true,
                 std::vector<profile::Entry> deny = {}) {
    profile::Profile p;
    p.network.deny = std::move(deny);
    p.filesystem.write = {E("/p", 1, "@project")};
    p.network.mode = S(mode, 2);
    p.network.allow = std::move(allow);
    p.network.dlp_off = std::move(off);
    if (secret) {
        profile::Secret s;
        s.name = "TOKEN";
        s.hosts = {E("api.example.com", 6)};
        s.env = "TOKEN";
        s.src = test::src(6);
        p.secrets["TOKEN"] = s;
    }
    test::FakeHost h;
    h.dir("/p");
    h.dir("/home/u");
    Invocation inv;
    inv.argv = {"true"};
    inv.project = inv.cwd = "/p";
    inv.home = "/home/u";
    return compile(p, inv, h.facts());
}

std::string refusal(profile::NetMode mode, std::vector<profile::Entry> allow,
                    std::vector<profile::Entry> off, bool secret = true,
                    std::vector<profile::Entry> deny = {}) {
    try {
        (void)compile_off(mode, std::move(allow), std::move(off), secret, std::move(deny));
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

TEST_CASE("dlp_off is compiled into the NetPlan and printed with the network plan") {
    const Plan plan = compile_off(profile::NetMode::proxy,
                                  {E("api.example.com", 3), E("vault.example.com:8200", 4)},
                                  {E("private-key@vault.example.com", 5)});
    REQUIRE(plan.net.dlp_off.size() == 1);
    CHECK(plan.net.dlp_off[0].rule == "private-key");
    CHECK(plan.net.dlp_off[0].host == "vault.example.com");
    CHECK(plan.net.dlp_off[0].src.str() == "test.toml:5:1");
    CHECK(render_text(plan).find("dlp off private-key@vault.example.com") != std::string::npos);
    CHECK(render_json(plan).find("\"dlp_off\"") != std::string::npos);
    CHECK(render_json(plan).find("\"vault.example.com\"") != std::string::npos);
    // Without any, the JSON Plan reads as before.
    CHECK(render_json(compile_off(profile::NetMode::proxy, {E("api.example.com", 3)}, {}))
              .find("dlp_off") == std::string::npos);
}

TEST_CASE("dlp_off for a host the plan never allows is refused with its file:line:col") {
    const std::string err = refusal(profile::NetMode::proxy, {E("api.example.com", 3)},
                                    {E("private-key@vault.example.com", 5)});
    CHECK(err.rfind("test.toml:5:1: network.dlp_off \"private-key@vault.example.com\": no "
                    "network.allow rule lets the sandbox reach \"vault.example.com\"",
                    0) == 0);
    // Allowed, but denied again by a deny rule: as unreachable.
    CHECK(refusal(profile::NetMode::proxy, {E("api.example.com", 3), E("vault.example.com", 4)},
                  {E("private-key@vault.example.com", 5)}, true, {E("vault.example.com", 7)})
              .find("test.toml:5:1: network.dlp_off") == 0);
    // At a port of its own: reachable there.
    CHECK(refusal(profile::NetMode::proxy, {E("api.example.com", 3), E("vault.example.com:8200", 4)},
                  {E("private-key@vault.example.com", 5)}, true, {E("vault.example.com", 7)}) == "");
    // A wildcard allow rule reaches it.
    CHECK(refusal(profile::NetMode::proxy, {E("*.example.com", 3)},
                  {E("private-key@vault.example.com", 5)}) == "");
}

TEST_CASE("dlp_off outside proxy mode is refused, naming the entry") {
    for (auto mode : {profile::NetMode::host, profile::NetMode::none}) {
        // No secret here: its own "only through the proxy" must not answer for the switch.
        const std::string err = refusal(mode, {}, {E("github-token@api.example.com", 5)}, false);
        CHECK(err.find("test.toml:5:1: network.dlp_off") == 0);
        CHECK(err.find("only through the proxy") != std::string::npos);
    }
}

TEST_CASE("dlp_off in a run that scans nothing is noted, not silent") {
    const Plan plan = compile_off(profile::NetMode::proxy, {E("api.example.com", 3)},
                                  {E("github-token@api.example.com", 5)}, false);
    bool noted = false;
    for (const auto& n : plan.notes) noted = noted || n.find("network.dlp_off") == 0;
    CHECK(noted);
}

}  // namespace
}  // namespace agentbox::policy
