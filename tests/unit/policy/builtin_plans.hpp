// Built-in profiles compiled on a fixed fake Debian host: the Plans of tests/data/plans/, which
// the backend goldens (tests/data/seatbelt/, tests/data/appcontainer/) translate.
#pragma once

#include <string>
#include <utility>

#include "fixtures.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"

namespace agentbox::policy::test {

// A Debian 12 host with merged /usr, a user with the usual secret directories, a project.
inline FakeHost debian_host() {
    FakeHost h;
    for (const char* d : {"/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/etc",
                          "/opt", "/usr/local", "/tmp", "/var/tmp", "/etc/ssl",
                          "/etc/ssl/private", "/etc/sudoers.d", "/home/u", "/home/u/.ssh",
                          "/home/u/.aws", "/home/u/.config", "/home/u/.config/gh",
                          "/home/u/.config/pip", "/home/u/.cache", "/home/u/.claude",
                          "/home/u/.codex", "/run", "/run/user", "/work/proj", "/work/proj/src",
                          "/work/proj/.git", "/work/proj/.git/hooks"})
        h.dir(d);
    for (const char* f : {"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/hostname",
                          "/home/u/.netrc", "/home/u/.ssh/id_rsa", "/home/u/.claude.json",
                          "/work/proj/.env", "/work/proj/.env.local", "/work/proj/README.md",
                          "/run/docker.sock"})
        h.file(f);
    h.link("/bin", "usr/bin", "/usr/bin");
    h.link("/sbin", "usr/sbin", "/usr/sbin");
    h.link("/lib", "usr/lib", "/usr/lib");
    h.link("/lib64", "usr/lib64", "/usr/lib64");
    return h;
}

struct BuiltinRun {
    profile::Context ctx;
    Invocation inv;
};

// The invocation every golden uses: `make test` in /work/proj/src, with secrets in the
// environment that must never reach a rendering.
inline BuiltinRun builtin_run() {
    BuiltinRun r;
    profile::Context& ctx = r.ctx;
    ctx.project = "/work/proj";
    ctx.cwd = "/work/proj/src";
    ctx.home = "/home/u";
    ctx.tmp = "/tmp";
    ctx.environ = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/home/u"},
                   {"LANG", "C.UTF-8"}, {"GITHUB_TOKEN", "ghp_secret"},
                   {"ANTHROPIC_API_KEY", "sk-ant-secret"}, {"OPENAI_API_KEY", "sk-secret"}};
    // No search path: only the compiled-in profiles, whatever is on this machine.
    ctx.search_path = {};
    Invocation& inv = r.inv;
    inv.argv = {"make", "test"};
    inv.project = ctx.project;
    inv.cwd = ctx.cwd;
    inv.home = ctx.home;
    inv.environ = ctx.environ;
    inv.on_exit = profile::OnExit::keep;
    return r;
}

// Like these machines: cgroup v1 memory and pids, as root.
inline HostFacts builtin_facts() {
    HostFacts facts = debian_host().facts();
    facts.cgroup2_delegated.clear();
    facts.uid = facts.gid = 0;
    facts.cgroup1_memory = facts.cgroup1_pids = true;
    return facts;
}

inline Plan builtin_plan(const std::string& name) {
    const BuiltinRun r = builtin_run();
    return compile(profile::load(name, r.ctx), r.inv, builtin_facts());
}

// One mount of a Plan written by hand (the small Plans of the backend tests).
inline Mount mount(MountKind k, std::string source, std::string target, std::string rule) {
    return Mount{k, std::move(source), std::move(target), std::move(rule),
                 profile::Source{"test.toml", 3, 1}};
}

}  // namespace agentbox::policy::test
