// Request rules (policy/requestrules): the path's normal form, pattern matching, and the
// request decision. The normalizer is attacked here with every spelling that might make a
// server read another path than the rule judged.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "fixtures.hpp"
#include "policy/hostrules.hpp"
#include "policy/policy.hpp"
#include "policy/requestrules.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::S;

std::string norm(const std::string& target) {
    std::string path;
    const std::string problem = normalize_path(target, path);
    return problem.empty() ? path : "REFUSED";
}

NetPlan net_with(std::initializer_list<const char*> rules) {
    profile::Network n;
    n.mode = S(profile::NetMode::proxy, 1);
    n.allow = {E("api.github.com", 2), E("example.com", 3)};
    int line = 10;
    for (const char* r : rules) n.request.push_back(E(r, line++));
    return make_net_plan(n);
}

Verdict verdict(const NetPlan& net, const char* method, const char* target,
                const char* host = "api.github.com") {
    std::string path;
    return decide_request(net, method, host, target, path).verdict;
}

TEST_CASE("normalize_path cuts the query, decodes unreserved escapes and removes dot segments") {
    CHECK(norm("/") == "/");
    CHECK(norm("/repos/acme/x?token=1#frag") == "/repos/acme/x");
    CHECK(norm("/%72%65pos/acme") == "/repos/acme");
    CHECK(norm("/a%7e%5F%2D%2e") == "/a~_-.");
    CHECK(norm("/a%20b") == "/a%20b");
    CHECK(norm("/a%3bb") == "/a%3Bb");  // kept escaped, hex upper case
    CHECK(norm("/a/./b") == "/a/b");
    CHECK(norm("/a/b/../c") == "/a/c");
    CHECK(norm("/a/b/..") == "/a/");
    CHECK(norm("/a/b/.") == "/a/b/");
    CHECK(norm("/a/") == "/a/");
    CHECK(norm("/..a/b..") == "/..a/b..");  // names, not dot segments
    CHECK(norm("/a;v=1/b") == "/a;v=1/b");
    CHECK(norm("/a/.%2e/b") == "/b");  // decoded first, then resolved
    CHECK(norm("/a/%252e%252e/b") == "/a/%252e%252e/b");  // decoded once, as a server does
}

TEST_CASE("normalize_path refuses what a server might read as another path") {
    for (const char* bad :
         {"", "*", "http://api.github.com/x", "repos/acme", "/..", "/a/../..", "/%2e%2e",
          "/%2E%2E/x", "/.%2e/x", "/a//b", "//a", "/a%2fb", "/a%2F..%2Fb", "/a%5cb", "/a\\b",
          "/a%00b", "/a%0ab", "/a%", "/a%4", "/a%zz", "/a b", "/a\x7f", "/caf\xc3\xa9",
          "/a/..;/b", "/a/.;x/b", "/a/..%3b/b", "/a/.%3B/b", "/a/..%2f"}) {
        INFO(bad);
        CHECK(norm(bad) == "REFUSED");
    }
}

TEST_CASE("path_matches: * within one segment, ** across segments") {
    CHECK(path_matches("", "/anything/at/all"));
    CHECK(path_matches("/repos/acme/*", "/repos/acme/widget"));
    CHECK_FALSE(path_matches("/repos/acme/*", "/repos/acme/widget/issues"));
    CHECK_FALSE(path_matches("/repos/acme/*", "/repos/acmecorp/widget"));
    CHECK_FALSE(path_matches("/repos/acme/*", "/repos/other/widget"));
    CHECK(path_matches("/repos/acme/**", "/repos/acme"));
    CHECK(path_matches("/repos/acme/**", "/repos/acme/"));
    CHECK(path_matches("/repos/acme/**", "/repos/acme/widget/issues/1"));
    CHECK_FALSE(path_matches("/repos/acme/**", "/repos/acme-evil/x"));
    CHECK(path_matches("/v1/*/parts", "/v1/abc/parts"));
    CHECK(path_matches("/v1/*.json", "/v1/x.json"));
    CHECK_FALSE(path_matches("/v1/*.json", "/v1/x.json/y"));
    CHECK(path_matches("/**/info/refs", "/acme/repo.git/info/refs"));
    CHECK(path_matches("/**/info/refs", "/info/refs"));
    CHECK_FALSE(path_matches("/**/info/refs", "/acme/info/refs/x"));
    CHECK(path_matches("/a/**/b/**/c", "/a/x/b/y/z/c"));
    CHECK_FALSE(path_matches("/a/**/b/**/c", "/a/x/y/c"));
    CHECK(path_matches("/", "/"));
    CHECK_FALSE(path_matches("/", "/x"));
    CHECK_FALSE(path_matches("/x", "/x/"));
    // Many stars cost no backtracking blow-up.
    std::string pat = "/", path = "/";
    for (int i = 0; i < 40; ++i) {
        pat += "**/a*a*a*a*a*/";
        path += "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/";
    }
    CHECK_FALSE(path_matches(pat + "b", path + "c"));
}

