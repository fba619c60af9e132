// The deny-glob walk's cache (glob_walk.hpp): whatever happened to the tree, a walk with the
// cache answers exactly what a walk reading every directory answers, and reads only the
// directories that changed.
#include "sandbox/linux/glob_walk.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include "../temp_dir.hpp"

using namespace agentbox::sandbox::lnx;
namespace fs = std::filesystem;

namespace {

struct Tree {
    agentbox::test::TempDir tmp{"walk"};
    std::string base, root, cache;
    std::size_t dirs = 0;  // as made
    Tree() {
        base = tmp.path();
        root = base + "/p";
        cache = base + "/cache";
        for (const char* d : {"a", "b", "sub"})
            for (const char* e : {"", "/x", "/y", "/y/z"}) make_dir(std::string(d) + e);
        dirs = 13;
        for (const char* f : {"a/.env", "b/y/.env.local", "sub/x/x", "a/y/z/keep.txt"}) file(f);
    }
    void file(const std::string& rel) const { std::ofstream(root + "/" + rel) << "x"; }
    void make_dir(const std::string& rel) const { fs::create_directories(root + "/" + rel); }
    // One walk of the root for both.
    std::vector<std::string> patterns() const { return {root + "/**/.env", root + "/**/.env.*"}; }
    std::string cache_file() const {
        for (const auto& e : fs::directory_iterator(cache)) return e.path();
        FAIL("no cache file");
        return {};
    }
};

// What a walk that reads every directory answers: the oracle.
std::vector<std::vector<std::string>> read_all(const Tree& t) {
    return expand_globs(t.patterns());
}

std::int64_t ns_from_now(std::chrono::seconds s) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               (std::chrono::system_clock::now() + s).time_since_epoch())
        .count();
}

// Lets the file-time clock tick (every 4 ms at HZ=250) after a change, so that the next change
// gives its directory another ctime. Tests that say the walk starts 10 s from now turn off the
// two-second rule, which covers changes within one tick in real use (tested on its own).
void tick() {
    std::this_thread::sleep_for(std::chrono::milliseconds(12));
}

}  // namespace

TEST_CASE("a walk the cache vouches for reads no directory and answers the same") {
    Tree t;
    std::size_t reads = 0;
    const WalkCache c{t.cache, ns_from_now(std::chrono::seconds(10)), 1, &reads};
    const auto want = read_all(t);
    CHECK(want[0] == std::vector<std::string>{t.root + "/a/.env"});
    CHECK(expand_globs(t.patterns(), c) == want);
    CHECK(reads == t.dirs);
    reads = 0;
    CHECK(expand_globs(t.patterns(), c) == want);
    CHECK(reads == 0);

    tick();
    SUBCASE("a file added deep down: that directory alone is read") {
        t.file("a/y/z/.env");
        tick();
        reads = 0;
        const auto got = expand_globs(t.patterns(), c);
        CHECK(got == read_all(t));
        CHECK(std::count(got[0].begin(), got[0].end(), t.root + "/a/y/z/.env") == 1);
        CHECK(reads == 1);
    }
    SUBCASE("a directory renamed: found under its new name") {
        fs::rename(t.root + "/b/y", t.root + "/a/moved");
        tick();
        const auto got = expand_globs(t.patterns(), c);
        CHECK(got == read_all(t));
        CHECK(got[1] == std::vector<std::string>{t.root + "/a/moved/.env.local"});
    }
    SUBCASE("a file replaced by a directory holding a match") {
        fs::remove(t.root + "/a/y/z/keep.txt");
        t.make_dir("a/y/z/keep.txt");
        t.file("a/y/z/keep.txt/.env");
        tick();
        CHECK(expand_globs(t.patterns(), c) == read_all(t));
    }
    SUBCASE("a subtree removed") {
        fs::remove_all(t.root + "/a");
        tick();
        CHECK(expand_globs(t.patterns(), c) == read_all(t));
        reads = 0;
        CHECK(expand_globs(t.patterns(), c) == read_all(t));
        CHECK(reads == 0);
    }
}

