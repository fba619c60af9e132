// A deny, a read-only path or the project inside a writable host grant (design note 85):
// pin_nested_mounts (policy/compile_own_dirs.cpp) keeps each where it was put, and what no
// mount can hold there is a weakening (policy/mounts.cpp refuse_unheld_in_writable).
#include <doctest/doctest.h>

#include <algorithm>

#include "fixtures.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::mount_at;

profile::Profile writable_work(std::vector<profile::Entry> deny,
                               std::vector<profile::Entry> read = {}) {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 1)};
    for (auto& r : read) p.filesystem.read.push_back(std::move(r));
    p.filesystem.write = {E("/p", 2, "@project"), E("/w", 3)};
    p.filesystem.deny = std::move(deny);
    return p;
}

Invocation grant_inv(const std::string& project = "/p") {
    Invocation i;
    i.argv = {"sh"};
    i.project = project;
    i.cwd = project;
    i.home = "/home/u";
    return i;
}

bool weakened(const Plan& plan, const std::string& rule_path, const std::string& text) {
    return std::any_of(plan.weakenings.begin(), plan.weakenings.end(), [&](const Weakening& w) {
        return w.rule.find(rule_path) != std::string::npos &&
               w.missing.find(text) != std::string::npos;
    });
}

TEST_CASE("writable denies: every directory between the grant and a mask is bound over itself") {
    test::FakeHost h;
    for (const char* d : {"/usr", "/p", "/w", "/w/app", "/w/app/config"}) h.dir(d);
    h.file("/w/app/config/deploy.key");
    const Plan plan = compile(writable_work({E("/w/app/config/deploy.key", 4)}), grant_inv(), h.facts());
    REQUIRE(mount_at(plan, "/w/app/config/deploy.key", MountKind::mask_file) != nullptr);
    for (const char* d : {"/w/app", "/w/app/config"}) {
        const Mount* pin = mount_at(plan, d, MountKind::bind_rw);
        REQUIRE_MESSAGE(pin != nullptr, d);
        CHECK(pin->source == d);
    }
    CHECK(plan.weakenings.empty());
}

TEST_CASE("writable denies: a mask right below the grant needs no pin") {
    test::FakeHost h;
    for (const char* d : {"/usr", "/p", "/w", "/w/secrets"}) h.dir(d);
    const Plan plan = compile(writable_work({E("/w/secrets", 4)}), grant_inv(), h.facts());
    CHECK(mount_at(plan, "/w/secrets", MountKind::mask_dir) != nullptr);
    CHECK(std::count_if(plan.mounts.begin(), plan.mounts.end(), [](const Mount& m) {
              return m.kind == MountKind::bind_rw && m.target.starts_with("/w");
          }) == 1);
}

TEST_CASE("writable denies: a read-only carve-out and the project are pinned too") {
    test::FakeHost h;
    for (const char* d : {"/usr", "/w", "/w/shared", "/w/shared/config", "/w/org", "/w/org/app"})
        h.dir(d);
    profile::Profile p = writable_work({}, {E("/w/shared/config", 5)});
    p.filesystem.write[0] = E("/w/org/app", 2, "@project");
    const Plan plan = compile(p, grant_inv("/w/org/app"), h.facts());
    CHECK(mount_at(plan, "/w/shared", MountKind::bind_rw) != nullptr);
    CHECK(mount_at(plan, "/w/org", MountKind::bind_rw) != nullptr);
    CHECK(mount_at(plan, "/w/org/app", MountKind::overlay) != nullptr);
}

TEST_CASE("writable denies: an absent deny in a writable grant is a weakening, not in a read-only "
          "one or under a mask") {
    test::FakeHost h;
    for (const char* d : {"/usr", "/p", "/w", "/w/.aws", "/r"}) h.dir(d);
    profile::Profile p = writable_work({E("/w/.ssh", 4), E("/w/.aws/credentials", 5),
                                        E("/w/.aws", 6), E("/r/.ssh", 7)},
                                       {E("/r", 8)});
    const Plan plan = compile(p, grant_inv(), h.facts());
    CHECK(weakened(plan, "/w/.ssh", "\"/w/.ssh\", which does not exist"));
    CHECK_FALSE(weakened(plan, "/w/.aws/credentials", ""));  // /w/.aws is masked
    CHECK_FALSE(weakened(plan, "/r/.ssh", ""));              // read-only: nothing is created
    CHECK(plan.weakenings.size() == 1);
}

TEST_CASE("writable denies: a host symlink in a writable grant on the way to a denied path is a "
          "weakening") {
    test::FakeHost h;
    for (const char* d : {"/usr", "/p", "/w", "/w/dotfiles", "/w/dotfiles/ssh"}) h.dir(d);
    h.link("/w/.ssh", "dotfiles/ssh", "/w/dotfiles/ssh");
    const Plan plan = compile(writable_work({E("/w/.ssh", 4)}), grant_inv(), h.facts());
    CHECK(mount_at(plan, "/w/dotfiles/ssh", MountKind::mask_dir) != nullptr);
    CHECK(weakened(plan, "/w/.ssh", "through the symlink \"/w/.ssh\""));
}

}  // namespace
}  // namespace agentbox::policy
