// policy::compile against a fake host: mount order, masks, staging, env, limits, Landlock,
// and every Weakening.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>

#include "fixtures.hpp"
#include "policy/policy.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::S;

profile::Profile dev_profile() {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 1), E("/etc", 2), E("/bin", 3), E("/lib32", 4),
                         E("/opt/link", 5), E("/home/u/.config/pip", 6, "~/.config/pip")};
    p.filesystem.write = {E("/p", 10, "@project")};
    p.filesystem.tmpfs = {E("/tmp", 15)};
    p.filesystem.deny = {E("/home/u/.ssh", 20, "~/.ssh"), E("/etc/shadow", 21),
                         E("/usr/share/secret", 22), E("/p/.env*", 23, "@project/.env*"),
                         E("/srv/hidden", 24)};
    p.env.pass = {E("PATH", 30), E("LC_*", 31), E("ANTHROPIC_API_KEY", 32)};
    p.env.deny = {E("*_KEY", 33), E("*_TOKEN", 34)};
    p.env.set["PIP_NO_INPUT"] = E("1", 35);
    p.commit.protect = {E(".git/hooks/**", 40)};
    p.layers = {profile::Layer{"dev", "test.toml", "ab12"}};
    return p;
}

test::FakeHost dev_host() {
    test::FakeHost h;
    for (const char* d : {"/usr", "/usr/bin", "/usr/share/secret", "/etc", "/p", "/p/src",
                          "/home/u", "/home/u/.ssh", "/home/u/.config/pip", "/srv/hidden",
                          "/p/.env.d"})
        h.dir(d);
    for (const char* f : {"/etc/shadow", "/p/.env", "/usr/bin/python3"}) h.file(f);
    h.link("/bin", "usr/bin", "/usr/bin");
    h.dir("/opt");  // a link's directory exists: resolution walks every component
    h.link("/opt/link", "/secret/place", "/secret/place");
    return h;
}

Invocation dev_inv() {
    Invocation inv;
    inv.argv = {"claude", "--print", "hi"};
    inv.project = "/p";
    inv.cwd = "/p/src";
    inv.home = "/home/u";
    inv.environ = {{"PATH", "/usr/bin"},           {"LC_ALL", "C.UTF-8"},
                   {"ANTHROPIC_API_KEY", "sk-1"}, {"GITHUB_TOKEN", "ghp_secret"},
                   {"EDITOR", "vi"},              {"HOME", "/home/u"}};
    return inv;
}

const Mount* find_mount(const Plan& plan, const std::string& target, MountKind kind) {
    for (const auto& m : plan.mounts)
        if (m.target == target && m.kind == kind) return &m;
    return nullptr;
}

std::size_t index_of(const Plan& plan, const std::string& target, MountKind kind) {
    for (std::size_t i = 0; i < plan.mounts.size(); ++i)
        if (plan.mounts[i].target == target && plan.mounts[i].kind == kind) return i;
    FAIL("no mount ", to_string(kind), " at ", target);
    return 0;
}

