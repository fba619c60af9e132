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
