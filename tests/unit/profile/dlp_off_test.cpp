// profile::parse of network.dlp_off ("RULE@HOST"): a credential-format rule turned off for one
// host, canonicalised; what it may not name (the run's own secrets, "unscannable", an unknown
// rule, a pattern or a port for the host) refused with file:line:col; merged across layers.
#include <doctest/doctest.h>

#include <string>

#include "profile/load.hpp"
#include "profile/names.hpp"

using namespace agentbox::profile;

namespace {

Profile parsed(const std::string& entries) {
    return parse("version = 1\n[network]\ndlp_off = [\n  " + entries + ",\n]\n", "t.toml",
                 Context{});
}

std::string error_of(const std::string& entries) {
    try {
        (void)parsed(entries);
    } catch (const ProfileError& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("network.dlp_off entries are read, canonicalised, with their source") {
    const Profile p = parsed("\"private-key@Vault.Example.COM.\", \"github-token@api.github.com\"");
    REQUIRE(p.network.dlp_off.size() == 2);
    CHECK(p.network.dlp_off[0].value == "private-key@vault.example.com");
    CHECK(p.network.dlp_off[0].raw == "private-key@Vault.Example.COM.");
    CHECK(p.network.dlp_off[0].src.str() == "t.toml:4:3");
    CHECK(p.network.dlp_off[1].value == "github-token@api.github.com");
    // Every format rule may be named.
    for (const auto rule : kDlpFormatRules)
        CHECK(error_of("\"" + std::string(rule) + "@example.com\"") == "");
}

TEST_CASE("dlp_off cannot turn off the rule for the run's own secret values") {
    for (const char* e : {"\"secret:ANTHROPIC_API_KEY@api.example.com\"", "\"secret@x.example\"",
                          "\"secrets.GH_TOKEN@x.example\""}) {
        const std::string err = error_of(e);
        CAPTURE(e);
        CHECK(err.rfind("t.toml:4:3: network.dlp_off entry ", 0) == 0);
        CHECK(err.find("cannot turn off the rule for the run's own secret values") !=
              std::string::npos);
    }
    CHECK(error_of("\"unscannable@x.example\"").find("cannot turn off \"unscannable\"") !=
          std::string::npos);
}

TEST_CASE("dlp_off naming an unknown rule is refused, listing the rules") {
    const std::string err = error_of("\"github-tokens@api.github.com\"");
    CHECK(err.rfind("t.toml:4:3: network.dlp_off entry \"github-tokens@api.github.com\" names no "
                    "DLP format rule \"github-tokens\" (did you mean \"github-token\"?); the rules "
                    "are private-key, aws-access-key-id, github-token, anthropic-key, openai-key",
                    0) == 0);
}

TEST_CASE("bad dlp_off hosts are refused with file:line:col and why") {
    struct Case {
        const char* entry;
        const char* says;
    };
    for (const Case c : {Case{"\"private-key\"", "needs RULE@HOST"},
                         Case{"\"private-key@\"", "has no host"},
                         Case{"\"private-key@*.example.com\"", "not a pattern"},
                         Case{"\"private-key@example.com:443\"", "without a port"},
                         Case{"\"private-key@exa mple.com\"", "not a host name"},
                         Case{"\"private-key@a..b\"", "empty label"}}) {
        CAPTURE(c.entry);
        const std::string err = error_of(c.entry);
        CHECK(err.rfind("t.toml:4:3: network.dlp_off entry ", 0) == 0);
        CHECK(err.find(c.says) != std::string::npos);
    }
    CHECK(error_of("1").find("t.toml:4:3") == 0);
}

TEST_CASE("dlp_off appends across layers like the other network lists") {
    Profile base = parsed("\"private-key@vault.example.com\"");
    const Profile top = parsed("\"github-token@api.github.com\", \"private-key@vault.example.com\"");
    merge_into(base, top);
    REQUIRE(base.network.dlp_off.size() == 2);
    CHECK(base.network.dlp_off[1].value == "github-token@api.github.com");
}
