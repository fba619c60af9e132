// Issue 18: rules decided on what the kernel resolves, through symlinks in any component.
#include <doctest/doctest.h>

#include <algorithm>

#include "fixtures.hpp"
#include "policy/fsrules.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;

// A home managed by a dotfile tool: ~/.ssh and ~/.config are links into ~/dotfiles.
test::FakeHost dotfile_home() {
    test::FakeHost h;
    for (const char* d : {"/usr", "/usr/bin", "/p", "/h", "/h/dotfiles", "/h/dotfiles/ssh",
                          "/h/dotfiles/ssh/config.d", "/h/dotfiles/config",
                          "/h/dotfiles/config/gh", "/h/dotfiles/config/nvim", "/h/work",
                          "/o", "/o/rw", "/o/victim"})
        h.dir(d);
    for (const char* f : {"/h/dotfiles/ssh/id_rsa", "/h/dotfiles/config/gh/hosts.yml"}) h.file(f);
    h.link("/h/.ssh", "dotfiles/ssh", "/h/dotfiles/ssh");
    h.link("/h/.config", "dotfiles/config", "/h/dotfiles/config");
    h.link("/h/work/ssh-link", "../.ssh", "/h/dotfiles/ssh");
    h.link("/o/rw/evil", "/o/victim", "/o/victim");
    h.link("/bin", "usr/bin", "/usr/bin");
    h.link("/loop", "/loop", "");
    return h;
}

profile::Profile base() {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 1), E("/bin", 2)};
    p.filesystem.write = {E("/p", 3, "@project")};
    p.filesystem.deny = {E("/h/.ssh", 4, "~/.ssh"), E("/h/.config/gh", 5, "~/.config/gh")};
    return p;
}

Invocation inv() {
    Invocation i;
    i.argv = {"sh"};
    i.project = "/p";
    i.cwd = "/p";
    i.home = "/h";
    return i;
}

const Mount* find(const Plan& plan, const std::string& target) {
    auto it = std::find_if(plan.mounts.begin(), plan.mounts.end(),
                           [&](const Mount& m) { return m.target == target; });
    return it == plan.mounts.end() ? nullptr : &*it;
}

bool through_symlink(const Plan& plan, const test::FakeHost& h, const Mount& m) {
    const auto kind = h.facts().kind;
    for (std::size_t i = 1; i < m.target.size(); ++i)
        if (m.target[i] == '/' && kind(m.target.substr(0, i)) == PathKind::symlink) return true;
    return m.kind != MountKind::symlink && kind(m.target) == PathKind::symlink;
    (void)plan;
}

Verdict verdict(const profile::Profile& p, Op op, const std::string& path,
                const HostFacts& host) {
    return decide(p, Request{op, path}, "/p", "/h", &host).verdict;
}

TEST_CASE("resolve_path follows links in every component, relative and absolute") {
    const HostFacts h = dotfile_home().facts();
    auto r = resolve_path("/h/work/ssh-link/config.d/x", h.kind, h.readlink);
    CHECK(r.ok);
    CHECK(r.real == "/h/dotfiles/ssh/config.d/x");
    REQUIRE(r.links.size() == 2);  // ssh-link -> ../.ssh -> dotfiles/ssh
    CHECK(r.links[0] == SymlinkStep{"/h/work/ssh-link", "../.ssh"});
    CHECK(r.links[1] == SymlinkStep{"/h/.ssh", "dotfiles/ssh"});
    CHECK(resolve_path("/bin/ls", h.kind, h.readlink).real == "/usr/bin/ls");
    CHECK(resolve_path("/usr/bin", h.kind, h.readlink).links.empty());
    CHECK_FALSE(resolve_path("/loop/x", h.kind, h.readlink).ok);
}

TEST_CASE("deny follows symlink: --ro ~/dotfiles does not expose dotfiles/ssh/id_rsa") {
    const auto h = dotfile_home();
    auto p = base();
    p.filesystem.read.push_back(E("/h/dotfiles", 6, "~/dotfiles"));
    const HostFacts facts = h.facts();
    CHECK(verdict(p, Op::read, "/h/dotfiles/ssh/id_rsa", facts) == Verdict::deny);
    CHECK(verdict(p, Op::read, "/h/dotfiles/config/gh/hosts.yml", facts) == Verdict::deny);
    CHECK(verdict(p, Op::read, "/h/dotfiles/config/nvim", facts) == Verdict::allow);
    const Plan plan = compile(p, inv(), facts);
    const Mount* ssh = find(plan, "/h/dotfiles/ssh");
    REQUIRE(ssh);
    CHECK(ssh->kind == MountKind::mask_dir);
    const Mount* gh = find(plan, "/h/dotfiles/config/gh");
    REQUIRE(gh);
    CHECK(gh->kind == MountKind::mask_dir);
    for (const auto& m : plan.mounts) CHECK_MESSAGE(!through_symlink(plan, h, m), m.target);
}

