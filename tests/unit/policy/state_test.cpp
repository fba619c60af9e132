// policy::compile of agent state files (filesystem.state): a copy in the session's home, never
// a bind of the host file, and every way a state file could be reached through the host refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>

#include "fixtures.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;

profile::Profile agent_profile() {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 1)};
    p.filesystem.write = {E("/p", 2, "@project"), E("/home/u/.claude/projects", 3)};
    p.filesystem.state = {E("/home/u/.claude.json", 4, "~/.claude.json"),
                          E("/home/u/.claude/settings.json", 5, "~/.claude/settings.json")};
    p.filesystem.state_review = {E("mcpServers", 6), E("hooks", 6),
                                 E("/home/u/.claude/settings.json", 7)};
    return p;
}

test::FakeHost agent_host() {
    test::FakeHost h;
    for (const char* d : {"/usr", "/p", "/home/u", "/home/u/.claude", "/home/u/.claude/projects"})
        h.dir(d);
    h.file("/home/u/.claude.json");  // settings.json does not exist yet
    return h;
}

Invocation agent_inv() {
    Invocation inv;
    inv.argv = {"claude"};
    inv.project = "/p";
    inv.cwd = "/p";
    inv.home = "/home/u";
    return inv;
}

const Mount* at(const Plan& plan, const std::string& target) {
    for (const auto& m : plan.mounts)
        if (m.target == target) return &m;
    return nullptr;
}

TEST_CASE("state: the home is the session's directory, and no state file is bound") {
    const Plan plan = compile(agent_profile(), agent_inv(), agent_host().facts());
    REQUIRE(plan.state.size() == 2);
    CHECK(plan.state[0].path == "/home/u/.claude.json");
    CHECK_FALSE(plan.state[0].review_whole);
    CHECK(plan.state[1].path == "/home/u/.claude/settings.json");
    CHECK(plan.state[1].review_whole);
    CHECK(plan.state_keys == std::vector<std::string>{"mcpServers", "hooks"});
    const Mount* home = at(plan, "/home/u");
    REQUIRE(home != nullptr);
    CHECK(home->kind == MountKind::state_home);
    CHECK(at(plan, "/home/u/.claude.json") == nullptr);
    CHECK(at(plan, "/home/u/.claude/settings.json") == nullptr);
    // A harmless directory beside them is still a plain bind.
    REQUIRE(at(plan, "/home/u/.claude/projects") != nullptr);
    CHECK(at(plan, "/home/u/.claude/projects")->kind == MountKind::bind_rw);
}

TEST_CASE("state: without state files the home stays an empty tmpfs") {
    profile::Profile p = agent_profile();
    p.filesystem.state.clear();
    const Plan plan = compile(p, agent_inv(), agent_host().facts());
    REQUIRE(at(plan, "/home/u") != nullptr);
    CHECK(at(plan, "/home/u")->kind == MountKind::tmpfs);
    CHECK(plan.state.empty());
}

TEST_CASE("state: a state file inside a writable grant of the host is a profile error") {
    // A rename beside it would reach the host directly, and a rename over it is refused.
    profile::Profile p = agent_profile();
    p.filesystem.write.push_back(E("/home/u/.claude", 8, "~/.claude"));
    CHECK_THROWS_AS(compile(p, agent_inv(), agent_host().facts()), std::invalid_argument);
    p.filesystem.write.pop_back();
    p.filesystem.read.push_back(E("/home/u/.claude", 8, "~/.claude"));
    CHECK_THROWS_AS(compile(p, agent_inv(), agent_host().facts()), std::invalid_argument);
}

TEST_CASE("state: outside the home, or with the home granted from the host, is an error") {
    profile::Profile p = agent_profile();
    p.filesystem.state.push_back(E("/etc/agent.json", 9));
    CHECK_THROWS_AS(compile(p, agent_inv(), agent_host().facts()), std::invalid_argument);
    p = agent_profile();
    p.filesystem.write.push_back(E("/home/u", 9, "~"));
    CHECK_THROWS_AS(compile(p, agent_inv(), agent_host().facts()), std::invalid_argument);
}

TEST_CASE("state: a directory is an error; a symlink is shown read-only and not saved") {
    test::FakeHost h = agent_host();
    h.dir("/home/u/.claude/settings.json");
    CHECK_THROWS_AS(compile(agent_profile(), agent_inv(), h.facts()), std::invalid_argument);

    test::FakeHost l = agent_host();
    l.dir("/home/u/dotfiles");
    l.file("/home/u/dotfiles/claude.json");
    l.kinds.erase("/home/u/.claude.json");
    l.link("/home/u/.claude.json", "dotfiles/claude.json", "/home/u/dotfiles/claude.json");
    const Plan plan = compile(agent_profile(), agent_inv(), l.facts());
    CHECK(std::none_of(plan.state.begin(), plan.state.end(),
                       [](const StateFile& f) { return f.path == "/home/u/.claude.json"; }));
    // Bound read-only where the kernel resolves it (the fake host may resolve in place).
    const Mount* ro = at(plan, "/home/u/dotfiles/claude.json");
    if (ro == nullptr) ro = at(plan, "/home/u/.claude.json");
    REQUIRE(ro != nullptr);
    CHECK(ro->kind == MountKind::bind_ro);
}

TEST_CASE("state: a denied state file is skipped") {
    profile::Profile p = agent_profile();
    p.filesystem.deny.push_back(E("/home/u/.claude.json", 9));
    const Plan plan = compile(p, agent_inv(), agent_host().facts());
    CHECK(std::none_of(plan.state.begin(), plan.state.end(),
                       [](const StateFile& f) { return f.path == "/home/u/.claude.json"; }));
}

TEST_CASE("state: explain says what a state file is") {
    const Decision d = decide(agent_profile(), Request{Op::write, "/home/u/.claude.json"},
                              "/p", "/home/u");
    CHECK(d.verdict == Verdict::allow);
    CHECK(d.reason.find("state file") != std::string::npos);
}

}  // namespace
}  // namespace agentbox::policy
