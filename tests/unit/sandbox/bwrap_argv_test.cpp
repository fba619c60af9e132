// The bubblewrap backend's pure parts: Plan -> argv for every built-in profile against goldens
// in tests/data/bwrap/ (AGENTBOX_UPDATE_GOLDENS=1 rewrites them), the rules it refuses, and the
// spec init reads inside.
#include <doctest/doctest.h>

#include <algorithm>

#include "../policy/fixtures.hpp"
#include "../policy/golden.hpp"
#include "policy/policy.hpp"
#include "profile/load.hpp"
#include "sandbox/bwrap/argv.hpp"
#include "sandbox/choose.hpp"
#include "sandbox/bwrap/spec.hpp"

namespace agentbox::sandbox::bwrap {
namespace {

using policy::test::FakeHost;

FakeHost debian_host() {
    FakeHost h;
    for (const char* d : {"/usr", "/etc", "/opt", "/usr/local", "/tmp", "/var/tmp", "/etc/ssl",
                          "/etc/ssl/private", "/etc/sudoers.d", "/home/u", "/home/u/.ssh",
                          "/home/u/.cache", "/run", "/work/proj", "/work/proj/src",
                          "/work/proj/.git", "/work/proj/.git/hooks"})
        h.dir(d);
    for (const char* f : {"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/home/u/.netrc",
                          "/work/proj/.env", "/work/proj/README.md"})
        h.file(f);
    h.link("/bin", "usr/bin", "/usr/bin");
    h.link("/lib", "usr/lib", "/usr/lib");
    h.link("/lib64", "usr/lib64", "/usr/lib64");
    return h;
}

policy::Plan compile_builtin(const std::string& name, const std::string& backend = "bwrap") {
    profile::Context ctx;
    ctx.project = "/work/proj";
    ctx.cwd = "/work/proj/src";
    ctx.home = "/home/u";
    ctx.tmp = "/tmp";
    ctx.environ = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/home/u"}};
    ctx.search_path = {};
    const profile::Profile prof = profile::load(name, ctx);
    policy::Invocation inv;
    inv.argv = {"make", "test"};
    inv.project = ctx.project;
    inv.cwd = ctx.cwd;
    inv.home = ctx.home;
    inv.environ = ctx.environ;
    inv.backend = backend;
    inv.on_exit = profile::OnExit::keep;
    return policy::compile(prof, inv, debian_host().facts());
}

Inputs inputs() {
    Inputs in;
    in.snapshot = "/state/sessions/S/snapshot";
    in.empty_file = "/state/sessions/S/empty";
    in.state_home = "/state/sessions/S/home";
    return in;
}

// One argument per line, option and its operands together, so a golden diff reads well.
std::string show(const std::vector<std::string>& argv) {
    std::string out;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const bool option = argv[i].rfind("--", 0) == 0 && i > 0;
        out += (option || i == 0 ? (i == 0 ? "" : "\n") : " ") + argv[i];
    }
    return out + "\n";
}

TEST_CASE("every built-in profile turns into its golden bwrap argv") {
    for (const auto& name : profile::builtin_names()) {
        CAPTURE(name);
        const policy::Plan plan = compile_builtin(name);
        CHECK(check(plan).empty());
        policy::test::check_golden("../bwrap/builtin-" + name + ".argv",
                                   show(make_argv(plan, inputs())));
    }
}

TEST_CASE("the bwrap backend stages by copy: the snapshot is bound at the project") {
    const policy::Plan plan = compile_builtin("default");
    CHECK(plan.staging == policy::Staging::copy);
    const auto a = make_argv(plan, inputs());
    const auto it = std::find(a.begin(), a.end(), "/state/sessions/S/snapshot");
    REQUIRE(it != a.end());
    CHECK(*(it - 1) == "--bind");
    CHECK(*(it + 1) == "/work/proj");
    // The same Plan for the native backend keeps the overlay.
    CHECK(compile_builtin("default", "native").staging == policy::Staging::overlay);
}

TEST_CASE("a bubblewrap with --overlay stages as the native backend: the project below upper/") {
    // What the cli makes of a bwrap plan when bwrap's help lists --overlay (backend_staging).
    policy::Plan plan = compile_builtin("default", "bwrap");
    REQUIRE(plan.staging == policy::Staging::copy);
    plan.staging = policy::Staging::overlay;
    Inputs in = inputs();
    in.snapshot.clear();
    in.upper = "/state/sessions/S/upper";
    in.work = "/state/sessions/S/work";
    const auto a = make_argv(plan, in);
    const auto it = std::find(a.begin(), a.end(), "--overlay-src");
    REQUIRE(it != a.end());
    REQUIRE(a.end() - it >= 6);
    CHECK(*(it + 1) == "/work/proj");  // read-only lower: the project itself
    CHECK(*(it + 2) == "--overlay");
    CHECK(*(it + 3) == "/state/sessions/S/upper");
    CHECK(*(it + 4) == "/state/sessions/S/work");
    CHECK(*(it + 5) == "/work/proj");
    // The project is never bound writable under the overlay strategy.
    for (auto b = std::find(a.begin(), a.end(), "--bind"); b != a.end();
         b = std::find(b + 1, a.end(), "--bind"))
        CHECK(*(b + 2) != "/work/proj");
    // Without its upper and work directories the overlay cannot be expressed: refused, never
    // the project bound read-write instead.
    Inputs missing = inputs();
    missing.snapshot.clear();
    CHECK_THROWS_AS(make_argv(plan, missing), std::invalid_argument);
}

TEST_CASE("bwrap --help parse: --overlay is the feature, only with --overlay-src beside it") {
    // bubblewrap 0.11.0's help lines, as printed (two leading spaces, then the option).
    const std::string with =
        "usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\n"
        "    --help                       Print this help\n"
        "    --bind SRC DEST              Bind mount the host path SRC on DEST\n"
        "    --overlay-src SRC            Read files from SRC in the following overlay\n"
        "    --overlay RWSRC WORKDIR DEST Mount overlayfs on DEST, with RWSRC as the host path "
        "for writes and\n"
        "    --tmp-overlay DEST           Mount overlayfs on DEST, with writes going to an "
        "invisible tmpfs\n";
    CHECK(sandbox::lists_overlay(with));
    // bubblewrap 0.8.0: no overlay options at all.
    CHECK_FALSE(sandbox::lists_overlay("usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n"
                              "    --bind SRC DEST              Bind mount\n"));
    // Named only in a description, or half of the pair: not the feature.
    CHECK_FALSE(sandbox::lists_overlay("    --tmp-overlay DEST  like --overlay but in a tmpfs\n"
                              "    --overlay-src SRC   Read files from SRC\n"));
    CHECK_FALSE(sandbox::lists_overlay("    --overlay RWSRC WORKDIR DEST  Mount overlayfs\n"));
    CHECK_FALSE(sandbox::lists_overlay(""));
}

TEST_CASE("agent state files: the session's home directory is bound at the home") {
    const policy::Plan plan = compile_builtin("claude-code");
    REQUIRE_FALSE(plan.state.empty());
    const auto a = make_argv(plan, inputs());
    const auto it = std::find(a.begin(), a.end(), "/state/sessions/S/home");
    REQUIRE(it != a.end());
    CHECK(*(it - 1) == "--bind");
    CHECK(*(it + 1) == "/home/u");
    // No tmpfs home, and no bind of the state file itself (a rename over it would fail).
    CHECK(std::find(a.begin(), a.end(), "/home/u/.claude.json") == a.end());
    Inputs none = inputs();
    none.state_home.clear();
    CHECK_THROWS_AS(make_argv(plan, none), std::invalid_argument);
}

TEST_CASE("bwrap is run from its fixed path and the command follows --") {
    const policy::Plan plan = compile_builtin("default");
    const auto a = make_argv(plan, inputs());
    CHECK(a.front() == "/usr/bin/bwrap");
    const auto dd = std::find(a.begin(), a.end(), "--");
    REQUIRE(dd != a.end());
    // After --: agentbox's init from its descriptor, never the user's command directly, so a
    // command named like a bwrap option cannot be read as one.
    CHECK(*(dd + 1) == "/proc/self/fd/6");
    CHECK(*(dd + 2) == kInitArg);
    CHECK(std::find(a.begin(), a.end(), "make") == a.end());
    Inputs relative = inputs();
    relative.bwrap = "bwrap";
    CHECK_THROWS_AS(make_argv(plan, relative), std::invalid_argument);
}

TEST_CASE("namespaces are unshared by name: no -try variant that carries on without one") {
    const auto a = make_argv(compile_builtin("default"), inputs());
    for (const char* f : {"--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                          "--unshare-uts", "--unshare-cgroup", "--as-pid-1",
                          "--die-with-parent"})
        CHECK(std::find(a.begin(), a.end(), f) != a.end());
    for (const char* f : {"--unshare-all", "--unshare-user-try", "--unshare-cgroup-try",
                          "--share-net"})
        CHECK(std::find(a.begin(), a.end(), f) == a.end());
}

TEST_CASE("host networking shares the network namespace, nothing else") {
    policy::Plan plan = compile_builtin("default");
    plan.net.mode = profile::NetMode::host;
    plan.ns.net = false;
    const auto a = make_argv(plan, inputs());
    CHECK(std::find(a.begin(), a.end(), "--unshare-net") == a.end());
    CHECK(std::find(a.begin(), a.end(), "--unshare-pid") != a.end());
}

TEST_CASE("rules bwrap cannot express are weakenings, not silently dropped") {
    policy::Plan plan = compile_builtin("default");
    plan.limits.push_back(policy::Limit{"memory", 1 << 30, policy::Mechanism::rlimit, {}});
    auto w = check(plan);
    REQUIRE(w.size() == 1);
    CHECK(w[0].rule == "limits.memory");
    // Mechanism none is the plan's own weakening (compile): reported there, not twice.
    plan.limits.back().how = policy::Mechanism::none;
    CHECK(check(plan).empty());

    plan = compile_builtin("default");
    plan.mounts.erase(std::remove_if(plan.mounts.begin(), plan.mounts.end(),
                                     [](const policy::Mount& m) {
                                         return m.kind == policy::MountKind::proc;
                                     }),
                      plan.mounts.end());
    w = check(plan);
    REQUIRE(w.size() == 1);
    CHECK(w[0].rule == "filesystem.proc");
    CHECK_THROWS_AS(make_argv(plan, inputs()), std::invalid_argument);
}

TEST_CASE("a staged project without a snapshot is refused rather than bound writable") {
    const policy::Plan plan = compile_builtin("default");
    Inputs in = inputs();
    in.snapshot.clear();
    CHECK_THROWS_AS(make_argv(plan, in), std::invalid_argument);
}

TEST_CASE("the init spec round-trips, seccomp program included") {
    Spec s;
    s.plan = compile_builtin("default");
    s.plan.landlock.connect_ports = {3128};
    s.bpf = {0x20, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00};
    s.notify = true;
    s.tty = true;
    const Spec d = decode(encode(s));
    CHECK(d.plan.argv == s.plan.argv);
    REQUIRE(d.plan.env.size() == s.plan.env.size());
    for (std::size_t i = 0; i < d.plan.env.size(); ++i) {
        CHECK(d.plan.env[i].name == s.plan.env[i].name);
        CHECK(d.plan.env[i].value == s.plan.env[i].value);
    }
    CHECK(d.plan.cwd == s.plan.cwd);
    REQUIRE(d.plan.landlock.rules.size() == s.plan.landlock.rules.size());
    for (std::size_t i = 0; i < d.plan.landlock.rules.size(); ++i) {
        CHECK(d.plan.landlock.rules[i].path == s.plan.landlock.rules[i].path);
        CHECK(d.plan.landlock.rules[i].access == s.plan.landlock.rules[i].access);
    }
    CHECK(d.plan.landlock.abi == s.plan.landlock.abi);
    CHECK(d.plan.landlock.connect_ports == s.plan.landlock.connect_ports);
    CHECK(d.plan.limits.size() == s.plan.limits.size());
    CHECK(d.bpf == s.bpf);
    CHECK(d.notify);
    CHECK(d.tty);
}

TEST_CASE("a truncated or padded spec is refused") {
    Spec s;
    s.plan.argv = {"true"};
    const std::string bytes = encode(s);
    CHECK_THROWS_AS(decode(bytes.substr(0, bytes.size() - 1)), std::invalid_argument);
    CHECK_THROWS_AS(decode(bytes + "x"), std::invalid_argument);
    CHECK_THROWS_AS(decode(std::string(8, '\xff') + bytes), std::invalid_argument);
}

}  // namespace
}  // namespace agentbox::sandbox::bwrap
