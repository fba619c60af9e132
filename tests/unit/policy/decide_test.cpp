// policy::decide as a table: each row is a request and the verdict and rule it must get.
#include <doctest/doctest.h>

#include <ctime>
#include <stdexcept>

#include "fixtures.hpp"
#include "policy/policy.hpp"

namespace agentbox::policy {
namespace {

using test::E;
using test::S;

const std::string kProject = "/p";
const std::string kHome = "/home/u";

profile::Profile table_profile() {
    profile::Profile p;
    auto& fs = p.filesystem;
    fs.read = {E("/usr", 1), E("/etc", 2), E("/home/u/.config/pip", 3, "~/.config/pip"),
               E("/usr/share/secret/public", 4), E("/data", 5), E("/mnt/x", 6),
               E("/srv/rw/ro", 7)};
    fs.write = {E("/p", 10, "@project"), E("/data", 11), E("/data2", 12), E("/srv/rw", 13)};
    fs.tmpfs = {E("/p/node_modules", 20, "@project/node_modules"), E("/tmp", 21)};
    fs.deny = {E("/home/u/.ssh", 30, "~/.ssh"), E("/p/.env*", 31, "@project/.env*"),
               E("/etc/shadow", 32), E("/usr/share/secret", 33), E("/data2", 34),
               E("/mnt/x", 35), E("/home/u/.config/pip/secret.conf", 36)};

    auto& net = p.network;
    net.mode = S(profile::NetMode::proxy, 40);
    net.allow = {E("api.github.com", 41), E("*.githubusercontent.com", 42),
                 E("pypi.org:8443", 43), E("exact.example.org", 44), E("*.ok.example.org", 45),
                 E("tie.example.net", 46), E("10.0.0.5", 47), E("[fd00::1]", 48),
                 E("internal.example.org:*", 49)};
    net.deny = {E("*.example.org", 50), E("tie.example.net", 51)};

    p.env.pass = {E("PATH", 60), E("HOME", 61), E("LC_*", 62), E("ANTHROPIC_API_KEY", 63),
                  E("GITHUB_TOKEN", 64), E("GH_*", 65)};
    p.env.deny = {E("*_TOKEN", 70), E("*_KEY", 71), E("AWS_*", 72), E("*SECRET*", 73),
                  E("GITHUB_TOKEN", 74)};
    p.env.set["AWS_REGION"] = E("eu-west-1", 75);
    p.env.set["FOO"] = E("1", 76);

    p.commit.protect = {E(".git/hooks/**", 80), E(".git/config", 81),
                        E(".github/workflows/**", 82), E(".envrc", 83), E(".vscode/**", 84)};
    return p;
}

profile::Profile exec_profile() {
    profile::Profile p;
    p.filesystem.read = {E("/usr", 1)};
    p.filesystem.write = {E("/p", 2)};
    p.filesystem.deny = {E("/usr/bin/secret", 3)};
    p.filesystem.exec = {E("/usr/bin", 4), E("/p/bin", 5, "@project/bin")};
    return p;
}

struct Row {
    Op op;
    const char* target;
    Verdict verdict;
    const char* rule;  // expected substring of Decision::rule
    const char* reason = "";  // expected substring of Decision::reason
};

constexpr Verdict A = Verdict::allow, D = Verdict::deny, Q = Verdict::ask;

void check(const profile::Profile& p, const Row& r) {
    Decision d = decide(p, Request{r.op, r.target}, kProject, kHome);
    INFO(to_string(r.op), " ", r.target, " -> ", to_string(d.verdict), " rule=", d.rule,
         " reason=", d.reason);
    CHECK(d.verdict == r.verdict);
    CHECK(d.rule.find(r.rule) != std::string::npos);
    CHECK(d.reason.find(r.reason) != std::string::npos);
    CHECK(!d.source.file.empty());
}

TEST_CASE("decide: filesystem paths, most specific rule wins, ties deny > write > read") {
    const Row rows[] = {
        {Op::read, "/usr/bin/ls", A, "filesystem.read \"/usr\""},
        {Op::write, "/usr/bin/ls", D, "filesystem.read \"/usr\"", "read-only"},
        {Op::read, "/usr/share/secret/x", D, "filesystem.deny \"/usr/share/secret\""},
        // More specific both ways: a read below a deny below a read.
        {Op::read, "/usr/share/secret/public/a", A, "\"/usr/share/secret/public\""},
        {Op::read, "/usr/share/secretive", A, "filesystem.read \"/usr\""},  // not a prefix match
        {Op::read, "/data/f", A, "filesystem.write \"/data\""},            // write > read
        {Op::write, "/data/f", A, "filesystem.write \"/data\"", "directly to the host"},
        {Op::read, "/data2/f", D, "filesystem.deny \"/data2\""},           // deny > write
        {Op::write, "/data2", D, "filesystem.deny \"/data2\""},
        {Op::read, "/mnt/x/y", D, "filesystem.deny \"/mnt/x\""},           // deny > read
        {Op::write, "/srv/rw/ro/f", D, "filesystem.read \"/srv/rw/ro\"", "read-only"},
        {Op::write, "/srv/rw/f", A, "filesystem.write \"/srv/rw\""},
        {Op::read, "/etc/shadow", D, "filesystem.deny \"/etc/shadow\""},
        {Op::read, "/etc/shadow.bak", A, "filesystem.read \"/etc\""},
        {Op::read, "/etc/passwd", A, "filesystem.read \"/etc\""},
        {Op::read, "/usr/../etc/shadow", D, "filesystem.deny \"/etc/shadow\""},
        {Op::read, "/home/u/.ssh/id_rsa", D, "filesystem.deny \"~/.ssh\""},
        {Op::write, "/home/u/.bashrc", A, "implicit: empty writable home", "thrown away"},
        {Op::read, "/home/u/.config/pip/pip.conf", A, "filesystem.read \"~/.config/pip\""},
        {Op::write, "/home/u/.config/pip/pip.conf", D, "~/.config/pip", "read-only"},
        {Op::read, "/home/u/.config/pip/secret.conf", D, "filesystem.deny"},
        {Op::read, "/home/other/x", D, "default deny"},
        {Op::read, "/root", D, "default deny"},
        {Op::read, "/", D, "default deny"},
        {Op::read, "usr/bin", D, "path check", "not an absolute path"},
        {Op::write, "/p/src/main.c", A, "filesystem.write \"@project\"", "staged"},
        {Op::read, "/p/.env", D, "filesystem.deny \"@project/.env*\""},
        {Op::read, "/p/.env.local/x", D, "filesystem.deny \"@project/.env*\""},  // glob ancestor
        {Op::read, "/p/src/.env", A, "filesystem.write \"@project\""},  // '*' stops at '/'
        {Op::write, "/p/node_modules/x", A, "filesystem.tmpfs", "thrown away"},
        {Op::write, "/tmp/x", A, "filesystem.tmpfs \"/tmp\""},
        {Op::read, "/proc/self/status", A, "implicit: fresh /proc"},
        {Op::write, "/dev/null", A, "implicit: minimal /dev"},
        {Op::read, "/dev", A, "implicit: minimal /dev"},
        {Op::read, "/dev/sda", D, "default deny"},
        {Op::exec, "/usr/bin/ls", A, "filesystem.read \"/usr\""},  // no allowlist: as read
        {Op::exec, "/home/u/.ssh/x", D, "filesystem.deny"},
    };
    auto p = table_profile();
    for (const auto& r : rows) check(p, r);
}

TEST_CASE("decide: exec allowlist") {
    const Row rows[] = {
        {Op::exec, "/usr/bin/python3", A, "filesystem.exec \"/usr/bin\""},
        {Op::exec, "/usr/lib/x.so", D, "filesystem.exec", "not under any"},
        {Op::exec, "/usr/bin2/x", D, "filesystem.exec"},
        {Op::exec, "/p/bin/tool", A, "filesystem.exec \"@project/bin\""},
        {Op::exec, "/usr/bin/secret", D, "filesystem.deny"},  // listed but not readable
        {Op::exec, "/opt/x", D, "default deny"},
        {Op::read, "/usr/lib/x.so", A, "filesystem.read \"/usr\""},
    };
    auto p = exec_profile();
    for (const auto& r : rows) check(p, r);
}

TEST_CASE("decide: connect through the proxy's host rules") {
    const Row rows[] = {
        {Op::connect, "api.github.com", A, "network.allow \"api.github.com\""},
        {Op::connect, "api.github.com:443", A, "network.allow \"api.github.com\""},
        {Op::connect, "api.github.com:80", A, "network.allow \"api.github.com\""},
        {Op::connect, "api.github.com:22", D, "network.unlisted \"deny\""},
        {Op::connect, "API.GITHUB.COM.", A, "network.allow \"api.github.com\""},
        {Op::connect, "api.github.com..", D, "connect target", "empty label"},
        {Op::connect, "api.github.com.evil.com", D, "network.unlisted"},
        {Op::connect, "evilgithub.com", D, "network.unlisted"},
        {Op::connect, "githubusercontent.com", D, "network.unlisted"},  // wildcard: not apex
        {Op::connect, "raw.githubusercontent.com", A, "\"*.githubusercontent.com\""},
        {Op::connect, "a.b.githubusercontent.com", A, "\"*.githubusercontent.com\""},
        {Op::connect, "xgithubusercontent.com", D, "network.unlisted"},
        {Op::connect, "pypi.org:8443", A, "network.allow \"pypi.org:8443\""},
        {Op::connect, "pypi.org", D, "network.unlisted"},  // exact port rule: not 443
        {Op::connect, "exact.example.org", A, "network.allow \"exact.example.org\""},
        {Op::connect, "x.example.org", D, "network.deny \"*.example.org\""},
        {Op::connect, "y.ok.example.org", A, "network.allow \"*.ok.example.org\""},
        {Op::connect, "tie.example.net", D, "network.deny \"tie.example.net\""},
        {Op::connect, "internal.example.org:9999", A, "\"internal.example.org:*\""},
        {Op::connect, "10.0.0.5", A, "network.allow \"10.0.0.5\""},
        {Op::connect, "10.0.0.6", D, "network.allow_private", "private"},
        {Op::connect, "127.0.0.1:8080", D, "network.allow_private", "loopback"},
        {Op::connect, "169.254.169.254:80", D, "network.allow_private", "metadata"},
        {Op::connect, "100.64.1.1", D, "network.allow_private", "carrier-grade"},
        {Op::connect, "8.8.8.8", D, "network.unlisted"},
        {Op::connect, "0x7f.1", D, "connect target", "ambiguous"},
        {Op::connect, "2130706433", D, "connect target", "ambiguous"},
        {Op::connect, "127.1", D, "connect target", "ambiguous"},
        {Op::connect, "010.0.0.5", D, "connect target", "ambiguous"},
        {Op::connect, "[fd00::1]:443", A, "network.allow \"[fd00::1]\""},
        {Op::connect, "[FD00:0:0::1]", A, "network.allow \"[fd00::1]\""},
        {Op::connect, "[::1]:443", D, "network.allow_private", "loopback"},
        {Op::connect, "[::ffff:127.0.0.1]", D, "network.allow_private", "IPv4-mapped"},
        {Op::connect, "user@api.github.com", D, "connect target", "'@'"},
        {Op::connect, "b\xc3\xbc" "cher.de", D, "connect target", "non-ASCII"},
        {Op::connect, "api.github.com:0", D, "connect target", "invalid port"},
        {Op::connect, "api.github.com:65536", D, "connect target", "invalid port"},
    };
    auto p = table_profile();
    for (const auto& r : rows) check(p, r);
}

TEST_CASE("decide: connect by network mode and unlisted") {
    profile::Profile p;
    Decision d = decide(p, Request{Op::connect, "example.com"}, kProject);
    CHECK(d.verdict == Verdict::deny);  // unset mode: none
    CHECK(d.rule == "network.mode \"none\"");
    CHECK(d.source.file == "<default>");

    p.network.mode = S(profile::NetMode::host, 3);
    d = decide(p, Request{Op::connect, "10.0.0.1"}, kProject);
    CHECK(d.verdict == Verdict::allow);
    CHECK(d.reason.find("warning") != std::string::npos);
    CHECK(d.source.str() == "test.toml:3:1");

    p.network.mode = S(profile::NetMode::proxy, 3);
    p.network.unlisted = S(profile::Unlisted::ask, 4);
    d = decide(p, Request{Op::connect, "example.com"}, kProject);
    CHECK(d.verdict == Verdict::ask);
    CHECK(d.source.str() == "test.toml:4:1");
    // A private literal is denied outright, never asked about.
    CHECK(decide(p, Request{Op::connect, "192.168.1.1"}, kProject).verdict == Verdict::deny);
    p.network.allow_private = S(true, 5);
    CHECK(decide(p, Request{Op::connect, "192.168.1.1"}, kProject).verdict == Verdict::ask);
}

TEST_CASE("decide: connect to a unix socket path needs a write path naming the socket") {
    auto p = table_profile();
    p.filesystem.write.push_back(E("/run/user/1/docker.sock", 90));
    p.filesystem.read.push_back(E("/run/user/1/agent.sock", 91));
    p.filesystem.write.push_back(E("/p/dev.sock", 92));
    const Row rows[] = {
        {Op::connect, "/run/user/1/docker.sock", A, "/run/user/1/docker.sock", "names this socket"},
        {Op::connect, "/run/user/1/agent.sock", D, "/run/user/1/agent.sock", "read-only"},
        // A grant of a directory does not extend to the sockets in it.
        {Op::connect, "/data/x.sock", D, "/data", "does not extend"},
        {Op::connect, "/srv/rw/ro/y.sock", D, "/srv/rw/ro", "read-only"},
        {Op::connect, "/home/u/.ssh/agent.sock", D, "~/.ssh"},
        {Op::connect, "/nowhere/z.sock", D, "default deny"},
        // In the staged project the command sees the overlay's inode, not the host's socket.
        {Op::connect, "/p/dev.sock", D, "/p/dev.sock", "staged project"},
    };
    for (const auto& r : rows) check(p, r);
}

TEST_CASE("decide: commit") {
    const Row rows[] = {
        {Op::commit, "src/main.c", A, "commit"},
        {Op::commit, "/p/src/x", A, "commit"},
        {Op::commit, "../outside", D, "outside the project"},
        {Op::commit, "src/../../etc/passwd", D, "outside the project"},
        {Op::commit, "/etc/passwd", D, "outside the project"},
        {Op::commit, "/p2/x", D, "outside the project"},
        {Op::commit, "", D, "outside the project"},
        {Op::commit, ".git/hooks/pre-commit", Q, "commit.protect \".git/hooks/**\""},
        {Op::commit, "./.git/hooks/pre-commit", Q, "commit.protect \".git/hooks/**\""},
        {Op::commit, ".git/config", Q, "commit.protect \".git/config\""},
        {Op::commit, ".git", Q, "commit.protect"},  // replacing the directory above them
        {Op::commit, ".github/workflows/ci.yml", Q, "\".github/workflows/**\""},
        {Op::commit, ".githubx/workflows/ci.yml", A, "commit"},
        // A relative pattern applies at the root of every repository: a nested repository's
        // config is read by git as surely as the top one's ...
        {Op::commit, "docs/.git/config", Q, "commit.protect \".git/config\""},
        {Op::commit, "a/.git", Q, "commit.protect"},  // replacing a nested repository
        {Op::commit, "a/x.git/config", A, "commit"},
        // ... but not in any directory: a package's .vscode in node_modules is not an editor's.
        {Op::commit, "a/b/.vscode/tasks.json", A, "commit"},
        {Op::commit, "src/.envrc", A, "commit"},
        {Op::commit, ".vscode/tasks.json", Q, "\".vscode/**\""},
        // A case variant is the same file on a case-insensitive project (macOS, Windows).
        {Op::commit, ".VSCode/tasks.json", Q, "\".vscode/**\""},
        {Op::commit, ".GitHub/Workflows/ci.yml", Q, "\".github/workflows/**\""},
        {Op::commit, ".env.local", D, "filesystem.deny \"@project/.env*\""},
        {Op::commit, ".envrc", D, "filesystem.deny"},  // deny beats protect
        {Op::commit, ".", Q, "commit.protect"},         // the whole project
    };
    auto p = table_profile();
    for (const auto& r : rows) check(p, r);
}

TEST_CASE("decide: inside a git directory at any depth, only what git writes in ordinary work") {
    profile::Profile p;  // no protect patterns: the allowlist is built in
    const Row rows[] = {
        {Op::commit, ".git/objects/ab/cdef0123456789", A, "commit"},
        {Op::commit, ".git/objects/pack/pack-1.pack", A, "commit"},
        {Op::commit, ".git/objects/info/packs", A, "commit"},
        {Op::commit, ".git/objects/pack/pack-1.idx", A, "commit"},
        {Op::commit, ".git/objects/pack/pack-1.rev", A, "commit"},
        {Op::commit, ".git/objects/pack/pack-1.keep", A, "commit"},
        {Op::commit, ".git/refs/heads/main", A, "commit"},
        {Op::commit, ".git/logs/HEAD", A, "commit"},
        {Op::commit, ".git/index", A, "commit"},
        {Op::commit, ".git/HEAD", A, "commit"},
        {Op::commit, ".git/ORIG_HEAD", A, "commit"},
        {Op::commit, ".git/packed-refs", A, "commit"},
        {Op::commit, ".git/COMMIT_EDITMSG", A, "commit"},
        {Op::commit, "vendor/lib/.git/refs/tags/v1", A, "commit"},
        {Op::commit, ".gitignore", A, "commit"},
        {Op::commit, ".github/x", A, "commit"},
        {Op::commit, "not.git/config", A, "commit"},
        // Everything else git reads there needs approval, at every depth.
        {Op::commit, ".git/config", Q, "git directory"},
        {Op::commit, ".git/commondir", Q, "git directory"},
        {Op::commit, ".git/hooks/pre-commit", Q, "git directory"},
        {Op::commit, ".git/info/attributes", Q, "git directory"},
        {Op::commit, ".git/objects/info/alternates", Q, "git directory"},
        // What git reads in place of objects, unchecked: a commit's tree and parents, where
        // an object lies across packs, what reaches what.
        {Op::commit, ".git/objects/info/commit-graph", Q, "git directory"},
        {Op::commit, ".git/objects/info/commit-graphs/graph-1.graph", Q, "git directory"},
        {Op::commit, ".git/objects/pack/multi-pack-index", Q, "git directory"},
        {Op::commit, ".git/objects/pack/pack-1.bitmap", Q, "git directory"},
        {Op::commit, ".git/objects/pack/tmp_pack_1", Q, "git directory"},
        {Op::commit, ".git/objects/ab/cd/ef", Q, "git directory"},
        {Op::commit, ".git/worktrees/w/HEAD", Q, "git directory"},
        {Op::commit, ".git/modules/sub/config", Q, "git directory"},
        {Op::commit, ".git/modules/sub/hooks/post-checkout", Q, "git directory"},
        {Op::commit, ".git/rebase-merge/git-rebase-todo", Q, "git directory"},
        // A replace ref changes what every other ref's commit holds.
        {Op::commit, ".git/refs/replace/0123456789abcdef0123456789abcdef01234567", Q, "git directory"},
        {Op::commit, "sub/.git/refs/replace", Q, "git directory"},
        // Case variants: one name on a case-insensitive project (macOS, Windows).
        {Op::commit, ".GIT/hooks/pre-commit", Q, "git directory"},
        {Op::commit, "sub/.Git/config", Q, "git directory"},
        {Op::commit, ".git/refs/REPLACE/0123456789abcdef0123456789abcdef01234567", Q, "git directory"},
        {Op::commit, ".GIT/HEAD", A, "commit"},
        {Op::commit, ".git/some-file-git-reads-next-year", Q, "git directory"},
        {Op::commit, "sub/.git/hooks/post-checkout", Q, "git directory"},
        {Op::commit, "a/b/.git/config", Q, "git directory"},
        {Op::commit, "sub/.git", Q, "git directory"},  // a .git file redirects git wholesale
    };
    for (const auto& r : rows) check(p, r);

    // A directory a .git file or commondir names is a git directory too.
    CommitFacts f;
    f.git_dirs = {"elsewhere/gd"};
    CHECK(decide_commit(p, kProject, "elsewhere/gd/config", f).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "elsewhere/gd/hooks/pre-push", f).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "elsewhere/gd/refs/heads/x", f).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, "elsewhere/other", f).verdict == Verdict::allow);
    // Git writes no symlinks in its directory.
    CommitFacts link;
    link.symlink = true;
    CHECK(decide_commit(p, kProject, ".git/objects/info", link).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "src/link", link).verdict == Verdict::allow);
    // A stored object or pack is written once: a new one goes, a rewritten one asks, in any
    // repository; anything else git rewrites (the index, refs) still goes.
    CommitFacts rewrite;
    rewrite.rewrite = true;
    CHECK(decide_commit(p, kProject, ".git/objects/ab/cdef01", CommitFacts{}).verdict ==
          Verdict::allow);
    CHECK(decide_commit(p, kProject, ".git/objects/ab/cdef01", rewrite).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "sub/.git/objects/pack/p.pack", rewrite).verdict ==
          Verdict::ask);
    CHECK(decide_commit(p, kProject, ".git/index", rewrite).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, ".git/refs/heads/main", rewrite).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, ".git/objects/info/packs", rewrite).verdict ==
          Verdict::allow);
}

