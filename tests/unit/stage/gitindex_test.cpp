// stage::git_index_hazard: an index whose entries `git checkout -- .` would write into a git
// directory or outside the work tree needs approval; one git writes in ordinary work does not.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "stage/gitindex.hpp"

using agentbox::stage::git_index_hazard;

namespace {

void put32(std::string& s, unsigned v) {
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(static_cast<char>((v >> sh) & 0xff));
}

void put16(std::string& s, unsigned v) {
    s.push_back(static_cast<char>((v >> 8) & 0xff));
    s.push_back(static_cast<char>(v & 0xff));
}

// An index of `version` with `names`, object hashes of `hash` bytes, each entry a file; a
// checksum of zeros (git does not check it when reading for checkout either way here).
std::string index(unsigned version, const std::vector<std::string>& names, std::size_t hash = 20) {
    std::string s = "DIRC";
    put32(s, version);
    put32(s, static_cast<unsigned>(names.size()));
    std::string previous;
    for (const auto& n : names) {
        const std::size_t start = s.size();
        s.append(24, '\0');  // ctime, mtime, dev, ino
        put32(s, 0100644);
        s.append(12, '\0');  // uid, gid, size
        s.append(hash, '\x11');
        put16(s, static_cast<unsigned>(n.size() < 0xfff ? n.size() : 0xfff));
        if (version == 4) {
            s.push_back(static_cast<char>(previous.size()));  // strip all of it (< 128)
            s += n;
            s.push_back('\0');
        } else {
            s += n;
            const std::size_t size = ((s.size() - start) + 8) & ~std::size_t{7};
            s.append(start + size - s.size(), '\0');
        }
        previous = n;
    }
    s.append(hash, '\0');
    return s;
}

}  // namespace

TEST_CASE("an index of ordinary work tree paths needs no approval, in every version") {
    const std::vector<std::string> names{"README", "src/a.c", ".github/x.yml", ".gitignore",
                                         "x.git/y", "a/.gitmodules"};
    for (unsigned v : {2u, 3u, 4u}) {
        CHECK_FALSE(git_index_hazard(index(v, names)).has_value());
        CHECK_FALSE(git_index_hazard(index(v, names, 32)).has_value());
    }
    CHECK_FALSE(git_index_hazard(index(2, {})).has_value());
}

TEST_CASE("an index entry inside a git directory needs approval") {
    for (const std::string bad : {".git/hooks/post-checkout", "sub/.git/config", ".GIT/hooks/x",
                                  ".git./hooks/x", "a/../../.bashrc", "../x"}) {
        CAPTURE(bad);
        for (unsigned v : {2u, 3u, 4u}) {
            CHECK(git_index_hazard(index(v, {"README", bad})).has_value());
            CHECK(git_index_hazard(index(v, {bad}, 32)).has_value());
        }
    }
}

// The cache-tree reader opened one directory per component: an empty one ("/x/y", "a//b",
// never written by git) opened nothing and the loop never ended, memory growing (found by
// fuzz_stage_index; tests/fuzz/repro/stage_index). The sandbox writes .git/index.
TEST_CASE("an entry with an empty path component needs approval, at once") {
    for (const std::string bad : {"/x/y", "a//b/c", "//x", "a/b//c/d"}) {
        CAPTURE(bad);
        for (unsigned v : {2u, 3u, 4u}) CHECK(git_index_hazard(index(v, {"README", bad})).has_value());
    }
}

TEST_CASE("a v4 entry is judged by its whole name, the prefix it shares included") {
    // "sub/.git/hooks/x" after "sub/.git/config": the second stores only "hooks/x" after a
    // strip of "config".
    std::string s = "DIRC";
    put32(s, 4);
    put32(s, 2);
    auto entry = [&](unsigned strip, const std::string& suffix, std::size_t len) {
        s.append(24, '\0');
        put32(s, 0100644);
        s.append(12, '\0');
        s.append(20, '\x11');
        put16(s, static_cast<unsigned>(len));
        s.push_back(static_cast<char>(strip));
        s += suffix;
        s.push_back('\0');
    };
    entry(0, "sub/.gitx", 9);
    entry(1, "/hooks", 14);  // "sub/.git" + "/hooks"
    s.append(20, '\0');
    const auto why = git_index_hazard(s);
    REQUIRE(why.has_value());
    CHECK(why->find("sub/.git/hooks") != std::string::npos);
}