TEST_CASE("random changes: the cached walk always answers as a reading one") {
    Tree t;
    const WalkCache c{t.cache, ns_from_now(std::chrono::seconds(10)), 1, nullptr};
    // Two walks: the root's, and sub's for a pattern that is not BASE/**/NAME.
    std::vector<std::string> patterns = t.patterns();
    patterns.push_back(t.root + "/sub/**/x");
    std::mt19937 rng(20261201);
    auto pick = [&rng](const std::vector<std::string>& v) {
        return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
    };
    const std::vector<std::string> names{".env", ".env.prod", "x", "y.txt", "node_modules", "z"};
    for (int step = 0; step < 60; ++step) {
        std::vector<std::string> dirs{t.root}, files;
        for (const auto& e : fs::recursive_directory_iterator(t.root)) {
            if (e.is_symlink()) continue;
            (e.is_directory() ? dirs : files).push_back(e.path());
        }
        const std::string where = pick(dirs) + "/" + pick(names);
        std::error_code ec;
        switch (rng() % 6) {
            case 0:
                std::ofstream(where) << "x";
                break;
            case 1:
                fs::create_directories(where, ec);
                break;
            case 2:
                if (!files.empty()) fs::remove(pick(files), ec);
                break;
            case 3:
                // A directory moved elsewhere (never into itself).
                if (dirs.size() > 1) {
                    const std::string from = pick(dirs);
                    if (from != t.root && !where.starts_with(from + "/"))
                        fs::rename(from, where, ec);
                }
                break;
            case 4:
                if (dirs.size() > 1) {
                    const std::string gone = pick(dirs);
                    if (gone != t.root) fs::remove_all(gone, ec);
                }
                break;
            case 5:
                fs::create_directory_symlink(pick(dirs), where, ec);
                break;
        }
        tick();
        CAPTURE(step);
        REQUIRE(expand_globs(patterns, c) == expand_globs(patterns));
    }
}

TEST_CASE("a directory changed within two seconds of the walk is read again") {
    Tree t;  // just made: every directory changed "now"
    std::size_t reads = 0;
    const WalkCache c{t.cache, 0, 1, &reads};
    CHECK(expand_globs(t.patterns(), c) == read_all(t));
    // Within the same tick of the file-time clock, perhaps: the ctime may not move.
    t.file("b/y/z/.env");
    reads = 0;
    const auto got = expand_globs(t.patterns(), c);
    CHECK(got == read_all(t));
    CHECK(std::count(got[0].begin(), got[0].end(), t.root + "/b/y/z/.env") == 1);
    CHECK(reads == t.dirs);
    CHECK((!fs::exists(t.cache) || fs::is_empty(t.cache)));
}

TEST_CASE("a cache file that is not the walk's own, whole and private is not used") {
    Tree t;
    std::size_t reads = 0;
    const WalkCache c{t.cache, ns_from_now(std::chrono::seconds(10)), 1, &reads};
    const auto want = expand_globs(t.patterns(), c);
    const std::string file = t.cache_file();
    auto rewrite = [&file](auto change) {
        std::ifstream in(file, std::ios::binary);
        std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        change(s);
        fs::remove(file);
        std::ofstream(file, std::ios::binary) << s;
        REQUIRE(chmod(file.c_str(), 0600) == 0);
    };
    SUBCASE("cut short") {
        rewrite([](std::string& s) { s.resize(s.size() / 2); });
    }
    SUBCASE("a name changed: the digest no longer agrees") {
        rewrite([](std::string& s) {
            const auto at = s.rfind("sub");
            REQUIRE(at != std::string::npos);
            s[at] = 'q';
        });
    }
    SUBCASE("writable by others") {
        REQUIRE(chmod(file.c_str(), 0622) == 0);
    }
    SUBCASE("a symlink to a good one") {
        fs::rename(file, file + ".real");
        fs::create_symlink(file + ".real", file);
    }
    reads = 0;
    CHECK(expand_globs(t.patterns(), c) == want);
    CHECK(reads == t.dirs);
}

TEST_CASE("another walk's cache file is not used") {
    Tree t;
    std::size_t reads = 0;
    const WalkCache c{t.cache, ns_from_now(std::chrono::seconds(10)), 1, &reads};
    expand_globs(t.patterns(), c);
    const std::string file = t.cache_file();
    // The same tree with another pattern: another file, whose name this one now takes.
    const std::vector<std::string> other{t.root + "/**/keep.txt"};
    expand_globs(other, c);
    for (const auto& e : fs::directory_iterator(t.cache))
        if (e.path() != file) fs::copy_file(file, e.path(), fs::copy_options::overwrite_existing);
    reads = 0;
    CHECK(expand_globs(other, c) == expand_globs(other));
    CHECK(reads == t.dirs);
}

TEST_CASE("a small walk leaves no cache file") {
    Tree t;
    const WalkCache c{t.cache, ns_from_now(std::chrono::seconds(10)), 64, nullptr};
    expand_globs(t.patterns(), c);
    CHECK(!fs::exists(t.cache));
}
