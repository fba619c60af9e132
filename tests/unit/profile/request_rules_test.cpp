// profile::parse of network.request: the rule grammar and its errors, each with file:line:col.
#include <doctest/doctest.h>

#include <string>

#include "profile/load.hpp"

using namespace agentbox::profile;

namespace {

std::string error_of(const std::string& rules) {
    try {
        parse("version = 1\n[network]\nrequest = [\n  " + rules + ",\n]\n", "t.toml", Context{});
    } catch (const ProfileError& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("network.request entries are read, canonicalised, with their source") {
    const Profile p = parse(R"(version = 1
[network]
allow = ["api.github.com"]
request = [
  "GET,HEAD API.GitHub.com.",
  "POST api.github.com/repos/acme/**",
  "read-only example.com/a%3bb/*.json",
  "* uploads.example.com/",
]
)", "t.toml", Context{});
    REQUIRE(p.network.request.size() == 4);
    CHECK(p.network.request[0].value == "GET,HEAD api.github.com");
    CHECK(p.network.request[0].raw == "GET,HEAD API.GitHub.com.");
    CHECK(p.network.request[0].src.str() == "t.toml:5:3");
    CHECK(p.network.request[1].value == "POST api.github.com/repos/acme/**");
    CHECK(p.network.request[2].value == "read-only example.com/a%3Bb/*.json");
    CHECK(p.network.request[3].value == "* uploads.example.com/");
}

TEST_CASE("bad network.request entries are refused with file:line:col and why") {
    struct Case {
        const char* rule;
        const char* says;
    };
    for (const Case c : {Case{"\"api.github.com\"", "needs METHODS and a host"},
                         Case{"\"get api.github.com\"", "methods are upper case"},
                         Case{"\"GET,,HEAD api.github.com\"", "empty method"},
                         Case{"\"G(T api.github.com\"", "not a method name"},
                         Case{"\"GET *.github.com\"", "exact host"},
                         Case{"\"GET api.github.com:443\"", "without a port"},
                         Case{"\"GET https://api.github.com/x\"", "without the scheme"},
                         Case{"\"GET api.github.com/a/../b\"", "dot segment"},
                         Case{"\"GET api.github.com/a/.\"", "dot segment"},
                         Case{"\"GET api.github.com/a//b\"", "empty path segment"},
                         Case{"\"GET api.github.com/a?x=1\"", "query"},
                         Case{"\"GET api.github.com/a**\"", "whole path segment"},
                         Case{"\"GET api.github.com/%61\"", "unreserved"},
                         Case{"\"GET api.github.com/a%2Fb\"", "escapes \"/\""},
                         Case{"\"GET api.github.com/a%zz\"", "malformed percent-escape"},
                         Case{"\"GET api.github.com/a\\\\b\"", "in its path"},
                         Case{"\"GET  api.github.com\"", "more than one space"},
                         Case{"\"GET exa mple.com\"", "more than one space"},
                         Case{"42", "must be a string"}}) {
        INFO(c.rule);
        const std::string err = error_of(c.rule);
        CHECK(err.starts_with("t.toml:4:3: "));
        CHECK(err.find(c.says) != std::string::npos);
    }
}

TEST_CASE("request is a test op: [[test]] op = \"request\"") {
    const auto tests = read_tests(R"(version = 1
[[test]]
op = "request"
target = "POST https://api.github.com/repos/acme/x"
expect = "deny"
)", "t.toml");
    REQUIRE(tests.size() == 1);
    CHECK(tests[0].op == "request");
}
