// Plan -> Seatbelt profile (macOS), tested on Linux: the profile is a pure function. Goldens in
// tests/data/seatbelt/ translate the Plans of tests/data/plans/ (AGENTBOX_UPDATE_GOLDENS=1).
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "../policy/builtin_plans.hpp"
#include "../policy/golden.hpp"
#include "policy/policy.hpp"
#include "sandbox/macos/seatbelt.hpp"
#include "sandbox/relocate.hpp"
#include "util/strings.hpp"

using namespace agentbox;
using namespace agentbox::sandbox::macos;
using agentbox::sandbox::map_path_value;
using policy::MountKind;
using policy::test::mount;

namespace {

// A macOS 14 host as compile() sees it: /etc, /tmp and /var are symlinks into /private (the
// real paths Seatbelt matches), /bin and /sbin are real directories, the user lives in /Users,
// agentbox keeps its state under ~/.local/state, and Claude Code's native installer has put
// ~/.local/bin/claude -> ~/.local/share/claude/versions/2.0.0. The goldens are computed from
// this description, never from the machine running the tests.
policy::test::FakeHost macos_host() {
    policy::test::FakeHost h;
    for (const char* d :
         {"/System", "/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/local", "/usr/share",
          "/bin", "/sbin", "/opt", "/opt/homebrew", "/Library", "/Library/Developer",
          "/Library/Developer/CommandLineTools", "/private", "/private/etc", "/private/etc/ssh",
          "/private/etc/sudoers.d", "/private/tmp", "/private/var", "/private/var/tmp",
          "/private/var/folders", "/private/var/db", "/Users", "/Users/u", "/Users/u/.ssh",
          "/Users/u/.aws", "/Users/u/.config", "/Users/u/.config/gh", "/Users/u/.config/pip",
          "/Users/u/.cache", "/Users/u/.claude", "/Users/u/.claude/projects", "/Users/u/.codex", "/Users/u/.local",
          "/Users/u/.local/bin", "/Users/u/.local/share", "/Users/u/.local/share/claude",
          "/Users/u/.local/share/claude/versions", "/Users/u/.local/state",
          "/Users/u/.local/state/agentbox", "/Users/u/.config/agentbox",
          "/Users/u/.cache/agentbox", "/Users/u/proj", "/Users/u/proj/src", "/Users/u/proj/.git",
          "/Users/u/proj/.git/hooks"})
        h.dir(d);
    for (const char* f :
         {"/private/etc/sudoers", "/private/etc/hosts", "/private/etc/ssh/ssh_host_ed25519_key",
          "/Users/u/.netrc", "/Users/u/.ssh/id_ed25519", "/Users/u/.claude.json",
          "/Users/u/.local/share/claude/versions/2.0.0", "/Users/u/proj/.env",
          "/Users/u/proj/.env.local", "/Users/u/proj/README.md"})
        h.file(f);
    h.link("/etc", "private/etc", "/private/etc");
    h.link("/tmp", "private/tmp", "/private/tmp");
    h.link("/var", "private/var", "/private/var");
    h.link("/Users/u/.local/bin/claude", "../share/claude/versions/2.0.0",
           "/Users/u/.local/share/claude/versions/2.0.0");
    return h;
}

// A built-in profile's Plan on that host: `make test` in ~/proj/src, with secrets in the
// environment that must never reach a rendering.
policy::Plan macos_plan(const std::string& name) {
    policy::test::BuiltinRun r = policy::test::builtin_run();
    const std::string home = "/Users/u";
    r.ctx.project = r.inv.project = home + "/proj";
    r.ctx.cwd = r.inv.cwd = home + "/proj/src";
    r.ctx.home = r.inv.home = home;
    r.ctx.environ = {{"PATH", home + "/.local/bin:/opt/homebrew/bin:/usr/bin:/bin"},
                     {"HOME", home}, {"LANG", "en_US.UTF-8"}, {"GITHUB_TOKEN", "ghp_secret"},
                     {"ANTHROPIC_API_KEY", "sk-ant-secret"}, {"OPENAI_API_KEY", "sk-secret"}};
    r.inv.environ = r.ctx.environ;
    r.inv.backend = "seatbelt";
    r.inv.own_dirs = {home + "/.local/state/agentbox", home + "/.config/agentbox",
                      home + "/.cache/agentbox"};
    policy::HostFacts facts = macos_host().facts();
    facts.uid = facts.gid = 501;
    facts.kernel = "23.6.0";
    facts.userns = facts.overlay_userxattr = facts.seccomp = facts.seccomp_user_notif = false;
    facts.landlock_abi = 0;
    facts.cgroup2_delegated.clear();
    policy::Plan plan = policy::compile(profile::load(name, r.ctx), r.inv, facts);
    // As `--dry-run --target macos` and the Seatbelt backend take it: the copy stands in for
    // the overlay.
    if (plan.staging == policy::Staging::overlay) plan.staging = policy::Staging::copy;
    return plan;
}

// A small Plan by hand: /usr readable, the project staged, /tmp a tmpfs, one denied file.
policy::Plan small_plan() {
    policy::Plan p;
    p.argv = {"sh", "-c", "true"};
    p.project = "/Users/u/proj";
    p.cwd = "/Users/u/proj/src";
    p.home = "/Users/u";
    p.mounts = {mount(MountKind::dev, "", "/dev", "implicit: minimal /dev"),
                mount(MountKind::tmpfs, "tmpfs", "/tmp", "filesystem.tmpfs \"/tmp\""),
                mount(MountKind::bind_ro, "/usr", "/usr", "filesystem.read \"/usr\""),
                mount(MountKind::tmpfs, "tmpfs", "/Users/u", "implicit: empty writable home"),
                mount(MountKind::overlay, "/Users/u/proj", "/Users/u/proj",
                      "filesystem.write \"@project\""),
                mount(MountKind::mask_file, "", "/Users/u/proj/.env",
                      "filesystem.deny \"@project/.env\"")};
    p.env = {{"HOME", "/Users/u", "implicit: home directory"},
             {"PATH", "/Users/u/proj/node_modules/.bin:/usr/bin:/bin", "env.pass \"PATH\""},
             {"LANG", "C.UTF-8", "env.pass \"LANG\""}};
    return p;
}

LaunchFacts port_facts(std::uint16_t port) {
    LaunchFacts f;
    f.proxy_port = port;
    f.proxy_token = "0123456789abcdef0123456789abcdef";
    return f;
}

LaunchFacts tty_facts(std::string tty) {
    LaunchFacts f;
    f.tty = std::move(tty);
    return f;
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("every built-in profile translates to its golden Seatbelt profile") {
    const auto names = profile::builtin_names();
    REQUIRE(names.size() >= 7);
    for (const auto& name : names) {
        CAPTURE(name);
        const std::string sb = seatbelt_profile(macos_plan(name));
        CHECK(sb.starts_with("(version 1)\n"));
        CHECK(sb.find("(deny default)") != std::string::npos);
        CHECK(sb.find("sk-ant-secret") == std::string::npos);
        policy::test::check_golden("builtin-" + name + ".sb", sb, "seatbelt");
    }
}

TEST_CASE("SBPL strings escape quotes and backslashes and refuse control characters") {
    CHECK(sbpl_string("/a b/c") == "\"/a b/c\"");
    CHECK(sbpl_string("/x\"y\\z") == "\"/x\\\"y\\\\z\"");
    CHECK(sbpl_string("/caf\xc3\xa9") == "\"/caf\xc3\xa9\"");
    CHECK_THROWS_AS(sbpl_string("/a\nb"), std::invalid_argument);
    CHECK_THROWS_AS(sbpl_string(std::string("/a\0b", 4)), std::invalid_argument);
    CHECK_THROWS_AS(sbpl_string("/a\x1b[2Jb"), std::invalid_argument);
}

TEST_CASE("a path with a quote cannot close its string and grant more") {
    policy::Plan p = small_plan();
    p.mounts.push_back(mount(MountKind::bind_ro, "/opt/x\") (allow default) (\"",
                             "/opt/x\") (allow default) (\"", "filesystem.read"));
    const std::string sb = seatbelt_profile(p);
    CHECK(sb.find("(subpath \"/opt/x\\\") (allow default) (\\\"\")") != std::string::npos);
    // Outside comments, every "(allow default)" is inside that escaped string.
    std::string rules;
    for (const auto& line : util::split(sb, '\n'))
        if (!line.starts_with(";;")) rules += line + "\n";
    CHECK(count(rules, "(allow default)") > 0);
    CHECK(count(rules, "(allow default)") == count(rules, "x\\\") (allow default) (\\\""));
    CHECK(sb.find("\n(allow default)") == std::string::npos);
}

TEST_CASE("a rule with a newline cannot end its comment and inject SBPL") {
    policy::Plan p = small_plan();
    p.mounts[2].rule = "filesystem.read \"/usr\"\n(allow default)\n";
    const std::string sb = seatbelt_profile(p);
    CHECK(sb.find("\n(allow default)") == std::string::npos);
    CHECK(sb.find(";; bind-ro /usr <- filesystem.read \"/usr\"?(allow default)?") !=
          std::string::npos);
}

TEST_CASE("a path the profile cannot express is refused, not dropped") {
    policy::Plan p = small_plan();
    p.mounts.push_back(mount(MountKind::bind_ro, "/opt/a\nb", "/opt/a\nb", "filesystem.read"));
    CHECK_THROWS_AS(seatbelt_profile(p), std::invalid_argument);
}

TEST_CASE("denied paths come after every grant, in the project's copy too") {
    const std::string sb = seatbelt_profile(small_plan());
    const auto deny = sb.find("(deny file-read* file-write* process-exec (literal "
                              "\"/Users/u/proj/.env\"))");
    REQUIRE(deny != std::string::npos);
    // Every grant of a host path is before it; after it only the session's own directories.
    for (auto at = sb.find("(allow ", deny); at != std::string::npos; at = sb.find("(allow ", at + 1)) {
        const std::string rule = sb.substr(at, sb.find(")\n", at) - at);
        CAPTURE(rule);
        CHECK(rule.find("(param ") != std::string::npos);
        CHECK(rule.find("(subpath \"") == std::string::npos);
        CHECK(rule.find("(literal \"") == std::string::npos);
    }
    const auto copy_deny = sb.find("(deny file-read* file-write* process-exec (literal "
                                   "(string-append (param \"AGENTBOX_COPY\") \"/.env\")))");
    REQUIRE(copy_deny != std::string::npos);
    CHECK(sb.rfind("(allow ") < copy_deny);
}

TEST_CASE("the staged project is read-only in place and writable only in the copy") {
    const std::string sb = seatbelt_profile(small_plan());
    CHECK(sb.find("(allow file-read* (subpath \"/Users/u/proj\"))") != std::string::npos);
    CHECK(sb.find("(allow file-read* file-write* (subpath (param \"AGENTBOX_COPY\")))") !=
          std::string::npos);
    CHECK(sb.find("file-write* (subpath \"/Users/u/proj\")") == std::string::npos);
    // tmpfs mounts become private directories under the scratch parameter
    CHECK(sb.find("(allow file-read* file-write* (subpath (string-append (param "
                  "\"AGENTBOX_SCRATCH\") \"/private/tmp\")))") != std::string::npos);
    CHECK(sb.find("file-write* (subpath \"/tmp\")") == std::string::npos);
}

TEST_CASE("network: none opens nothing, proxy only its port on this host, host everything") {
    policy::Plan p = small_plan();
    std::string sb = seatbelt_profile(p);
    CHECK(sb.find("network-outbound") == std::string::npos);
    CHECK(sb.find("network*") == std::string::npos);

    p.net.mode = profile::NetMode::proxy;
    p.env.push_back({"HTTPS_PROXY", "http://127.0.0.1:3128", "network.mode \"proxy\""});
    p.env.push_back({"NO_PROXY", "localhost,127.0.0.1", "network.mode \"proxy\""});
    p.env.push_back({"MIRROR", "http://127.0.0.1:3128", "env.set"});
    // The profile alone names no port: the Plan's 3128 is the Linux in-namespace port, which
    // on a Mac is whoever listens there.
    sb = seatbelt_profile(p);
    CHECK(sb.find("network-outbound") == std::string::npos);
    CHECK(sb.find("3128") == std::string::npos);
    CHECK_THROWS_AS(seatbelt_launch(p, "/c", "/s"), std::invalid_argument);
    // A port without the run's credential: any local process could use that proxy.
    LaunchFacts no_token = port_facts(41234);
    no_token.proxy_token.clear();
    CHECK_THROWS_AS(seatbelt_launch(p, "/c", "/s", no_token), std::invalid_argument);

    const Launch l = seatbelt_launch(p, "/c", "/s", port_facts(41234));
    const std::string& full = l.argv[2];
    CHECK(full.find("(allow network-outbound (remote tcp \"localhost:41234\"))") !=
          std::string::npos);
    CHECK(full.find("3128") == std::string::npos);
    CHECK(count(full, "network") == count(full, "(remote tcp \"localhost:41234\")") +
                                        count(full, ";; network"));
    CHECK(full.find("com.apple.dnssd.service") == std::string::npos);
    const auto has = [&](const std::string& e) {
        return std::find(l.env.begin(), l.env.end(), e) != l.env.end();
    };
    CHECK(has("HTTPS_PROXY=http://agentbox:0123456789abcdef0123456789abcdef@127.0.0.1:41234"));
    CHECK(has("NO_PROXY=localhost,127.0.0.1"));
    CHECK(has("MIRROR=http://127.0.0.1:3128"));  // not the proxy's: the user's own setting

    p.net.mode = profile::NetMode::host;
    sb = seatbelt_profile(p);
    CHECK(sb.find("(allow network*)") != std::string::npos);
}

TEST_CASE("filesystem.exec limits process-exec to its entries") {
    policy::Plan p = small_plan();
    std::string sb = seatbelt_profile(p);
    auto block = [](const std::string& text) {
        const auto at = text.find("(allow process-exec file-map-executable");
        REQUIRE(at != std::string::npos);
        return text.substr(at, text.find("\n\n", at) - at);
    };
    CHECK(block(sb).find("\n  (subpath \"/usr\")") != std::string::npos);

    p.exec_allow = {"/usr/bin/make", "/Users/u/proj/bin"};
    sb = seatbelt_profile(p);
    const std::string rule = block(sb);
    CHECK(rule.find("(subpath \"/usr\")") == std::string::npos);
    CHECK(rule.find("\"AGENTBOX_SCRATCH\"") == std::string::npos);
    CHECK(rule.find("(subpath \"/usr/bin/make\")") != std::string::npos);
    CHECK(rule.find("(subpath \"/Users/u/proj/bin\")") != std::string::npos);
    CHECK(sb.find("(subpath (string-append (param \"AGENTBOX_COPY\") \"/bin\"))") !=
          std::string::npos);
}

TEST_CASE("limits macOS cannot enforce are weakenings; the ones it can are not") {
    policy::Plan p = small_plan();
    CHECK(seatbelt_weakenings(p).empty());
    const profile::Source s{"test.toml", 9, 1};
    p.limits = {{"memory", 1u << 30, policy::Mechanism::cgroup1, s},
                {"pids", 100, policy::Mechanism::cgroup1, s},
                {"file_size", 1u << 20, policy::Mechanism::rlimit, s},
                {"open_files", 64, policy::Mechanism::rlimit, s},
                {"timeout", 1000, policy::Mechanism::supervisor, s}};
    p.seccomp.deny = {{"ptrace", s}};
    const auto w = seatbelt_weakenings(p);
    REQUIRE(w.size() == 3);
    CHECK(w[0].rule == "limits.memory");
    CHECK(w[1].rule == "limits.pids");
    CHECK(w[2].rule == "process.seccomp.deny \"ptrace\"");
    CHECK(w[0].src == s);
}

TEST_CASE("a stage_size limit is refused, not dropped silently") {
    policy::Plan p = small_plan();
    const profile::Source s{"test.toml", 4, 1};
    p.limits = {{"stage_size", 1u << 20, policy::Mechanism::stage, s}};
    const auto w = seatbelt_weakenings(p);
    REQUIRE(w.size() == 1);
    CHECK(w[0].rule == "limits.stage_size");
    CHECK(w[0].src == s);
}

TEST_CASE("a limit the macOS backend does not know is refused, not ignored") {
    policy::Plan p = small_plan();
    p.limits = {{"cpu", 5, policy::Mechanism::cgroup2, profile::Source{"t.toml", 2, 1}}};
    const auto w = seatbelt_weakenings(p);
    REQUIRE(w.size() == 1);
    CHECK(w[0].rule == "limits.cpu");
}

TEST_CASE("proxy mode is enforced on macOS: no weakening, for the dry run as for the launch") {
    policy::Plan p = small_plan();
    p.net.mode = profile::NetMode::proxy;
    p.net.mode_src = profile::Source{"p.toml", 7, 8};
    CHECK(seatbelt_weakenings(p).empty());
}

TEST_CASE("a profile that requires capture is refused on macOS, not run without it") {
    policy::Plan p = small_plan();
    p.net.mode = profile::NetMode::proxy;
    p.net.capture = true;
    CHECK(seatbelt_weakenings(p).empty());  // capture as a default: tools without it fail closed
    p.net.capture_required = true;
    p.net.capture_src = profile::Source{"p.toml", 9, 1};
    const auto w = seatbelt_weakenings(p);
    REQUIRE(w.size() == 1);
    CHECK(w[0].rule == "network.capture true");
    CHECK(w[0].src == p.net.capture_src);
}

// The profile a proxy-mode built-in profile runs with, as sandbox-exec gets it: the proxy's
// host port, the session's directories. A local service on any other loopback port, a unix
// socket, a listening socket: none is reachable, because the one network rule names the
// proxy's port and nothing else (Seatbelt cannot name a host but localhost or *).
TEST_CASE("attack: a local service on another loopback port is unreachable in proxy mode") {
    const std::string copy = "/Users/u/.local/state/agentbox/sessions/S/upper/project";
    const std::string scratch = "/Users/u/.local/state/agentbox/sessions/S/work/scratch";
    int proxied = 0;
    for (const auto& name : profile::builtin_names()) {
        CAPTURE(name);
        const policy::Plan p = macos_plan(name);
        if (p.net.mode != profile::NetMode::proxy) continue;
        ++proxied;
        const Launch l = seatbelt_launch(p, copy, scratch, port_facts(49152));
        const std::string& sb = l.argv[2];
        policy::test::check_golden("launch-" + name + "-proxy.sb", sb, "seatbelt");
        // Every rule that mentions the network, comments aside: exactly the proxy's.
        std::vector<std::string> rules;
        std::size_t at = 0;
        while (at < sb.size()) {
            const std::size_t nl = sb.find('\n', at);
            const std::string line = sb.substr(at, nl == std::string::npos ? nl : nl - at);
            at = nl == std::string::npos ? sb.size() : nl + 1;
            if (!line.starts_with(";;") && (line.find("network") != std::string::npos ||
                                           line.find("system-socket") != std::string::npos))
                rules.push_back(line);
        }
        REQUIRE(rules.size() == 1);
        CHECK(rules[0] == "(allow network-outbound (remote tcp \"localhost:49152\"))");
        CHECK(sb.find(":" + std::to_string(p.net.proxy_port)) == std::string::npos);
        CHECK(sb.find("com.apple.dnssd.service") == std::string::npos);
        // Its variables name the same port.
        CHECK(std::find(l.env.begin(), l.env.end(),
                        "HTTPS_PROXY=http://agentbox:0123456789abcdef0123456789abcdef@"
                        "127.0.0.1:49152") != l.env.end());
    }
    CHECK(proxied >= 2);
}

TEST_CASE("the launch moves home, tmp and the working directory into the session") {
    policy::Plan p = small_plan();
    const Launch l = seatbelt_launch(p, "/S/upper/project", "/S/work/scratch");
    REQUIRE(l.argv.size() == 11);
    CHECK(l.argv[0] == "/usr/bin/sandbox-exec");
    CHECK(l.argv[1] == "-p");
    CHECK(l.argv[2].starts_with(seatbelt_profile(p)));
    CHECK(l.argv[2].ends_with("(allow file-read-metadata\n  (literal \"/\")\n  (literal \"/S\")\n"
                              "  (literal \"/S/upper\")\n  (literal \"/S/work\"))\n"));
    CHECK(l.argv[4] == "AGENTBOX_COPY=/S/upper/project");
    CHECK(l.argv[6] == "AGENTBOX_SCRATCH=/S/work/scratch");
    CHECK(l.argv[7] == "--");
    CHECK(l.argv[8] == "sh");
    CHECK(l.cwd == "/S/upper/project/src");
    const auto has = [&](const std::string& e) {
        return std::find(l.env.begin(), l.env.end(), e) != l.env.end();
    };
    CHECK(has("HOME=/S/work/scratch/Users/u"));
    CHECK(has("PATH=/S/upper/project/node_modules/.bin:/usr/bin:/bin"));
    CHECK(has("LANG=C.UTF-8"));
    CHECK(has("TMPDIR=/S/work/scratch/private/tmp"));
    REQUIRE(l.copy_excludes.size() == 1);
    CHECK(l.copy_excludes[0] == ".env");
}

TEST_CASE("the launch leaves URLs alone") {
    policy::Plan p = small_plan();
    p.env.push_back({"HTTPS_PROXY", "http://127.0.0.1:3128", "network.mode \"proxy\""});
    p.env.push_back({"TMPDIR", "/tmp", "env.set"});
    const Launch l = seatbelt_launch(p, "/c", "/s");
    CHECK(std::find(l.env.begin(), l.env.end(), "HTTPS_PROXY=http://127.0.0.1:3128") !=
          l.env.end());
    CHECK(std::find(l.env.begin(), l.env.end(), "TMPDIR=/s/private/tmp") != l.env.end());
    CHECK(std::count_if(l.env.begin(), l.env.end(),
                        [](const std::string& e) { return e.starts_with("TMPDIR="); }) == 1);
}

TEST_CASE("etc, tmp and var are granted and denied at their real paths on macOS") {
    // A Plan computed on this Linux host names /etc; Seatbelt on a Mac sees /private/etc.
    const std::string sb = seatbelt_profile(policy::test::builtin_plan("default"));
    CHECK(sb.find("(allow file-read* (subpath \"/private/etc\"))") != std::string::npos);
    CHECK(sb.find("(deny file-read* file-write* process-exec (literal \"/private/etc/shadow\"))") !=
          std::string::npos);
    CHECK(sb.find("(subpath \"/etc\")") == std::string::npos);
    CHECK(sb.find("(literal \"/etc/shadow\")") == std::string::npos);
    // the symlink itself stays readable, to be followed
    CHECK(sb.find("(allow file-read* (literal \"/etc\"))") != std::string::npos);
    CHECK(macos_real_path("/etc") == "/private/etc");
    CHECK(macos_real_path("/tmp/x") == "/private/tmp/x");
    CHECK(macos_real_path("/var/folders/ab") == "/private/var/folders/ab");
    CHECK(macos_real_path("/etcetera") == "/etcetera");
    CHECK(macos_real_path("/private/etc") == "/private/etc");
    CHECK(macos_real_path("/Users/u/etc") == "/Users/u/etc");
}

TEST_CASE("the macOS-shaped Plan grants /private/etc and denies its secrets there") {
    const std::string sb = seatbelt_profile(macos_plan("default"));
    CHECK(sb.find("(allow file-read* (subpath \"/private/etc\"))") != std::string::npos);
    CHECK(sb.find("(allow file-read* (literal \"/etc\"))") != std::string::npos);
    CHECK(sb.find("(literal \"/private/etc/sudoers\")") != std::string::npos);
    CHECK(sb.find("(subpath \"/etc\")") == std::string::npos);
}

TEST_CASE("an interactive agent gets new ptys and its own terminal, not the user's others") {
    const std::string sb = seatbelt_profile(small_plan());
    CHECK(sb.find("(allow pseudo-tty)") != std::string::npos);
    CHECK(sb.find("(allow file-read* file-write* file-ioctl (literal \"/dev/ptmx\"))") !=
          std::string::npos);
    // /dev/ttys* only with the extension Seatbelt gives a pty opened inside the sandbox
    const auto ttys = sb.find("(require-all (regex #\"^/dev/ttys[0-9]+$\")");
    REQUIRE(ttys != std::string::npos);
    CHECK(count(sb, "/dev/ttys") == 1);
    CHECK(sb.find("(extension \"com.apple.sandbox.pty\")", ttys) != std::string::npos);

    const Launch l = seatbelt_launch(small_plan(), "/c", "/s", tty_facts("/dev/ttys004"));
    CHECK(l.argv[2].find("(allow file-read* file-write* file-ioctl (literal \"/dev/ttys004\"))") !=
          std::string::npos);
    const Launch none = seatbelt_launch(small_plan(), "/c", "/s");
    CHECK(none.argv[2].find("/dev/ttys0") == std::string::npos);
}

TEST_CASE("the runtime has what real programs need, and sysctl-read only by name") {
    const std::string sb = seatbelt_profile(small_plan());
    for (const char* rule :
         {"(allow mach-host*)", "(allow user-preference-read)",
          "(allow ipc-posix-sem ipc-posix-shm)",
          "(global-name \"com.apple.system.opendirectoryd.membership\")",
          "(global-name \"com.apple.SecurityServer\")", "(global-name \"com.apple.ocspd\")",
          "(sysctl-name \"hw.ncpu\")", "(sysctl-name \"kern.osrelease\")",
          "(sysctl-name-prefix \"hw.optional.\")",
          "(allow file-read* (subpath \"/Library/Developer/CommandLineTools\"))"})
        CHECK_MESSAGE(sb.find(rule) != std::string::npos, rule);
    CHECK(sb.find("(allow sysctl-read)") == std::string::npos);
    CHECK(sb.find("kern.proc") == std::string::npos);
    // the xcrun shims run the tools there
    const auto exec = sb.find("(allow process-exec file-map-executable");
    CHECK(sb.find("(subpath \"/Library/Developer/CommandLineTools\")", exec) != std::string::npos);
}

TEST_CASE("filesystem.exec limits the developer tools too") {
    policy::Plan p = small_plan();
    p.exec_allow = {"/usr/bin/make"};
    const std::string sb = seatbelt_profile(p);
    const auto exec = sb.find("(allow process-exec file-map-executable");
    REQUIRE(exec != std::string::npos);
    const std::string rule = sb.substr(exec, sb.find("\n\n", exec) - exec);
    CHECK(rule.find("CommandLineTools") == std::string::npos);
}

TEST_CASE("with --ro ~ the denial of agentbox's state does not cover the session's copy") {
    policy::Plan p = small_plan();
    // --ro ~ on a home with agentbox's state under it: compile masks the state directory.
    p.mounts.insert(p.mounts.begin() + 4,
                    mount(MountKind::bind_ro, "/Users/u", "/Users/u", "filesystem.read \"~\""));
    p.mounts.push_back(mount(MountKind::mask_dir, "", "/Users/u/.local/state/agentbox",
                             "implicit: agentbox's own state"));
    const std::string sb = seatbelt_profile(p);
    const auto state = sb.find("(deny file-read* file-write* process-exec (subpath "
                               "\"/Users/u/.local/state/agentbox\"))");
    REQUIRE(state != std::string::npos);
    // The copy (in the state directory) is granted after that denial, writing and execution.
    const auto copy = sb.find("(allow file-read* file-write* (subpath (param \"AGENTBOX_COPY\")))",
                              state);
    CHECK(copy != std::string::npos);
    const auto exec = sb.find("(allow process-exec file-map-executable", state);
    REQUIRE(exec != std::string::npos);
    CHECK(sb.find("(subpath (param \"AGENTBOX_COPY\"))", exec) != std::string::npos);
    // and the masks inside the copy still win over that grant
    CHECK(sb.find("(literal (string-append (param \"AGENTBOX_COPY\") \"/.env\"))", copy) !=
          std::string::npos);
}

TEST_CASE("a denied path under a tmpfs is denied in its scratch directory too") {
    policy::Plan p = small_plan();
    p.mounts.push_back(mount(MountKind::mask_dir, "", "/Users/u/.ssh", "filesystem.deny \"~/.ssh\""));
    const std::string sb = seatbelt_profile(p);
    const auto host = sb.find("(deny file-read* file-write* process-exec (subpath "
                              "\"/Users/u/.ssh\"))");
    REQUIRE(host != std::string::npos);
    const auto scratch = sb.find("(deny file-read* file-write* process-exec (subpath "
                                 "(string-append (param \"AGENTBOX_SCRATCH\") \"/Users/u/.ssh\")))");
    REQUIRE(scratch != std::string::npos);
    CHECK(sb.rfind("(allow ") < scratch);
}

TEST_CASE("under claude-code, claude is found on the relocated PATH and may run") {
    const policy::Plan p = macos_plan("claude-code");
    const Launch l = seatbelt_launch(p, "/S/upper/project", "/S/work/scratch", port_facts(40000));
    const std::string& sb = l.argv[2];
    std::string path;
    for (const auto& e : l.env)
        if (e.starts_with("PATH=")) path = e.substr(5);
    CAPTURE(path);
    const std::string bin = "/S/work/scratch/Users/u/.local/bin";
    CHECK(util::split(path, ':').front() == bin);
    // $HOME/.local/bin/claude in the scratch home is a link to the granted one on the host...
    const auto link = std::find(l.links.begin(), l.links.end(),
                                std::pair<std::string, std::string>(
                                    bin + "/claude", "/Users/u/.local/bin/claude"));
    CHECK(link != l.links.end());
    // ...which may be read (to follow it), and what it points to may be read and run.
    CHECK(sb.find("(allow file-read* (literal \"/Users/u/.local/bin/claude\"))") !=
          std::string::npos);
    CHECK(sb.find("(allow file-read* (subpath \"/Users/u/.local/share/claude\"))") !=
          std::string::npos);
    const auto exec = sb.find("(allow process-exec file-map-executable");
    CHECK(sb.find("(subpath \"/Users/u/.local/share/claude\")", exec) != std::string::npos);
    // and $HOME/.claude/projects reaches the writable ~/.claude/projects (the state files
    // are scratch on macOS: agentbox-profile(5), "Agent state files")
    CHECK(std::find(l.links.begin(), l.links.end(),
                    std::pair<std::string, std::string>("/S/work/scratch/Users/u/.claude/projects",
                                                        "/Users/u/.claude/projects")) !=
          l.links.end());
    CHECK(std::find(l.env.begin(), l.env.end(), "HOME=/S/work/scratch/Users/u") != l.env.end());
}

TEST_CASE("the private /tmp is the tmpfs at /private/tmp, whichever host computed the Plan") {
    // On a Mac compile() puts the tmpfs at /private/tmp; on Linux at /tmp: the same here.
    for (const policy::Plan& p : {macos_plan("default"), policy::test::builtin_plan("default")}) {
        const Launch l = seatbelt_launch(p, "/c", "/s");
        CHECK(std::find(l.env.begin(), l.env.end(), "TMPDIR=/s/private/tmp") != l.env.end());
        CHECK(std::find(l.scratch_dirs.begin(), l.scratch_dirs.end(), "/s/private/tmp") !=
              l.scratch_dirs.end());
        CHECK(l.argv[2].find("(allow file-read* file-write* (subpath (string-append (param "
                             "\"AGENTBOX_SCRATCH\") \"/private/tmp\")))") != std::string::npos);
    }
}

TEST_CASE("an environment value is mapped path by path only when every part is an absolute path") {
    const auto up = [](const std::string& p) { return "/R" + p; };
    CHECK(map_path_value("/a:/b/c", up) == "/R/a:/R/b/c");
    CHECK(map_path_value("/a::/b", up) == "/R/a::/R/b");  // an empty entry stays empty
    CHECK(map_path_value("", up).empty());
    // Not a path list: a URL, a relative entry, a word, a //network path.
    CHECK(map_path_value("http://x/y", up) == "http://x/y");
    CHECK(map_path_value("/a:bin", up) == "/a:bin");
    CHECK(map_path_value("word", up) == "word");
    CHECK(map_path_value("//host/share", up) == "//host/share");
}
