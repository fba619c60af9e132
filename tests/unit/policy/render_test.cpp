// Renderings: text names every rule's source, JSON parses back with a stable set of keys,
// environment values never appear, and both match goldens in tests/data/plans/.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "golden.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::S;

Plan sample_plan() {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 5), E("/etc", 6), E("/bin", 7)};
    p.filesystem.write = {E("/work/proj", 10, "@project")};
    p.filesystem.tmpfs = {E("/home/u/.cache", 11, "~/.cache")};
    p.filesystem.deny = {E("/etc/shadow", 12), E("/work/proj/.env*", 13, "@project/.env*")};
    p.network.mode = S(profile::NetMode::proxy, 20);
    p.network.allow = {E("pypi.org", 21), E("*.pythonhosted.org:443", 22)};
    p.network.deny = {E("evil.pypi.org:*", 23)};
    p.env.pass = {E("PATH", 30), E("SECRET_TOKEN", 31)};
    p.limits.timeout_ms = S<std::uint64_t>(5400000, 40);
    p.limits.memory = S<std::uint64_t>(4ull << 30, 41);
    p.limits.pids = S<std::uint64_t>(512, 42);
    p.commit.protect = {E(".git/hooks/**", 50)};
    p.process.deny_syscalls = {E("socket", 60)};
    p.layers = {profile::Layer{"sample", "test.toml", "00ff"}};

    test::FakeHost h;
    for (const char* d : {"/usr", "/usr/bin", "/etc", "/work/proj", "/home/u"}) h.dir(d);
    for (const char* f : {"/etc/shadow", "/work/proj/.env"}) h.file(f);
    h.link("/bin", "usr/bin", "/usr/bin");
    HostFacts facts = h.facts();
    facts.cgroup2_delegated.clear();
    facts.cgroup1_memory = true;

    Invocation inv;
    inv.argv = {"python3", "-c", "print('hi there')"};
    inv.project = "/work/proj";
    inv.cwd = "/work/proj";
    inv.home = "/home/u";
    inv.environ = {{"PATH", "/usr/bin"}, {"SECRET_TOKEN", "hunter2-value"}};
    return compile(p, inv, facts);
}

using test::check_golden;

TEST_CASE("render_text: every mount names its rule and source; no environment values") {
    Plan plan = sample_plan();
    std::string text = render_text(plan);
    CHECK(text.find("bind-ro   /usr") != std::string::npos);
    CHECK(text.find("<- filesystem.read \"/usr\" (test.toml:5:1)") != std::string::npos);
    CHECK(text.find("overlay   /work/proj") != std::string::npos);
    CHECK(text.find("symlink   /bin -> usr/bin") != std::string::npos);
    CHECK(text.find("mask-file /etc/shadow") != std::string::npos);
    CHECK(text.find("<- implicit: fresh /proc") != std::string::npos);
    CHECK(text.find("memory      4GiB      cgroup1") != std::string::npos);
    CHECK(text.find("pids") != std::string::npos);
    CHECK(text.find("limits.pids (test.toml:42:1): unavailable: pids limit needs") != std::string::npos);
    CHECK(text.find("allow pypi.org:80,443") != std::string::npos);
    CHECK(text.find("(test.toml:21:1)") != std::string::npos);
    CHECK(text.find("SECRET_TOKEN") != std::string::npos);   // the name is shown ...
    CHECK(text.find("hunter2-value") == std::string::npos);  // ... never the value
    CHECK(text.find("\"print('hi there')\"") != std::string::npos);  // argv quoted when needed
    check_golden("sample.txt", text);
}

TEST_CASE("render_json parses back with the expected keys, in a stable order") {
    Plan plan = sample_plan();
    std::string out = render_json(plan);
    CHECK(out.find("hunter2-value") == std::string::npos);
    auto j = nlohmann::ordered_json::parse(out);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{
                      "argv", "project", "cwd", "home", "hostname", "backend", "uid", "gid",
                      "namespaces", "staging", "mounts", "env", "exec_allow", "seccomp",
                      "landlock", "net", "limits", "log_size", "on_exit", "protect", "notes",
                      "weakenings", "allow_weaker", "layers"});
    CHECK(j["staging"] == "overlay");
    CHECK(j["mounts"][0].contains("kind"));
    CHECK(j["mounts"][0].contains("from"));
    for (const auto& e : j["env"]) {
        CHECK(e.contains("name"));
        CHECK_FALSE(e.contains("value"));
    }
    CHECK(j["net"]["allow"][0]["ports"] == nlohmann::ordered_json::array({80, 443}));
    CHECK(j["net"]["deny"][0]["ports"] == "*");
    CHECK(j["limits"][1]["how"] == "cgroup1");
    CHECK(j["landlock"]["abi"] == 7);
    CHECK(j["weakenings"][0]["rule"] == "limits.pids");
    CHECK(render_json(sample_plan()) == out);  // deterministic
    check_golden("sample.json", out);
}

TEST_CASE("render a decision as text and JSON") {
    Decision d{Verdict::deny, "filesystem.deny \"~/.ssh\"",
               profile::Source{"/usr/share/agentbox/profiles/base.toml", 23, 5}, "invisible"};
    Request r{Op::read, "/home/u/.ssh/id_rsa"};
    CHECK(render_text(d, r) ==
          "deny  read /home/u/.ssh/id_rsa\n"
          "  rule: filesystem.deny \"~/.ssh\"\n"
          "  from: /usr/share/agentbox/profiles/base.toml:23:5\n"
          "  why:  invisible\n");
    auto j = nlohmann::ordered_json::parse(render_json(d, r));
    CHECK(j.dump() ==
          R"({"op":"read","target":"/home/u/.ssh/id_rsa","verdict":"deny","rule":"filesystem.deny \"~/.ssh\"","source":"/usr/share/agentbox/profiles/base.toml:23:5","reason":"invisible"})");
    // A hostile target cannot drive the terminal.
    std::string t = render_text(d, Request{Op::read, "/x\x1b[2J"});
    CHECK(t.find('\x1b') == std::string::npos);
    CHECK(t.find("\"/x\\x1b[2J\"") != std::string::npos);
}

}  // namespace
}  // namespace agentbox::policy