TEST_CASE("parse_request_rule: methods, read-only, any, host and path") {
    RequestRule r = parse_request_rule(E("GET,HEAD api.github.com/repos/acme/**", 4));
    CHECK(r.methods == std::vector<std::string>{"GET", "HEAD"});
    CHECK(r.host == "api.github.com");
    CHECK(r.path == "/repos/acme/**");
    CHECK(r.src.line == 4);
    r = parse_request_rule(E("read-only example.com", 5));
    CHECK(r.methods == std::vector<std::string>{"GET", "HEAD"});
    CHECK(r.path.empty());
    r = parse_request_rule(E("* example.com/", 6));
    CHECK(r.methods.empty());
    CHECK(r.path == "/");
    CHECK_THROWS_AS(parse_request_rule(E("GET", 7)), std::invalid_argument);
}

TEST_CASE("a POST to a read-only host is refused, naming the rule and its line") {
    const NetPlan net = net_with({"read-only api.github.com"});
    std::string path;
    const Decision d = decide_request(net, "POST", "api.github.com", "/user/repos", path);
    CHECK(d.verdict == Verdict::deny);
    CHECK(d.rule == "network.request \"read-only api.github.com\"");
    CHECK(d.source.line == 10);
    CHECK(path == "/user/repos");
    CHECK(verdict(net, "GET", "/user/repos?per_page=1") == Verdict::allow);
    CHECK(verdict(net, "HEAD", "/") == Verdict::allow);
    CHECK(verdict(net, "get", "/") == Verdict::deny);  // methods are case-sensitive
    CHECK(verdict(net, "OPTIONS", "/") == Verdict::deny);
}

TEST_CASE("a dotdot path cannot escape a prefix rule") {
    const NetPlan net = net_with({"read-only api.github.com", "POST api.github.com/repos/acme/**"});
    CHECK(verdict(net, "POST", "/repos/acme/widget/issues") == Verdict::allow);
    CHECK(verdict(net, "POST", "/repos/acme/../other/widget/issues") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme/%2e%2e/other/x") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme/%2E%2E/other/x") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme/.%2e/other/x") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme/..;/other/x") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme%2f..%2fother/x") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme//../other") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme\\..\\other") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acmeevil/x") == Verdict::deny);
    CHECK(verdict(net, "POST", "/repos/acme/x/../y") == Verdict::allow);  // still inside
    CHECK(verdict(net, "POST", "/%72epos/acme/x") == Verdict::allow);     // "%72" is "r"
    std::string path;
    const Decision d = decide_request(net, "POST", "api.github.com", "/repos/%2e%2e/%2e%2e/o", path);
    CHECK(d.rule == "request path");
    CHECK(path.empty());
}

TEST_CASE("the nearest rule is named: the one whose path matched") {
    const NetPlan net = net_with({"GET api.github.com/user", "POST api.github.com/repos/acme/**"});
    std::string path;
    const Decision d = decide_request(net, "DELETE", "api.github.com", "/repos/acme/x", path);
    CHECK(d.verdict == Verdict::deny);
    CHECK(d.source.line == 11);
    CHECK(d.reason.find("not its methods") != std::string::npos);
}

