// Plan -> Seatbelt profile (macOS), tested on Linux: the profile is a pure function. Goldens in
// tests/data/seatbelt/ translate the Plans of tests/data/plans/ (AGENTBOX_UPDATE_GOLDENS=1).
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "../policy/builtin_plans.hpp"
#include "../policy/golden.hpp"
#include "sandbox/macos/seatbelt.hpp"
#include "util/strings.hpp"

using namespace agentbox;
using namespace agentbox::sandbox::macos;
using policy::MountKind;
using policy::test::mount;

namespace {

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
        const std::string sb = seatbelt_profile(policy::test::builtin_plan(name));
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
                              "\"/Users/u/proj/.env\")");
    REQUIRE(deny != std::string::npos);
    CHECK(sb.rfind("(allow ") < deny);
    CHECK(sb.find("(literal (string-append (param \"AGENTBOX_COPY\") \"/.env\"))", deny) !=
          std::string::npos);
}

TEST_CASE("the staged project is read-only in place and writable only in the copy") {
    const std::string sb = seatbelt_profile(small_plan());
    CHECK(sb.find("(allow file-read* (subpath \"/Users/u/proj\"))") != std::string::npos);
    CHECK(sb.find("(allow file-read* file-write* (subpath (param \"AGENTBOX_COPY\")))") !=
          std::string::npos);
    CHECK(sb.find("file-write* (subpath \"/Users/u/proj\")") == std::string::npos);
    // tmpfs mounts become private directories under the scratch parameter
    CHECK(sb.find("(allow file-read* file-write* (subpath (string-append (param "
                  "\"AGENTBOX_SCRATCH\") \"/tmp\")))") != std::string::npos);
    CHECK(sb.find("file-write* (subpath \"/tmp\")") == std::string::npos);
}

TEST_CASE("network: none opens nothing, proxy only its loopback port, host everything") {
    policy::Plan p = small_plan();
    std::string sb = seatbelt_profile(p);
    CHECK(sb.find("network-outbound") == std::string::npos);
    CHECK(sb.find("network*") == std::string::npos);

    p.net.mode = profile::NetMode::proxy;
    p.net.proxy_port = 41234;
    sb = seatbelt_profile(p);
    CHECK(sb.find("(allow network-outbound (remote tcp \"localhost:41234\"))") !=
          std::string::npos);
    CHECK(count(sb, "network") == count(sb, "network-outbound (remote tcp \"localhost:41234\")") +
                                      count(sb, ";; network"));
    CHECK(sb.find("com.apple.dnssd.service") == std::string::npos);

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
                {"timeout", 1000, policy::Mechanism::supervisor, s}};
    p.seccomp.deny = {{"ptrace", s}};
    const auto w = seatbelt_weakenings(p);
    REQUIRE(w.size() == 3);
    CHECK(w[0].rule == "limits.memory");
    CHECK(w[1].rule == "limits.pids");
    CHECK(w[2].rule == "process.seccomp.deny \"ptrace\"");
    CHECK(w[0].src == s);
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
    CHECK(has("TMPDIR=/S/work/scratch/tmp"));
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
    CHECK(std::find(l.env.begin(), l.env.end(), "TMPDIR=/s/tmp") != l.env.end());
    CHECK(std::count_if(l.env.begin(), l.env.end(),
                        [](const std::string& e) { return e.starts_with("TMPDIR="); }) == 1);
}