TEST_CASE("decide: protect patterns at repository roots, and at every depth with **/") {
    profile::Profile p;
    p.commit.protect = {E(".vscode/**", 1), E("**/.envrc", 2), E("**/.claude/**", 3),
                        E("/p/only/here", 4)};
    CommitFacts f;
    f.repo_roots = {"sub", "a/b"};
    CHECK(decide_commit(p, kProject, "sub/.vscode/tasks.json", f).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "a/b/.vscode/x", f).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "a/.vscode/x", f).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, "subx/.vscode/x", f).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, "sub/.vscode", f).verdict == Verdict::ask);  // replaced
    CHECK(decide_commit(p, kProject, "x/y/.envrc", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, ".envrc", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "x/.envrc.bak", {}).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, "pkg/.claude/commands/x.md", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "pkg/.claude", {}).verdict == Verdict::ask);  // deleted
    CHECK(decide_commit(p, kProject, "only/here", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "x/only/here", {}).verdict == Verdict::allow);
}

TEST_CASE("decide: a glob without ** covers the one ancestor with as many components") {
    profile::Profile p;
    p.commit.protect = {E("a/*/c", 1), E("**/x/*.pem", 2)};
    CHECK(decide_commit(p, kProject, "a/b/c", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "a/b/c/d/e", {}).verdict == Verdict::ask);  // below it
    CHECK(decide_commit(p, kProject, "a", {}).verdict == Verdict::ask);  // above: replaced
    CHECK(decide_commit(p, kProject, "a/b/x/c", {}).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, "q/a/b/c", {}).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, "k/x/key.pem/inner", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "k/x/y/key.pem", {}).verdict == Verdict::allow);
    profile::Profile star;
    star.commit.protect = {E("*", 1)};
    CHECK(decide_commit(star, kProject, "top", {}).verdict == Verdict::ask);
    CHECK(decide_commit(star, kProject, "top/below", {}).verdict == Verdict::ask);
}