TEST_CASE("rules of one host say nothing about another") {
    const NetPlan net = net_with({"read-only api.github.com"});
    CHECK(has_request_rules(net, "api.github.com"));
    CHECK_FALSE(has_request_rules(net, "example.com"));
    CHECK_FALSE(has_request_rules(net, "sub.api.github.com"));
}

TEST_CASE("decide_request_url: the connect decision first, then the request rules") {
    const NetPlan net = net_with({"read-only api.github.com"});
    Decision d = decide_request_url(net, "GET https://api.github.com/user?x=1");
    CHECK(d.verdict == Verdict::allow);
    CHECK(d.source.line == 10);
    d = decide_request_url(net, "POST https://api.github.com/user");
    CHECK(d.verdict == Verdict::deny);
    CHECK(d.source.line == 10);
    d = decide_request_url(net, "POST https://evil.example/");  // not allowed to connect at all
    CHECK(d.verdict == Verdict::deny);
    CHECK(d.rule.starts_with("network.unlisted"));
    d = decide_request_url(net, "POST http://example.com");  // no request rules: the host rule
    CHECK(d.verdict == Verdict::allow);
    CHECK(d.source.line == 3);
    d = decide_request_url(net, "DELETE HTTPS://API.GITHUB.COM:443/x");
    CHECK(d.verdict == Verdict::deny);
    CHECK(decide_request_url(net, "GET https://api.github.com:8443/").verdict == Verdict::deny);
    CHECK(decide_request_url(net, "GET ftp://api.github.com/").rule == "request URL");
    CHECK(decide_request_url(net, "GET https://x@api.github.com/").rule == "request URL");
    CHECK(decide_request_url(net, "https://api.github.com/").rule == "request URL");
}

Plan compile_with(profile::NetMode mode, bool bundle) {
    profile::Profile p;
    p.filesystem.write = {E("/p", 1, "@project")};
    p.network.mode = S(mode, 2);
    p.network.request = {E("read-only api.github.com", 3), E("GET example.com/x", 4)};
    test::FakeHost h;
    h.dir("/p");
    h.dir("/home/u");
    Invocation inv;
    inv.argv = {"true"};
    inv.project = inv.cwd = "/p";
    inv.home = "/home/u";
    if (bundle) inv.ca_bundle = "/run/user/1/agentbox-ca-x/ca-bundle.pem";
    return compile(p, inv, h.facts());
}

TEST_CASE("a host with request rules is intercepted, with the run's CA trusted inside") {
    const Plan plan = compile_with(profile::NetMode::proxy, true);
    CHECK(plan.net.requests.size() == 2);
    CHECK(plan.net.intercept == std::vector<std::string>{"api.github.com", "example.com"});
    const auto m = std::find_if(plan.mounts.begin(), plan.mounts.end(),
                                [](const Mount& x) { return x.target == kCaBundleInside; });
    REQUIRE(m != plan.mounts.end());
    CHECK(m->rule.find("network.request") != std::string::npos);
    const auto v = std::find_if(plan.env.begin(), plan.env.end(),
                                [](const EnvVar& e) { return e.name == "SSL_CERT_FILE"; });
    REQUIRE(v != plan.env.end());
    CHECK(v->value == kCaBundleInside);
    // A dry run (no bundle made) still shows which hosts would be intercepted.
    CHECK(compile_with(profile::NetMode::proxy, false).net.intercept.size() == 2);
    CHECK(render_text(plan).find("request read-only api.github.com") != std::string::npos);
    CHECK(render_json(plan).find("\"requests\"") != std::string::npos);
}

TEST_CASE("request rules outside proxy mode are refused, naming the rule") {
    for (auto mode : {profile::NetMode::host, profile::NetMode::none}) {
        try {
            (void)compile_with(mode, true);
            FAIL("compiled");
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).find("test.toml:3:1") != std::string::npos);
            CHECK(std::string(e.what()).find("only through the proxy") != std::string::npos);
        }
    }
}

}  // namespace
}  // namespace agentbox::policy