TEST_CASE("masked path that is a symlink: mask what it resolves to, never the link") {
    const auto h = dotfile_home();
    auto p = base();
    p.filesystem.read.push_back(E("/h", 6, "~"));
    const Plan plan = compile(p, inv(), h.facts());
    CHECK_FALSE(find(plan, "/h/.ssh"));
    CHECK_FALSE(find(plan, "/h/.config/gh"));
    REQUIRE(find(plan, "/h/dotfiles/ssh"));
    REQUIRE(find(plan, "/h/dotfiles/config/gh"));
    for (const auto& m : plan.mounts) CHECK_MESSAGE(!through_symlink(plan, h, m), m.target);
    CHECK(verdict(p, Op::read, "/h/.ssh/id_rsa", h.facts()) == Verdict::deny);
}

TEST_CASE("grant through a symlink in the middle is decided on the resolved path") {
    const auto h = dotfile_home();
    auto p = base();
    p.filesystem.write.push_back(E("/h/work/ssh-link/config.d", 6));
    const HostFacts facts = h.facts();
    CHECK(verdict(p, Op::write, "/h/work/ssh-link/config.d/evil.conf", facts) == Verdict::deny);
    CHECK(verdict(p, Op::write, "/h/.ssh/config.d/evil.conf", facts) == Verdict::deny);
    const Plan plan = compile(p, inv(), facts);
    for (const auto& m : plan.mounts) {
        CHECK(m.target.find("config.d") == std::string::npos);
        CHECK(m.source.find("config.d") == std::string::npos);
    }
    // Without the link in the way the same grant is an explicit carve-out: most specific wins.
    auto q = base();
    q.filesystem.write.push_back(E("/h/.ssh/config.d", 6, "~/.ssh/config.d"));
    CHECK(verdict(q, Op::write, "/h/.ssh/config.d/x", facts) == Verdict::allow);
    const Plan plan2 = compile(q, inv(), facts);
    const Mount* b = find(plan2, "/h/dotfiles/ssh/config.d");
    REQUIRE(b);
    CHECK(b->kind == MountKind::bind_rw);
    const Mount* link = find(plan2, "/h/.ssh");
    REQUIRE(link);
    CHECK(link->kind == MountKind::symlink);
}

TEST_CASE("a grant through a link is placed at its real path, the link recreated") {
    const auto h = dotfile_home();
    auto p = base();
    p.filesystem.read.push_back(E("/h/.config/nvim", 6, "~/.config/nvim"));
    const Plan plan = compile(p, inv(), h.facts());
    const Mount* link = find(plan, "/h/.config");
    REQUIRE(link);
    CHECK(link->kind == MountKind::symlink);
    CHECK(link->source == "dotfiles/config");
    const Mount* b = find(plan, "/h/dotfiles/config/nvim");
    REQUIRE(b);
    CHECK(b->kind == MountKind::bind_ro);
    CHECK(b->source == "/h/dotfiles/config/nvim");
    CHECK(verdict(p, Op::read, "/h/.config/nvim/init.lua", h.facts()) == Verdict::allow);
}

TEST_CASE("write grant that is a symlink inside another write grant is skipped, not fatal") {
    const auto h = dotfile_home();
    auto p = base();
    p.filesystem.write.push_back(E("/o/rw", 6));
    p.filesystem.write.push_back(E("/o/rw/evil", 7));
    const Plan plan = compile(p, inv(), h.facts());
    CHECK(find(plan, "/o/rw"));
    CHECK_FALSE(find(plan, "/o/victim"));
    CHECK_FALSE(find(plan, "/o/rw/evil"));
    CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& n) {
        return n.find("could have planted") != std::string::npos;
    }));
}

TEST_CASE("other writable roots keep .git and the protect paths read-only") {
    auto h = dotfile_home();
    h.dir("/o/repo");
    h.dir("/o/repo/.git");
    h.dir("/o/repo/.git/hooks");
    h.file("/o/repo/.git/config");
    auto p = base();
    p.filesystem.write.push_back(E("/o/repo", 6));
    p.commit.protect = {E(".git/hooks/**", 7), E(".git/config", 8), E(".envrc", 9)};
    const Plan plan = compile(p, inv(), h.facts());
    const Mount* git = find(plan, "/o/repo/.git");
    REQUIRE(git);
    CHECK(git->kind == MountKind::bind_ro);
    CHECK_FALSE(find(plan, "/o/repo/.envrc"));  // missing: nothing to bind (and said so)
    const Mount* repo = find(plan, "/o/repo");
    REQUIRE(repo);
    CHECK(repo < git);  // the read-only top is mounted over the writable root
    const HostFacts facts = h.facts();
    CHECK(decide(p, Request{Op::write, "/o/repo/.git/config"}, "/p", "/h", &facts).verdict ==
          Verdict::deny);
    CHECK(decide(p, Request{Op::write, "/o/repo/x.c"}, "/p", "/h", &facts).verdict ==
          Verdict::allow);
}

TEST_CASE("literal deny in the staged project that does not exist yet is masked") {
    const auto h = dotfile_home();
    auto p = base();
    p.filesystem.deny.push_back(E("/p/.env", 6, "@project/.env"));
    const Plan plan = compile(p, inv(), h.facts());
    const Mount* env = find(plan, "/p/.env");
    REQUIRE(env);
    CHECK(env->kind == MountKind::mask_file);
    Invocation b = inv();
    b.backend = "bwrap";  // the copy strategy works on a snapshot: nothing to hide
    CHECK_FALSE(find(compile(p, b, h.facts()), "/p/.env"));
}

}  // namespace
}  // namespace agentbox::policy