TEST_CASE("an index git cannot read needs approval") {
    CHECK(git_index_hazard("").has_value());
    CHECK(git_index_hazard("DIRC").has_value());
    std::string v9 = index(2, {"a"});
    v9[7] = 9;
    CHECK(git_index_hazard(v9).has_value());
    std::string cut = index(2, {"README", "src/a.c"});
    cut.resize(40);
    CHECK(git_index_hazard(cut).has_value());
}

// git 2.39 with index.threads set loads the entries from the blocks of the index entry offset
// table (IEOT) that the end-of-index-entries extension (EOIE) leads it to, wherever they point
// (seen with `git -c index.threads=4 ls-files`): an entry hidden in an optional extension is
// one `git checkout -- .` writes.
TEST_CASE("an entry offset table that points git at other entries needs approval") {
    // An entry safe.txt in order, and .git/hooks/post-checkout inside an extension "Zhid".
    const std::string plain = index(2, {"safe.txt"});
    const std::string hidden_index = index(2, {".git/hooks/post-checkout"});
    const std::string hidden = hidden_index.substr(12, hidden_index.size() - 12 - 20);
    std::string s = plain.substr(0, plain.size() - 20);
    const std::size_t first_ext = s.size();
    s += "Zhid";
    put32(s, static_cast<unsigned>(hidden.size()));
    const std::size_t hidden_at = s.size();
    s += hidden;
    auto with_table = [&](std::size_t block_at) {
        std::string t = s;
        t += "IEOT";
        put32(t, 12);
        put32(t, 1);
        put32(t, static_cast<unsigned>(block_at));
        put32(t, 1);
        t += "EOIE";
        put32(t, 24);
        put32(t, static_cast<unsigned>(first_ext));
        t.append(20, '\0');  // the hash of the extension headers: not what is judged
        t.append(20, '\0');  // the checksum
        return t;
    };
    CHECK(git_index_hazard(with_table(hidden_at)).has_value());
    // A table that agrees with the entries is what git writes: no approval for it.
    CHECK_FALSE(git_index_hazard(with_table(12)).has_value());
}

// The cache tree (TREE): `git commit` takes a valid directory's recorded tree as it is. The
// unit cases are those whose answer needs no tree id; the integration suite checks indexes
// git writes (test_commit_rules.py, ..._with_cache_tree_commits_without_approval).
TEST_CASE("a cache tree recording a tree its entries do not make needs approval") {
    auto with_tree = [](const std::string& payload, std::size_t hash = 20) {
        std::string s = index(2, {"README", "lib/a.c"}, hash);
        s.resize(s.size() - hash);
        s += "TREE";
        put32(s, static_cast<unsigned>(payload.size()));
        s += payload;
        s.append(hash, '\0');
        return s;
    };
    // Invalid throughout (-1): git rebuilds it from the entries.
    CHECK_FALSE(git_index_hazard(with_tree(std::string("\0-1 1\nlib\0-1 0\n", 15))).has_value());
    // One git cannot read (cut short) it drops whole.
    CHECK_FALSE(git_index_hazard(with_tree(std::string("\0-1 1\nlib\0" "1 0\n", 14))).has_value());
    // A valid "lib" with an id its entry does not make; and one valid where the entries'
    // count differs.
    const std::string id(20, '\x22');
    auto why = git_index_hazard(with_tree(std::string("\0-1 1\nlib\0" "1 0\n", 14) + id));
    REQUIRE(why.has_value());
    CHECK(why->find("\"lib\"") != std::string::npos);
    CHECK(git_index_hazard(with_tree(std::string("\0-1 1\nlib\0" "7 0\n", 14) + id)).has_value());
    // A valid root under SHA-256 ids: not computed here, so asked about.
    const std::string id32(32, '\x22');
    CHECK(git_index_hazard(with_tree(std::string("\0" "2 0\n", 5) + id32, 32)).has_value());
}
