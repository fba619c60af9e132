// probe_host() on this machine (Debian 12, kernel 6.18: everything is available), its
// filesystem queries on a scratch tree, and doctor()'s report for good and bad hosts.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sandbox/linux/hardening.hpp"
#include "util/strings.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;
using namespace agentbox::sandbox::lnx;

namespace {

struct TempTree {
    agentbox::test::TempDir tmp{"probe"};
    std::string root = tmp.path();
    TempTree() {
        for (const char* d : {"/sub", "/sub/deep"}) REQUIRE(mkdir((root + d).c_str(), 0700) == 0);
        for (const char* f : {"/.env", "/.env.local", "/a.txt", "/sub/deep/.env"})
            std::ofstream(root + f) << "x";
        REQUIRE(symlink("a.txt", (root + "/link").c_str()) == 0);
        REQUIRE(symlink(".", (root + "/sub/loop").c_str()) == 0);  // must not hang a walk
        REQUIRE(mkfifo((root + "/fifo").c_str(), 0600) == 0);
    }
};

const Feature* find(const std::vector<Feature>& fs, const std::string& name) {
    for (const auto& f : fs)
        if (f.name == name) return &f;
    return nullptr;
}

}  // namespace

TEST_CASE("probe_host finds what this kernel offers, quickly") {
    const auto t0 = std::chrono::steady_clock::now();
    const auto facts = probe_host();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("probe_host took " << ms << " ms");

    struct utsname u {};
    REQUIRE(uname(&u) == 0);
    CHECK(facts.kernel == u.release);
    CHECK(facts.uid == getuid());
    CHECK(facts.gid == getgid());
    CHECK(facts.userns);
    CHECK(facts.overlay_userxattr);
    CHECK(facts.seccomp);
    CHECK(facts.seccomp_user_notif);
    CHECK(facts.landlock_abi >= 1);
    if (geteuid() == 0) {
        CHECK(facts.cgroup1_memory);
        CHECK(facts.cgroup1_pids);
        CHECK(facts.cgroup1_root == "/sys/fs/cgroup");
    }
    // On this hybrid host the v2 hierarchy has no memory controller: not usable for limits.
    std::ifstream ctl("/sys/fs/cgroup/unified/cgroup.controllers");
    std::string controllers;
    std::getline(ctl, controllers);
    if (ctl && controllers.find("memory") == std::string::npos)
        CHECK(facts.cgroup2_delegated.empty());
    CHECK(facts.kind);
    CHECK(facts.realpath);
    CHECK(facts.readlink);
    CHECK(facts.glob);
}

TEST_CASE("probe_host's filesystem queries") {
    TempTree t;
    const auto facts = probe_host();
    using K = policy::PathKind;
    CHECK(facts.kind(t.root) == K::dir);
    CHECK(facts.kind(t.root + "/a.txt") == K::file);
    CHECK(facts.kind(t.root + "/link") == K::symlink);  // the last symlink is not followed
    CHECK(facts.kind(t.root + "/fifo") == K::other);
    CHECK(facts.kind(t.root + "/missing") == K::missing);
    CHECK(facts.kind(t.root + "/a.txt/below") == K::missing);

    CHECK(facts.readlink(t.root + "/link") == "a.txt");
    CHECK(facts.readlink(t.root + "/a.txt").empty());
    CHECK(facts.realpath(t.root + "/sub/loop/../link") == facts.realpath(t.root) + "/a.txt");
    CHECK(facts.realpath(t.root + "/missing").empty());

    SUBCASE("realpath answers as realpath(3) does, through links, .. and failures") {
        // Linux's asks the kernel through /proc/self/fd; every answer must be libc's.
        REQUIRE(symlink("sub/deep", (t.root + "/dirlink").c_str()) == 0);
        REQUIRE(symlink("missing", (t.root + "/dangling").c_str()) == 0);
        for (const char* tail : {"", "/a.txt", "/link", "/dirlink/.env", "/dirlink/../deep",
                                 "/sub/loop/loop/deep/", "/a.txt/", "/a.txt/below", "/dangling",
                                 "/missing/x", "/fifo", "//sub///deep"}) {
            const std::string path = t.root + tail;
            CAPTURE(path);
            char* want = ::realpath(path.c_str(), nullptr);
            CHECK(facts.realpath(path) == (want ? std::string(want) : std::string()));
            std::free(want);
        }
    }
    SUBCASE("a glob matches dotfiles, sorted, never . or ..") {
        CHECK(facts.glob(t.root + "/.env*") ==
              std::vector<std::string>{t.root + "/.env", t.root + "/.env.local"});
        const auto all = facts.glob(t.root + "/*");
        CHECK(std::is_sorted(all.begin(), all.end()));
        CHECK(std::find(all.begin(), all.end(), t.root + "/.env") != all.end());
        CHECK(std::find(all.begin(), all.end(), t.root + "/.") == all.end());
        CHECK(std::find(all.begin(), all.end(), t.root + "/..") == all.end());
        CHECK(facts.glob(t.root + "/nothing-*").empty());
    }
    SUBCASE("** spans directories without following symlinks") {
        CHECK(facts.glob(t.root + "/**/.env") ==
              std::vector<std::string>{t.root + "/.env", t.root + "/sub/deep/.env"});
    }
    SUBCASE("a walked pattern finds exactly the paths util::glob_match accepts") {
        // The walk matches BASE/**/NAME patterns by name only; every shape must still agree
        // with the matcher over the whole tree (symlinks listed, not followed).
        for (const char* d : {"/sub/.env.d", "/sub/deep/x", "/sub/deep/x/.env"})
            REQUIRE(mkdir((t.root + d).c_str(), 0700) == 0);
        std::ofstream(t.root + "/sub/.env.d/.env") << "x";
        std::vector<std::string> tree;
        namespace fs = std::filesystem;
        for (const auto& e : fs::recursive_directory_iterator(t.root)) tree.push_back(e.path());
        for (const char* tail : {"/**/.env", "/**/.env*", "/**/*", "/**/deep/*", "/**/x/.env",
                                 "/sub/**", "/**/.env.*", "/**/**"}) {
            const std::string pattern = t.root + tail;
            CAPTURE(pattern);
            std::vector<std::string> want;
            for (const auto& p : tree)
                if (agentbox::util::glob_match(pattern, p)) want.push_back(p);
            std::sort(want.begin(), want.end());
            CHECK(facts.glob(pattern) == want);
        }
    }
    SUBCASE("glob_all answers each pattern as glob does, patterns under one directory or not") {
        REQUIRE(facts.glob_all);
        const std::vector<std::string> patterns{t.root + "/**/.env", t.root + "/.env*",
                                                t.root + "/**/.env.*", t.root + "/sub/**"};
        const auto all = facts.glob_all(patterns);
        REQUIRE(all.size() == patterns.size());
        for (std::size_t i = 0; i < patterns.size(); ++i) {
            CAPTURE(patterns[i]);
            CHECK(all[i] == facts.glob(patterns[i]));
        }
        CHECK(all[0] == std::vector<std::string>{t.root + "/.env", t.root + "/sub/deep/.env"});
        CHECK(all[2] == std::vector<std::string>{t.root + "/.env.local"});
    }
}

