// The compiled-filter cache: hits skip libseccomp, entries are private and self-checking, and
// anything suspicious is recompiled rather than trusted.
#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL  // xxHash is header-only here, as in the seccomp module (CMakeLists.txt)
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>

#include "seccomp/rules.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;

namespace {

struct TempDir {
    agentbox::test::TempDir tmp{"seccomp-cache"};
    std::string path = tmp.path();
};

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') out.emplace_back(dir + "/" + e->d_name);
        closedir(d);
    }
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void spit(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

seccomp::RuleSet strict_set() {
    policy::SeccompPlan p;
    p.mode = profile::SeccompMode::strict;
    return seccomp::rules_for(p);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("a miss compiles and stores a private entry; a hit returns the same program") {
    TempDir tmp;
    const std::string dir = tmp.path + "/nested/cache";  // created on demand
    const auto rs = strict_set();

    auto t0 = std::chrono::steady_clock::now();
    const auto first = seccomp::compile_cached(rs, false, dir);
    const double miss_ms = ms_since(t0);
    CHECK(first == seccomp::compile(rs, false));

    const auto files = entries(dir);
    REQUIRE(files.size() == 1);
    struct stat st {};
    REQUIRE(stat(files[0].c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(files[0].find(seccomp::digest(rs)) != std::string::npos);
    CHECK(files[0].find(seccomp::libseccomp_version()) != std::string::npos);

    t0 = std::chrono::steady_clock::now();
    const auto second = seccomp::compile_cached(rs, false, dir);
    const double hit_ms = ms_since(t0);
    CHECK(second == first);
    MESSAGE("strict filter: compile (miss) " << miss_ms << " ms, cache hit " << hit_ms << " ms");

    // notify is part of the key.
    CHECK(seccomp::compile_cached(rs, true, dir) == seccomp::compile(rs, true));
    CHECK(entries(dir).size() == 2);
}

TEST_CASE("a hit does not recompile: the stored program is what comes back") {
    TempDir tmp;
    const auto rs = strict_set();
    const auto real = seccomp::compile_cached(rs, false, tmp.path);
    const auto file = entries(tmp.path).at(0);
    const std::string name = file.substr(file.rfind('/') + 1);
    const std::string key = name.substr(0, name.size() - std::string(".bpf").size());

    // Store a different, correctly framed program (the default set's) under this key.
    policy::SeccompPlan def;
    const auto other = seccomp::compile(seccomp::rules_for(def), false);
    REQUIRE(other != real);
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx",
                  static_cast<unsigned long long>(XXH3_64bits(other.data(), other.size())));
    spit(file, "agentbox-seccomp-bpf 1 " + key + " " + sum + "\n" +
                   std::string(other.begin(), other.end()));

    CHECK(seccomp::compile_cached(rs, false, tmp.path) == other);
}

TEST_CASE("corrupt, renamed, or loosely permitted entries are ignored and rewritten") {
    TempDir tmp;
    const auto rs = strict_set();
    const auto good = seccomp::compile_cached(rs, false, tmp.path);
    const auto file = entries(tmp.path).at(0);
    const std::string original = slurp(file);

    SUBCASE("a flipped payload byte fails the checksum") {
        std::string bad = original;
        bad[bad.size() - 3] = static_cast<char>(bad[bad.size() - 3] ^ 0x40);
        spit(file, bad);
    }
    SUBCASE("a truncated entry") {
        spit(file, original.substr(0, original.size() - 8));
    }
    SUBCASE("an entry of another key renamed into place") {
        policy::SeccompPlan def;
        TempDir other;
        seccomp::compile_cached(seccomp::rules_for(def), false, other.path);
        spit(file, slurp(entries(other.path).at(0)));
    }
    SUBCASE("an entry others may write") {
        REQUIRE(chmod(file.c_str(), 0666) == 0);
    }

    CHECK(seccomp::compile_cached(rs, false, tmp.path) == good);
    CHECK(slurp(file) == original);  // rewritten
    struct stat st {};
    REQUIRE(stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("an unusable cache directory still compiles") {
    const auto rs = strict_set();
    CHECK(seccomp::compile_cached(rs, false, "/proc/agentbox-no-such-dir") ==
          seccomp::compile(rs, false));
    CHECK(seccomp::compile_cached(rs, false, "") == seccomp::compile(rs, false));
}

// The cache by input (filter_cached): a hit must be the filter rules_for would have compiled,
// so its key covers everything rules_for and compile read.

namespace {

policy::SyscallRule sys_rule(const char* name) {
    policy::SyscallRule r;
    r.name = name;
    return r;
}

std::vector<std::string> plan_entries(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : entries(dir))
        if (e.find("/in-") != std::string::npos) out.push_back(e);
    return out;
}

}  // namespace

TEST_CASE("the input key changes with every input of the rule set and its program") {
    const std::string build = "build-a libseccomp 2.5.4 kernel 6.1";
    policy::SeccompPlan base;
    base.allow = {sys_rule("ptrace")};
    base.deny = {sys_rule("chmod")};
    const std::string k = seccomp::input_key(base, true, build);
    CHECK(k.size() == 32);
    CHECK(seccomp::input_key(base, true, build) == k);  // stable

    std::vector<std::pair<const char*, std::string>> variants;
    auto with = [&](const char* what, auto change, bool notify = true,
                    const std::string& b = "build-a libseccomp 2.5.4 kernel 6.1") {
        policy::SeccompPlan p = base;
        change(p);
        variants.emplace_back(what, seccomp::input_key(p, notify, b));
    };
    with("mode", [](auto& p) { p.mode = profile::SeccompMode::strict; });
    with("another allow", [](auto& p) { p.allow.push_back(sys_rule("bpf")); });
    with("no allow", [](auto& p) { p.allow.clear(); });
    with("another deny", [](auto& p) { p.deny.push_back(sys_rule("chown")); });
    with("allow moved to deny", [](auto& p) {
        p.deny.push_back(p.allow[0]);
        p.allow.clear();
    });
    with("names split differently", [](auto& p) {
        p.allow = {sys_rule("ptr"), sys_rule("ace")};
    });
    with("log_denials", [](auto& p) { p.log_denials = !p.log_denials; });
    with("observe_files", [](auto& p) { p.observe_files = !p.observe_files; });
    with("notify", [](auto&) {}, false);
    with("build id", [](auto&) {}, true, "build-b libseccomp 2.5.4 kernel 6.1");
    with("libseccomp", [](auto&) {}, true, "build-a libseccomp 2.5.5 kernel 6.1");
    with("kernel", [](auto&) {}, true, "build-a libseccomp 2.5.4 kernel 6.2");
    with("no build", [](auto&) {}, true, "");
    std::set<std::string> seen{k};
    for (const auto& [what, key] : variants) {
        INFO(what);
        CHECK(seen.insert(key).second);
    }
}

TEST_CASE("this build has facts for the key: a build id, libseccomp and the kernel") {
    const std::string& f = seccomp::build_facts();
    REQUIRE_FALSE(f.empty());
    CHECK(f.find(" libseccomp " + seccomp::libseccomp_version() + " kernel ") != std::string::npos);
    CHECK(f.find_first_not_of("0123456789abcdef") >= 16);  // a hex id first
}

TEST_CASE("filter_cached: a miss builds the rule set once, a hit builds nothing") {
    TempDir tmp;
    const std::string dir = tmp.path + "/c";
    policy::SeccompPlan plan;
    plan.mode = profile::SeccompMode::strict;
    plan.deny = {sys_rule("chmod")};
    const auto rs = seccomp::rules_for(plan);
    const auto want = seccomp::compile(rs, true);

    std::optional<seccomp::RuleSet> built;
    const auto miss = seccomp::filter_cached(plan, true, dir, "b1", &built);
    CHECK(built.has_value());
    CHECK(miss.bpf == want);
    CHECK(miss.digest == seccomp::digest(rs));
    CHECK(miss.rules == rs.rules.size());
    REQUIRE(plan_entries(dir).size() == 1);
    struct stat st {};
    REQUIRE(stat(plan_entries(dir)[0].c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    built.reset();
    const auto hit = seccomp::filter_cached(plan, true, dir, "b1", &built);
    CHECK_FALSE(built.has_value());  // neither rules_for nor libseccomp
    CHECK(hit.bpf == want);
    CHECK(hit.digest == miss.digest);
    CHECK(hit.rules == miss.rules);

    SUBCASE("another build, another entry") {
        const auto other = seccomp::filter_cached(plan, true, dir, "b2", &built);
        CHECK(built.has_value());
        CHECK(other.bpf == want);
        CHECK(plan_entries(dir).size() == 2);
    }
    SUBCASE("no build id: nothing is cached by input") {
        TempDir none;
        seccomp::filter_cached(plan, true, none.path, "", &built);
        seccomp::filter_cached(plan, true, none.path, "", &built);
        CHECK(built.has_value());
        CHECK(plan_entries(none.path).empty());
    }
    SUBCASE("no cache directory") {
        const auto f = seccomp::filter_cached(plan, true, "", "b1", &built);
        CHECK(built.has_value());
        CHECK(f.bpf == want);
    }
}

TEST_CASE("filter_cached: corrupt, renamed or loosely permitted entries are built again") {
    TempDir tmp;
    policy::SeccompPlan plan;
    plan.mode = profile::SeccompMode::strict;
    const auto good = seccomp::filter_cached(plan, false, tmp.path, "b1");
    const auto file = plan_entries(tmp.path).at(0);
    const std::string original = slurp(file);

    SUBCASE("a flipped payload byte fails the checksum") {
        std::string bad = original;
        bad[bad.size() - 3] = static_cast<char>(bad[bad.size() - 3] ^ 0x40);
        spit(file, bad);
    }
    SUBCASE("a truncated entry") {
        spit(file, original.substr(0, original.size() - 8));
    }
    SUBCASE("a rule count that is not a number") {
        std::string bad = original;
        const auto at = bad.find(' ' + good.digest + ' ') + good.digest.size() + 2;
        bad[at] = 'x';
        spit(file, bad);
    }
    SUBCASE("the entry of another plan renamed into place") {
        policy::SeccompPlan def;
        TempDir other;
        seccomp::filter_cached(def, false, other.path, "b1");
        spit(file, slurp(plan_entries(other.path).at(0)));
    }
    SUBCASE("an entry others may write") {
        REQUIRE(chmod(file.c_str(), 0666) == 0);
    }

    std::optional<seccomp::RuleSet> built;
    const auto again = seccomp::filter_cached(plan, false, tmp.path, "b1", &built);
    CHECK(built.has_value());
    CHECK(again.bpf == good.bpf);
    CHECK(again.digest == good.digest);
    CHECK(slurp(file) == original);  // rewritten
}