TEST_CASE("decide: a **/ pattern on a path thousands of levels deep costs a match a level") {
    // Every ancestor of every suffix was matched, each a copy: O(depth^3) a path, minutes
    // for a review of a tree a command made 1,000 levels deep.
    profile::Profile p;
    p.commit.protect = {E("**/.envrc", 1), E("**/.claude/**", 2)};
    std::string deep;
    for (int i = 0; i < 4000; ++i) deep += "d/";
    const std::clock_t t0 = std::clock();
    CHECK(decide_commit(p, kProject, deep + ".envrc", {}).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, deep + "e", {}).verdict == Verdict::allow);
    CHECK(decide_commit(p, kProject, deep + ".claude/x", {}).verdict == Verdict::ask);
    // CPU time, which the machine's load does not move: ~8 s before, a few ms now; the bound
    // only tells the two apart.
    CHECK(static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

TEST_CASE("decide: a path is protected when any name the project reaches it by is") {
    auto p = table_profile();
    CommitFacts f;
    f.aliases = {".vscode/tasks.json"};
    const Decision d = decide_commit(p, kProject, "decoy/tasks.json", f);
    CHECK(d.verdict == Verdict::ask);
    CHECK(d.reason.find("reached as \".vscode/tasks.json\"") != std::string::npos);
    CHECK(decide_commit(p, kProject, "decoy/tasks.json", CommitFacts{}).verdict == Verdict::allow);
    // An alias cannot make a path less protected, nor name one outside the project.
    f.aliases = {"plain/file", "../outside"};
    CHECK(decide_commit(p, kProject, ".git/config", f).verdict == Verdict::ask);
    CHECK(decide_commit(p, kProject, "src/x", f).verdict == Verdict::allow);
}

TEST_CASE("decide: environment variables") {
    const Row rows[] = {
        {Op::env, "PATH", A, "env.pass \"PATH\""},
        {Op::env, "LC_ALL", A, "env.pass \"LC_*\""},
        // An exact pass beats a deny pattern ...
        {Op::env, "ANTHROPIC_API_KEY", A, "env.pass \"ANTHROPIC_API_KEY\""},
        {Op::env, "OPENAI_API_KEY", D, "env.deny \"*_KEY\""},
        // ... but not an exact deny.
        {Op::env, "GITHUB_TOKEN", D, "env.deny \"GITHUB_TOKEN\""},
        // A deny pattern beats a pass pattern.
        {Op::env, "GH_TOKEN", D, "env.deny \"*_TOKEN\""},
        {Op::env, "GH_HOST", A, "env.pass \"GH_*\""},
        {Op::env, "AWS_SECRET_ACCESS_KEY", D, "env.deny"},
        {Op::env, "MY_SECRET_THING", D, "env.deny \"*SECRET*\""},
        {Op::env, "AWS_REGION", A, "env.set \"AWS_REGION\""},  // set by the profile itself
        {Op::env, "FOO", A, "env.set \"FOO\""},
        {Op::env, "EDITOR", D, "default deny"},
        {Op::env, "path", D, "default deny"},  // names are case-sensitive
    };
    auto p = table_profile();
    for (const auto& r : rows) check(p, r);
}

TEST_CASE("decide: without a home, no implicit home rule") {
    auto p = table_profile();
    Decision d = decide(p, Request{Op::write, "/home/u/.bashrc"}, kProject);
    CHECK(d.verdict == Verdict::deny);
    CHECK(d.rule == "default deny");
}

TEST_CASE("decide: a home named by a rule gets no implicit tmpfs") {
    profile::Profile p;
    p.filesystem.read = {E("/home/u", 1, "~")};
    Decision d = decide(p, Request{Op::write, "/home/u/.bashrc"}, kProject, kHome);
    CHECK(d.verdict == Verdict::deny);
    CHECK(d.rule == "filesystem.read \"~\"");
}

TEST_CASE("decide: a relative filesystem entry is an error, not silently dropped") {
    profile::Profile p;
    p.filesystem.deny = {E("relative/secret", 7)};
    CHECK_THROWS_AS(decide(p, Request{Op::read, "/x"}, kProject), std::invalid_argument);
}

}  // namespace
}  // namespace agentbox::policy
