// guard_own_dirs (policy/compile_own_dirs.cpp): no grant reaches agentbox's own directories,
// and none can move a directory above them.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>

#include "fixtures.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::mount_at;

profile::Profile base(std::vector<profile::Entry> write, std::vector<profile::Entry> read = {}) {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 1)};
    for (auto& r : read) p.filesystem.read.push_back(std::move(r));
    p.filesystem.write = {E("/p", 2, "@project")};
    for (auto& w : write) p.filesystem.write.push_back(std::move(w));
    // What cli::own_dirs_layer adds to every run.
    const profile::Source ab{"<agentbox>", 0, 0};
    for (const char* d : {"/home/u/.local/state/agentbox", "/home/u/.config/agentbox",
                          "/home/u/.cache/agentbox"})
        p.filesystem.deny.push_back(profile::Entry{d, d, ab});
    return p;
}

test::FakeHost host() {
    test::FakeHost h;
    for (const char* d : {"/usr", "/p", "/home/u", "/home/u/.local", "/home/u/.local/state",
                          "/home/u/.local/state/agentbox", "/home/u/.local/state/agentbox/sessions",
                          "/home/u/.config", "/home/u/.config/agentbox", "/home/u/.cache",
                          "/home/u/.cache/agentbox", "/data"})
        h.dir(d);
    return h;
}

Invocation inv() {
    Invocation i;
    i.argv = {"sh"};
    i.project = "/p";
    i.cwd = "/p";
    i.home = "/home/u";
    i.own_dirs = {"/home/u/.local/state/agentbox", "/home/u/.config/agentbox",
                  "/home/u/.cache/agentbox"};
    return i;
}

std::size_t index(const Plan& plan, const std::string& target, MountKind kind) {
    for (std::size_t i = 0; i < plan.mounts.size(); ++i)
        if (plan.mounts[i].target == target && plan.mounts[i].kind == kind) return i;
    FAIL("no mount at ", target);
    return 0;
}

bool note(const Plan& plan, const std::string& text) {
    return std::any_of(plan.notes.begin(), plan.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

TEST_CASE("own dirs: --rw ~/.local is narrowed: ~/.local/state is bound over itself, the state "
          "directory masked") {
    const Plan plan = compile(base({E("/home/u/.local", 3, "~/.local")}), inv(), host().facts());
    const Mount* pin = mount_at(plan, "/home/u/.local/state", MountKind::bind_rw);
    REQUIRE(pin != nullptr);
    CHECK(pin->source == "/home/u/.local/state");
    REQUIRE(mount_at(plan, "/home/u/.local/state/agentbox", MountKind::mask_dir) != nullptr);
    // Parents before children: the grant, the self-bind, the mask.
    CHECK(index(plan, "/home/u/.local", MountKind::bind_rw) <
          index(plan, "/home/u/.local/state", MountKind::bind_rw));
    CHECK(index(plan, "/home/u/.local/state", MountKind::bind_rw) <
          index(plan, "/home/u/.local/state/agentbox", MountKind::mask_dir));
    CHECK(note(plan, "contains agentbox's own directory \"/home/u/.local/state/agentbox\": "
                     "narrowed"));
    CHECK(note(plan, "\"/home/u/.local/state\" is bound over itself"));
}

TEST_CASE("own dirs: --rw ~ pins every directory between home and each own directory") {
    const Plan plan = compile(base({E("/home/u", 3, "~")}), inv(), host().facts());
    for (const char* d : {"/home/u/.local", "/home/u/.local/state", "/home/u/.config",
                          "/home/u/.cache"})
        CHECK_MESSAGE(mount_at(plan, d, MountKind::bind_rw) != nullptr, d);
    for (const char* d : {"/home/u/.local/state/agentbox", "/home/u/.config/agentbox",
                          "/home/u/.cache/agentbox"})
        CHECK_MESSAGE(mount_at(plan, d, MountKind::mask_dir) != nullptr, d);
}

TEST_CASE("own dirs: a grant of the parent itself needs no pin, only the mask") {
    const Plan plan =
        compile(base({E("/home/u/.local/state", 3, "~/.local/state")}), inv(), host().facts());
    std::size_t binds = 0;
    for (const auto& m : plan.mounts)
        if (m.kind == MountKind::bind_rw && m.target.starts_with("/home/u/.local")) ++binds;
    CHECK(binds == 1);
    CHECK(mount_at(plan, "/home/u/.local/state/agentbox", MountKind::mask_dir) != nullptr);
}

TEST_CASE("own dirs: a grant at or inside an own directory is refused, naming both paths") {
    for (const char* g : {"/home/u/.local/state/agentbox", "/home/u/.local/state/agentbox/sessions",
                          "/home/u/.config/agentbox"}) {
        CAPTURE(g);
        try {
            (void)compile(base({E(g, 3)}), inv(), host().facts());
            FAIL("not refused");
        } catch (const std::invalid_argument& e) {
            const std::string m = e.what();
            CHECK(m.find(g) != std::string::npos);
            CHECK(m.find("agentbox's own directory") != std::string::npos);
            CHECK(m.find("test.toml:3") != std::string::npos);
        }
    }
    // Read-only too: the sandbox must not even read another session's staged files.
    CHECK_THROWS_AS(compile(base({}, {E("/home/u/.local/state/agentbox/sessions", 4)}), inv(),
                            host().facts()),
                    std::invalid_argument);
}

TEST_CASE("own dirs: a grant that reaches them through a symlink is judged by where it leads") {
    test::FakeHost h = host();
    // /data/st -> /home/u/.local/state: binding /data/st binds the state's parent, at its real
    // path (policy/fsrules resolves every grant), so the mask goes there too.
    h.link("/data/st", "/home/u/.local/state", "/home/u/.local/state");
    const Plan plan = compile(base({E("/data/st", 3)}), inv(), h.facts());
    CHECK(mount_at(plan, "/home/u/.local/state/agentbox", MountKind::mask_dir) != nullptr);

    h.link("/data/ab", "../home/u/.local/state/agentbox", "/home/u/.local/state/agentbox");
    CHECK_THROWS_AS(compile(base({E("/data/ab", 4)}), inv(), h.facts()), std::invalid_argument);
}

TEST_CASE("own dirs: a read-only grant above them only needs the mask; nothing is pinned") {
    const Plan plan = compile(base({}, {E("/home/u/.local", 5)}), inv(), host().facts());
    CHECK(mount_at(plan, "/home/u/.local/state", MountKind::bind_rw) == nullptr);
    CHECK(mount_at(plan, "/home/u/.local/state/agentbox", MountKind::mask_dir) != nullptr);
}

TEST_CASE("own dirs: the project inside an own directory is refused") {
    Invocation i = inv();
    i.project = "/home/u/.local/state/agentbox/sessions";
    i.cwd = i.project;
    profile::Profile p = base({});
    p.filesystem.write = {E(i.project, 2, "@project")};
    CHECK_THROWS_AS(compile(p, i, host().facts()), std::invalid_argument);
}

}  // namespace
}  // namespace agentbox::policy