bool has_note(const Plan& plan, const std::string& text) {
    return std::any_of(plan.notes.begin(), plan.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

bool has_weakening(const Plan& plan, const std::string& rule) {
    return std::any_of(plan.weakenings.begin(), plan.weakenings.end(),
                       [&](const Weakening& w) { return w.rule.find(rule) != std::string::npos; });
}

TEST_CASE("compile: the basic shape of a plan") {
    Plan plan = compile(dev_profile(), dev_inv(), dev_host().facts());
    CHECK(plan.argv == std::vector<std::string>{"claude", "--print", "hi"});
    CHECK(plan.project == "/p");
    CHECK(plan.cwd == "/p/src");
    CHECK(plan.home == "/home/u");
    CHECK(plan.uid == 1000);
    CHECK(plan.backend == "native");
    CHECK(plan.staging == Staging::overlay);
    CHECK(plan.ns.net);
    CHECK(plan.on_exit == profile::OnExit::keep);
    CHECK(plan.protect.size() == 1);
    CHECK(plan.layers.size() == 1);
    CHECK(plan.weakenings.empty());
}

TEST_CASE("compile: mounts, in order, parents before children, masks after what they cover") {
    Plan plan = compile(dev_profile(), dev_inv(), dev_host().facts());
    const Mount* usr = find_mount(plan, "/usr", MountKind::bind_ro);
    REQUIRE(usr);
    CHECK(usr->rule == "filesystem.read \"/usr\"");
    CHECK(usr->src.str() == "test.toml:1:1");
    const Mount* proj = find_mount(plan, "/p", MountKind::overlay);
    REQUIRE(proj);
    CHECK(proj->source == "/p");
    CHECK(proj->rule == "filesystem.write \"@project\"");
    const Mount* proc = find_mount(plan, "/proc", MountKind::proc);
    REQUIRE(proc);
    CHECK(proc->rule == "implicit: fresh /proc");
    CHECK(proc->src.file == "<builtin>");
    CHECK(find_mount(plan, "/dev", MountKind::dev));
    CHECK(find_mount(plan, "/tmp", MountKind::tmpfs));
    CHECK(find_mount(plan, "/home/u", MountKind::tmpfs));

    // Depth never decreases along the list.
    for (std::size_t i = 1; i < plan.mounts.size(); ++i)
        CHECK(util::path_depth(plan.mounts[i - 1].target) <=
              util::path_depth(plan.mounts[i].target));
    // The home tmpfs comes before what is mounted on it.
    CHECK(index_of(plan, "/home/u", MountKind::tmpfs) <
          index_of(plan, "/home/u/.config/pip", MountKind::bind_ro));
    // Masks come after the mounts they hide things in.
    CHECK(index_of(plan, "/etc", MountKind::bind_ro) <
          index_of(plan, "/etc/shadow", MountKind::mask_file));
    CHECK(index_of(plan, "/p", MountKind::overlay) < index_of(plan, "/p/.env", MountKind::mask_file));
}

TEST_CASE("compile: symlinks are recreated as symlinks; missing paths are skipped") {
    Plan plan = compile(dev_profile(), dev_inv(), dev_host().facts());
    const Mount* bin = find_mount(plan, "/bin", MountKind::symlink);
    REQUIRE(bin);
    CHECK(bin->source == "usr/bin");
    CHECK_FALSE(has_note(plan, "\"/bin\" is a symlink"));  // usr/bin is visible
    const Mount* opt = find_mount(plan, "/opt/link", MountKind::symlink);
    REQUIRE(opt);
    CHECK(has_note(plan, "\"/opt/link\" does not exist on this host (it resolves to "
                         "\"/secret/place\"); skipped"));
    CHECK(has_note(plan, "\"/lib32\" does not exist on this host; skipped"));
    for (const auto& m : plan.mounts) CHECK(m.target != "/lib32");
}

TEST_CASE("compile: masks only where a denied path would be visible") {
    Plan plan = compile(dev_profile(), dev_inv(), dev_host().facts());
    CHECK(find_mount(plan, "/etc/shadow", MountKind::mask_file));
    CHECK(find_mount(plan, "/usr/share/secret", MountKind::mask_dir));
    CHECK(find_mount(plan, "/p/.env", MountKind::mask_file));
    CHECK(find_mount(plan, "/p/.env.d", MountKind::mask_dir));
    CHECK(has_note(plan, "@project/.env*\" (test.toml:23:1): glob expanded at plan time (2 matches)"));
    // ~/.ssh lies on the empty home tmpfs and /srv/hidden under no mount: nothing to hide.
    for (const auto& m : plan.mounts) {
        CHECK(m.target != "/home/u/.ssh");
        CHECK(m.target != "/srv/hidden");
    }
    CHECK(has_note(plan, "\"/home/u/.ssh\" is not visible in the sandbox; no mask needed"));
    CHECK(has_note(plan, "\"/srv/hidden\" is not visible in the sandbox; no mask needed"));
}

TEST_CASE("compile: mounts and decide() never disagree") {
    auto profile = dev_profile();
    Plan plan = compile(profile, dev_inv(), dev_host().facts());
    for (const auto& m : plan.mounts) {
        INFO(to_string(m.kind), " ", m.target);
        Decision d = decide(profile, Request{Op::read, m.target}, "/p", "/home/u");
        bool masked = m.kind == MountKind::mask_dir || m.kind == MountKind::mask_file;
        CHECK((d.verdict == Verdict::deny) == masked);
        if (m.kind == MountKind::bind_ro || m.kind == MountKind::bind_rw ||
            m.kind == MountKind::overlay || m.kind == MountKind::tmpfs)
            CHECK(d.rule == m.rule);
        if (m.kind == MountKind::bind_ro)
            CHECK(decide(profile, Request{Op::write, m.target}, "/p", "/home/u").verdict ==
                  Verdict::deny);
    }
}

TEST_CASE("compile: project staging: overlay, bind, read-only, write inside a read-only project") {
    auto profile = dev_profile();
    auto host = dev_host();

    SUBCASE("a write rule above the project still stages the project") {
        profile.filesystem.write = {E("/srv", 10)};
        host.dir("/srv");
        auto inv = dev_inv();
        inv.project = "/srv/proj";
        inv.cwd = "/srv/proj";
        host.dir("/srv/proj");
        Plan plan = compile(profile, inv, host.facts());
        CHECK(find_mount(plan, "/srv", MountKind::bind_rw));
        const Mount* ov = find_mount(plan, "/srv/proj", MountKind::overlay);
        REQUIRE(ov);
        CHECK(ov->rule == "filesystem.write \"/srv\"");
        CHECK(plan.staging == Staging::overlay);
    }
    SUBCASE("a read-only project is bound read-only, nothing staged") {
        profile.filesystem.write.clear();
        profile.filesystem.read.push_back(E("/p", 11, "@project"));
        Plan plan = compile(profile, dev_inv(), host.facts());
        CHECK(find_mount(plan, "/p", MountKind::bind_ro));
        CHECK_FALSE(find_mount(plan, "/p", MountKind::overlay));
        CHECK(plan.staging == Staging::none);
        CHECK(has_note(plan, "read-only"));
    }
    SUBCASE("a writable path inside a read-only project is refused") {
        profile.filesystem.write = {E("/p/out", 12, "@project/out")};
        profile.filesystem.read.push_back(E("/p", 11, "@project"));
        CHECK_THROWS_AS(compile(profile, dev_inv(), host.facts()), std::invalid_argument);
    }
    SUBCASE("a writable path inside a writable project is covered by the overlay") {
        profile.filesystem.write.push_back(E("/p/out", 12, "@project/out"));
        Plan plan = compile(profile, dev_inv(), host.facts());
        for (const auto& m : plan.mounts) CHECK(m.target != "/p/out");
        CHECK(has_note(plan, "covered by the staged project overlay"));
    }
    SUBCASE("a project that is not a directory is an impossible invocation") {
        auto inv = dev_inv();
        inv.project = "/nope";
        CHECK_THROWS_AS(compile(profile, inv, host.facts()), std::invalid_argument);
    }
    SUBCASE("an invisible cwd falls back to the project") {
        auto inv = dev_inv();
        inv.cwd = "/srv/hidden";
        Plan plan = compile(profile, inv, host.facts());
        CHECK(plan.cwd == "/p");
        CHECK(has_note(plan, "working directory \"/srv/hidden\" is not visible"));
    }
    SUBCASE("a cwd under a tmpfs does not exist inside: the command starts in the project") {
        // /tmp and the home are empty tmpfs in the sandbox: /tmp/build or ~/notes of the host
        // are not there (chdir would fail and the run with it).
        for (const char* cwd : {"/tmp/build", "/home/u/notes"}) {
            CAPTURE(cwd);
            auto inv = dev_inv();
            inv.cwd = cwd;
            Plan plan = compile(profile, inv, host.facts());
            CHECK(plan.cwd == "/p");
            CHECK(has_note(plan, "is not visible in the sandbox"));
        }
    }
    SUBCASE("a tmpfs's own root, or a directory made for a mount below it, is a fine cwd") {
        for (const char* cwd : {"/tmp", "/home/u", "/home/u/.config"}) {
            CAPTURE(cwd);
            auto inv = dev_inv();
            inv.cwd = cwd;
            CHECK(compile(profile, inv, host.facts()).cwd == cwd);
        }
    }
    SUBCASE("an empty command is refused") {
        auto inv = dev_inv();
        inv.argv.clear();
        CHECK_THROWS_AS(compile(profile, inv, host.facts()), std::invalid_argument);
    }
}

TEST_CASE("compile: the environment starts empty and passes only what decide() allows") {
    auto profile = dev_profile();
    Plan plan = compile(profile, dev_inv(), dev_host().facts());
    std::vector<std::string> names;
    for (const auto& e : plan.env) names.push_back(e.name);
    CHECK(names == std::vector<std::string>{"ANTHROPIC_API_KEY", "HOME", "LC_ALL", "PATH",
                                            "PIP_NO_INPUT"});
    for (const auto& e : plan.env) {
        if (e.name == "HOME") CHECK(e.value == "/home/u");
        if (e.name == "ANTHROPIC_API_KEY") CHECK(e.rule == "env.pass \"ANTHROPIC_API_KEY\"");
        if (e.name == "PIP_NO_INPUT") CHECK(e.value == "1");
    }

    profile.network.mode = S(profile::NetMode::proxy, 50);
    plan = compile(profile, dev_inv(), dev_host().facts());
    int proxies = 0;
    for (const auto& e : plan.env) {
        if (util::ends_with(util::to_lower(e.name), "_proxy") && e.name != "NO_PROXY" &&
            e.name != "no_proxy") {
            CHECK(e.value == "http://127.0.0.1:3128");
            ++proxies;
        }
        if (e.name == "NO_PROXY" || e.name == "no_proxy") CHECK(e.value == "localhost,127.0.0.1");
    }
    CHECK(proxies == 6);
    CHECK(std::is_sorted(plan.env.begin(), plan.env.end(),
                         [](const EnvVar& a, const EnvVar& b) { return a.name < b.name; }));
}

TEST_CASE("compile: network mode host keeps the host network namespace and says so") {
    auto profile = dev_profile();
    profile.network.mode = S(profile::NetMode::host, 50);
    Plan plan = compile(profile, dev_inv(), dev_host().facts());
    CHECK_FALSE(plan.ns.net);
    CHECK_FALSE(plan.landlock.restrict_network);
    CHECK(has_note(plan, "shares the host network"));
}

TEST_CASE("compile: a bad host rule names the rule and its file:line") {
    auto profile = dev_profile();
    profile.network.mode = S(profile::NetMode::proxy, 50);
    profile.network.allow = {E("*", 51)};
    try {
        compile(profile, dev_inv(), dev_host().facts());
        FAIL("accepted");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("test.toml:51:1: network.allow \"*\"") == 0);
    }
}

TEST_CASE("compile: limits use the strongest mechanism the host offers") {
    auto profile = dev_profile();
    profile.limits.timeout_ms = S<std::uint64_t>(1800000, 60);
    profile.limits.memory = S<std::uint64_t>(4ull << 30, 61);
    profile.limits.pids = S<std::uint64_t>(1024, 62);
    profile.limits.file_size = S<std::uint64_t>(2ull << 30, 63);
    profile.limits.open_files = S<std::uint64_t>(4096, 64);
    profile.limits.stage_size = S<std::uint64_t>(8ull << 30, 65);
    auto host = dev_host().facts();

    Plan plan = compile(profile, dev_inv(), host);
    REQUIRE(plan.limits.size() == 6);
    CHECK(plan.limit("timeout")->how == Mechanism::supervisor);
    CHECK(plan.limit("memory")->how == Mechanism::cgroup2);
    CHECK(plan.limit("pids")->how == Mechanism::cgroup2);
    CHECK(plan.limit("file_size")->how == Mechanism::rlimit);
    CHECK(plan.limit("open_files")->how == Mechanism::rlimit);
    CHECK(plan.limit("stage_size")->how == Mechanism::stage);
    CHECK(plan.limit("memory")->src.str() == "test.toml:61:1");

    host.cgroup2_delegated.clear();
    host.cgroup1_memory = true;
    host.cgroup1_pids = true;
    plan = compile(profile, dev_inv(), host);
    CHECK(plan.limit("memory")->how == Mechanism::cgroup1);
    CHECK(plan.limit("pids")->how == Mechanism::cgroup1);
    CHECK(plan.weakenings.empty());

    host.cgroup1_pids = false;
    plan = compile(profile, dev_inv(), host);
    CHECK(plan.limit("memory")->how == Mechanism::cgroup1);
    CHECK(plan.limit("pids")->how == Mechanism::none);
    CHECK(has_weakening(plan, "limits.pids"));
    CHECK_FALSE(has_weakening(plan, "limits.memory"));

    host.cgroup1_memory = false;
    plan = compile(profile, dev_inv(), host);
    CHECK(plan.limit("memory")->how == Mechanism::none);
    CHECK(has_weakening(plan, "limits.memory"));

    profile.limits = {};
    profile.limits.pids = S<std::uint64_t>(0, 62);  // set to 0: unlimited, not listed
    plan = compile(profile, dev_inv(), host);
    CHECK(plan.limits.empty());
}

TEST_CASE("compile: limits.log_size bounds the decision log; unset is the default, none none") {
    auto profile = dev_profile();
    const auto host = dev_host().facts();
    CHECK(compile(profile, dev_inv(), host).log_size == kDefaultLogSize);
    profile.limits.log_size = S<std::uint64_t>(1ull << 20, 66);
    Plan plan = compile(profile, dev_inv(), host);
    CHECK(plan.log_size == (1ull << 20));
    CHECK(plan.limit("log_size") == nullptr);  // agentbox's own writer keeps it, no backend
    profile.limits.log_size = S<std::uint64_t>(0, 66);
    CHECK(compile(profile, dev_inv(), host).log_size == UINT64_MAX);
}

TEST_CASE("compile: without seccomp user notification, host unix sockets are a weakening") {
    auto profile = dev_profile();
    auto host = dev_host().facts();
    host.seccomp_user_notif = false;
    Plan plan = compile(profile, dev_inv(), host);
    CHECK(has_weakening(plan, "unix sockets of the host"));
    CHECK_FALSE(plan.seccomp.log_denials);
    host.seccomp_user_notif = true;
    plan = compile(profile, dev_inv(), host);
    CHECK_FALSE(has_weakening(plan, "unix sockets of the host"));
}

TEST_CASE("compile: every weakening the host can cause") {
    auto profile = dev_profile();
    auto host = dev_host().facts();
    host.userns = false;
    host.overlay_userxattr = false;
    host.seccomp = false;
    host.landlock_abi = 0;
    profile.process.landlock = S(profile::LandlockMode::require, 70);
    profile.filesystem.exec = {E("/usr/bin", 71)};
    Plan plan = compile(profile, dev_inv(), host);
    CHECK(has_weakening(plan, "backend \"native\""));
    CHECK(has_weakening(plan, "filesystem.write \"@project\""));
    CHECK(has_weakening(plan, "process.seccomp"));
    CHECK(has_weakening(plan, "process.landlock \"require\""));
    CHECK(has_weakening(plan, "filesystem.exec"));
    CHECK(plan.weakenings.size() == 5);
    for (const auto& w : plan.weakenings) CHECK_FALSE(w.missing.empty());
    CHECK_FALSE(plan.seccomp.log_denials);

    // The bwrap backend does not need agentbox's own user namespace.
    auto inv = dev_inv();
    inv.backend = "bwrap";
    inv.allow_weaker = true;
    plan = compile(profile, inv, host);
    CHECK_FALSE(has_weakening(plan, "backend"));
    CHECK(plan.allow_weaker);
    CHECK(plan.backend == "bwrap");
}

TEST_CASE("compile: Landlock rules derived from the mounts") {
    auto profile = dev_profile();
    auto host = dev_host().facts();
    host.landlock_abi = 9;  // a future kernel: capped at what this code knows
    Plan plan = compile(profile, dev_inv(), host);
    CHECK(plan.landlock.abi == 7);
    // No TCP rules: the network namespace, not port rules, keeps loopback the sandbox's own.
    CHECK_FALSE(plan.landlock.restrict_network);
    CHECK(plan.landlock.connect_ports.empty());
    CHECK(plan.landlock.scope_signals);
    CHECK(plan.landlock.scope_abstract_unix);
    auto access = [&](const std::string& path) -> unsigned {
        for (const auto& r : plan.landlock.rules)
            if (r.path == path) return r.access;
        return 0;
    };
    CHECK(access("/usr") == (ll_read | ll_exec));
    CHECK(access("/p") == (ll_read | ll_write | ll_exec | ll_make_sock));
    // The sandbox's own tmpfs: the one place unix sockets may be made (no host bind below).
    CHECK(access("/tmp") == (ll_read | ll_write | ll_exec | ll_make_sock));
    CHECK(access("/proc") == (ll_read | ll_write));
    CHECK(access("/dev") == (ll_read | ll_write | ll_ioctl_dev));
    CHECK(access("/bin") == 0);          // a symlink needs no rule
    CHECK(access("/etc/shadow") == 0);   // masks grant nothing

    SUBCASE("an exec allowlist removes exec everywhere else") {
        profile.filesystem.exec = {E("/usr/bin", 80)};
        plan = compile(profile, dev_inv(), host);
        CHECK(plan.exec_allow == std::vector<std::string>{"/usr/bin"});
        CHECK(access("/usr") == ll_read);
        CHECK(access("/usr/bin") == (ll_read | ll_exec));
        CHECK(access("/p") == (ll_read | ll_write | ll_make_sock));
    }
    SUBCASE("old ABIs: no scopes before 6") {
        host.landlock_abi = 3;
        plan = compile(profile, dev_inv(), host);
        CHECK(plan.landlock.abi == 3);
        CHECK_FALSE(plan.landlock.scope_signals);
        host.landlock_abi = 5;
        plan = compile(profile, dev_inv(), host);
        CHECK_FALSE(plan.landlock.scope_abstract_unix);
    }
    SUBCASE("mode off enforces nothing and lists nothing") {
        profile.process.landlock = S(profile::LandlockMode::off, 81);
        plan = compile(profile, dev_inv(), host);
        CHECK(plan.landlock.abi == 0);
        CHECK(plan.landlock.rules.empty());
        CHECK(plan.weakenings.empty());  // best-effort/off without exec: nothing weakened
    }
}

TEST_CASE("compile: seccomp lists keep their sources; on_exit from the invocation wins") {
    auto profile = dev_profile();
    profile.process.seccomp = S(profile::SeccompMode::strict, 90);
    profile.process.allow_syscalls = {E("ptrace", 91)};
    profile.process.deny_syscalls = {E("socket", 92)};
    profile.commit.on_exit = S(profile::OnExit::discard, 93);
    Plan plan = compile(profile, dev_inv(), dev_host().facts());
    CHECK(plan.seccomp.mode == profile::SeccompMode::strict);
    REQUIRE(plan.seccomp.allow.size() == 1);
    CHECK(plan.seccomp.allow[0].name == "ptrace");
    CHECK(plan.seccomp.allow[0].src.str() == "test.toml:91:1");
    REQUIRE(plan.seccomp.deny.size() == 1);
    CHECK(plan.on_exit == profile::OnExit::discard);
    auto inv = dev_inv();
    inv.on_exit = profile::OnExit::ask;
    CHECK(compile(profile, inv, dev_host().facts()).on_exit == profile::OnExit::ask);
}

TEST_CASE("compile: implicit mounts cannot be replaced by binding the host's /dev") {
    auto profile = dev_profile();
    profile.filesystem.read.push_back(E("/dev", 95));
    auto host = dev_host();
    host.dir("/dev");
    Plan plan = compile(profile, dev_inv(), host.facts());
    CHECK(find_mount(plan, "/dev", MountKind::dev));
    CHECK_FALSE(find_mount(plan, "/dev", MountKind::bind_ro));
    CHECK(has_note(plan, "filesystem.read \"/dev\" (test.toml:95:1) is overridden"));
}

TEST_CASE("compile asks the host about each path once, and the plan is the same") {
    // Every rule's path is resolved one component at a time: without one answer per path the
    // same ancestors were lstat'ed hundreds of times a run.
    const HostFacts plain = dev_host().facts();
    std::map<std::string, int> asked;
    HostFacts counted = plain;
    counted.kind = [&asked, k = plain.kind](const std::string& p) {
        ++asked["kind " + p];
        return k(p);
    };
    counted.readlink = [&asked, r = plain.readlink](const std::string& p) {
        ++asked["readlink " + p];
        return r(p);
    };
    counted.realpath = [&asked, r = plain.realpath](const std::string& p) {
        ++asked["realpath " + p];
        return r(p);
    };
    const Plan a = compile(dev_profile(), dev_inv(), counted);
    REQUIRE_FALSE(asked.empty());
    for (const auto& [what, n] : asked) {
        CAPTURE(what);
        CHECK(n == 1);
    }
    const Plan b = compile(dev_profile(), dev_inv(), plain);
    CHECK(a.mounts == b.mounts);
    CHECK(a.landlock.rules == b.landlock.rules);
    CHECK(a.weakenings == b.weakenings);
    // Each compile asks afresh: nothing is remembered from one to the next.
    asked.clear();
    (void)compile(dev_profile(), dev_inv(), counted);
    CHECK_FALSE(asked.empty());
}

}  // namespace
}  // namespace agentbox::policy