TEST_CASE("doctor reports every feature, and the fix for what is missing") {
    policy::HostFacts good;
    good.userns = good.overlay_userxattr = good.seccomp = good.seccomp_user_notif = true;
    good.landlock_abi = 7;
    good.cgroup2_delegated = "/sys/fs/cgroup/user.slice/x";
    good.cgroup1_memory = good.cgroup1_pids = true;
    const auto ok = doctor(good);
    for (const char* name : {"user namespaces", "overlayfs in a user namespace", "seccomp filter",
                             "seccomp user notification", "Landlock", "cgroup v2 delegation",
                             "cgroup v1 memory/pids (as root)", "bubblewrap", "network proxy"}) {
        CAPTURE(name);
        const Feature* f = find(ok, name);
        REQUIRE(f != nullptr);
        if (std::string(name) != "bubblewrap") {
            CHECK(f->ok);
            CHECK(f->fix.empty());
        }
        CHECK(!f->detail.empty());
    }
    CHECK(find(ok, "user namespaces")->required);
    CHECK(!find(ok, "Landlock")->required);
    CHECK(find(ok, "Landlock")->detail.find("ABI 7: filesystem access control") == 0);
    CHECK(find(ok, "network proxy")->detail.find("refused by Landlock") != std::string::npos);

    policy::HostFacts bad;
    bad.uid = 1000;
    bad.userns = bad.overlay_userxattr = bad.seccomp = bad.seccomp_user_notif = false;
    bad.landlock_abi = 0;
    const auto missing = doctor(bad);
    for (const auto& f : missing) {
        CAPTURE(f.name);
        if (f.name == "bubblewrap") continue;
        CHECK(!f.ok);
        CHECK(!f.fix.empty());
    }
    const std::string userns_fix = find(missing, "user namespaces")->fix;
    const bool names_a_fix = userns_fix.find("sysctl") != std::string::npos ||
                             userns_fix.find("CONFIG_USER_NS") != std::string::npos;
    CHECK(names_a_fix);
    CHECK(find(missing, "Landlock")->fix.find("lsm=") != std::string::npos);
    CHECK(find(missing, "Landlock")->fix.find("landlock") != std::string::npos);
    CHECK(find(missing, "cgroup v1 memory/pids (as root)")->fix.find("root") != std::string::npos);

    policy::HostFacts older = good;
    older.landlock_abi = 3;
    const std::string d = find(doctor(older), "Landlock")->detail;
    CHECK(d.find("truncate") != std::string::npos);
    CHECK(d.find("ABI 4 adds TCP bind and connect") != std::string::npos);
}

TEST_CASE("doctor runs the installed bubblewrap") {
    if (access("/usr/bin/bwrap", X_OK) != 0) {
        MESSAGE("no /usr/bin/bwrap here");
        return;
    }
    const auto features = doctor(policy::HostFacts{});
    const Feature* f = find(features, "bubblewrap");
    REQUIRE(f != nullptr);
    CHECK(f->ok);
    CAPTURE(f->detail);
    CHECK(f->detail.find("bubblewrap 0.") == 0);
}
