// Every built-in profile, loaded through the real loader and compiled on a fixed fake host,
// matches its golden Plan (text and JSON). A change to a profile or to compile() shows up
// here as a reviewable diff of tests/data/plans/builtin-*.
#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "golden.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"

namespace agentbox::policy {
namespace {

// A Debian 12 host with merged /usr, a user with the usual secret directories, a project.
test::FakeHost debian_host() {
    test::FakeHost h;
    for (const char* d : {"/usr", "/etc", "/opt", "/usr/local", "/tmp", "/var/tmp", "/etc/ssl",
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

TEST_CASE("every built-in profile compiles to its golden Plan") {
    const auto names = profile::builtin_names();
    REQUIRE(names.size() >= 7);
    HostFacts facts = debian_host().facts();
    facts.cgroup2_delegated.clear();  // like these machines: cgroup v1 memory and pids, as root
    facts.uid = facts.gid = 0;
    facts.cgroup1_memory = facts.cgroup1_pids = true;

    for (const auto& name : names) {
        CAPTURE(name);
        profile::Context ctx;
        ctx.project = "/work/proj";
        ctx.cwd = "/work/proj/src";
        ctx.home = "/home/u";
        ctx.tmp = "/tmp";
        ctx.environ = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/home/u"},
                       {"LANG", "C.UTF-8"}, {"GITHUB_TOKEN", "ghp_secret"},
                       {"ANTHROPIC_API_KEY", "sk-ant-secret"}, {"OPENAI_API_KEY", "sk-secret"}};
        // No search path: only the compiled-in profiles, whatever is on this machine.
        ctx.search_path = {};
        const profile::Profile prof = profile::load(name, ctx);

        Invocation inv;
        inv.argv = {"make", "test"};
        inv.project = ctx.project;
        inv.cwd = ctx.cwd;
        inv.home = ctx.home;
        inv.environ = ctx.environ;
        inv.on_exit = profile::OnExit::keep;
        const Plan plan = compile(prof, inv, facts);
        const std::string text = render_text(plan);
        const std::string json = render_json(plan);
        CHECK(text.find("sk-ant-secret") == std::string::npos);
        CHECK(json.find("ghp_secret") == std::string::npos);
        test::check_golden("builtin-" + name + ".txt", text);
        test::check_golden("builtin-" + name + ".json", json + "\n");
    }
}

}  // namespace
}  // namespace agentbox::policy
