#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/remove.hpp"
#include "sys/walk.hpp"
#include "../temp_dir.hpp"

namespace {

using agentbox::sys::SysError;
using agentbox::sys::unique_fd;
using agentbox::sys::WalkEntry;
using agentbox::sys::WalkOptions;
using agentbox::sys::WalkStep;

unique_fd open_dir(const std::string& p) {
    unique_fd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    REQUIRE(fd);
    return fd;
}

// Records what the walk met: "v path" on visit, "l path" on leave, "f op path errno" on fail.
struct Recorder : agentbox::sys::WalkVisitor {
    std::vector<std::string> log;
    std::string skip;  // a path not to go into
    std::string stop;  // a path to end the walk at
    WalkStep visit(const WalkEntry& e) override {
        log.push_back("v " + e.path + (S_ISDIR(e.st.st_mode)   ? "/"
                                       : S_ISLNK(e.st.st_mode) ? "@"
                                                               : ""));
        if (e.path == stop) return WalkStep::stop;
        return e.path == skip ? WalkStep::over : WalkStep::into;
    }
    void leave(const WalkEntry& e, int) override { log.push_back("l " + e.path); }
    void fail(const SysError& err) override {
        log.push_back("f " + err.op() + " " + err.path() + " " + std::to_string(err.err()));
    }
};

void mkdir_p(const std::string& p) { REQUIRE(::mkdir(p.c_str(), 0700) == 0); }

}  // namespace

TEST_CASE("walk_tree visits in pre-order, leaves in post-order, with paths below the root") {
    const agentbox::test::TempDir tmp("walk");
    const std::string& t = tmp.path();
    mkdir_p(t + "/a");
    mkdir_p(t + "/a/b");
    std::ofstream(t + "/a/b/f") << "x";
    std::ofstream(t + "/a/c") << "x";
    std::ofstream(t + "/z") << "x";
    const unique_fd fd = open_dir(t);
    Recorder r;
    agentbox::sys::walk_tree(fd.get(), "", r, {.sorted = true});
    CHECK(r.log == std::vector<std::string>{"v a/", "v a/b/", "v a/b/f", "l a/b", "v a/c",
                                            "l a", "v z"});

    SUBCASE("a root path prefixes every path") {
        Recorder p;
        agentbox::sys::walk_tree(fd.get(), "top", p, {.sorted = true});
        CHECK(p.log.front() == "v top/a/");
        CHECK(p.log.back() == "v top/z");
    }
    SUBCASE("over skips a subtree, and leaves it unleft") {
        Recorder s;
        s.skip = "a/b";
        agentbox::sys::walk_tree(fd.get(), "", s, {.sorted = true});
        CHECK(s.log == std::vector<std::string>{"v a/", "v a/b/", "v a/c", "l a", "v z"});
    }
    SUBCASE("stop ends the whole walk, with no leave") {
        Recorder s;
        s.stop = "a/b/f";
        agentbox::sys::walk_tree(fd.get(), "", s, {.sorted = true});
        CHECK(s.log == std::vector<std::string>{"v a/", "v a/b/", "v a/b/f"});
    }
    SUBCASE("without stat, the type comes from the directory entry") {
        Recorder s;
        agentbox::sys::walk_tree(fd.get(), "", s, {.sorted = true, .stat = false});
        CHECK(s.log == r.log);
    }
    // The root's descriptor is left as it was: open, and its offset untouched.
    CHECK(::fcntl(fd.get(), F_GETFD) >= 0);
    CHECK(::lseek(fd.get(), 0, SEEK_CUR) == 0);
}

TEST_CASE("walk_tree never follows a symlink to a directory") {
    const agentbox::test::TempDir tmp("walk");
    const agentbox::test::TempDir outside("walk-outside");
    std::ofstream(outside.path() + "/secret") << "x";
    REQUIRE(::symlink(outside.path().c_str(), (tmp.path() + "/link").c_str()) == 0);
    const unique_fd fd = open_dir(tmp.path());
    Recorder r;  // asks to go into everything
    agentbox::sys::walk_tree(fd.get(), "", r);
    CHECK(r.log == std::vector<std::string>{"v link@"});
}

namespace {

// Replaces directory `d` by a symlink to `outside` (or by another directory) when the walk
// has visited it and is about to open it.
struct Swapper : Recorder {
    std::string root, victim, outside;
    bool to_dir = false;
    WalkStep visit(const WalkEntry& e) override {
        const WalkStep s = Recorder::visit(e);
        if (e.path == victim) {
            const std::string p = root + "/" + victim;
            REQUIRE(::rename(p.c_str(), (p + ".old").c_str()) == 0);
            if (to_dir) {
                REQUIRE(::mkdir(p.c_str(), 0700) == 0);
                std::ofstream(p + "/new") << "x";
            } else {
                REQUIRE(::symlink(outside.c_str(), p.c_str()) == 0);
            }
        }
        return s;
    }
};

}  // namespace

TEST_CASE("walk_tree: a directory replaced during the walk") {
    const agentbox::test::TempDir tmp("walk");
    const agentbox::test::TempDir outside("walk-outside");
    std::ofstream(outside.path() + "/secret") << "x";
    mkdir_p(tmp.path() + "/d");
    std::ofstream(tmp.path() + "/d/old") << "x";
    const unique_fd fd = open_dir(tmp.path());
    Swapper s;
    s.root = tmp.path();
    s.victim = "d";
    s.outside = outside.path();

    SUBCASE("by a symlink: not followed, the open fails, the visitor is told") {
        agentbox::sys::walk_tree(fd.get(), "", s, {.sorted = true});
        REQUIRE(s.log.size() == 2);
        CHECK(s.log[0] == "v d/");
        // O_NOFOLLOW | O_DIRECTORY on a symlink: ENOTDIR (or ELOOP, as open(2) allows).
        CHECK((s.log[1] == "f open d " + std::to_string(ENOTDIR) ||
               s.log[1] == "f open d " + std::to_string(ELOOP)));
    }
    SUBCASE("by a symlink, with the default fail: the walk throws, reading nothing outside") {
        struct Thrower : Swapper {
            void fail(const SysError& err) override { WalkVisitor::fail(err); }
        } t;
        t.root = s.root;
        t.victim = s.victim;
        t.outside = s.outside;
        CHECK_THROWS_AS(agentbox::sys::walk_tree(fd.get(), "", t), SysError);
        CHECK(t.log == std::vector<std::string>{"v d/"});
    }
    SUBCASE("by another directory: the walk reads what is there when it opens it") {
        s.to_dir = true;
        agentbox::sys::walk_tree(fd.get(), "", s, {.sorted = true});
        // The root was listed before the swap: d.old is not in that listing.
        CHECK(s.log == std::vector<std::string>{"v d/", "v d/new", "l d"});
    }
}

TEST_CASE("walk_tree: an entry gone before its lstat is a stat failure, ENOENT") {
    const agentbox::test::TempDir tmp("walk");
    std::ofstream(tmp.path() + "/a") << "x";
    std::ofstream(tmp.path() + "/b") << "x";
    const unique_fd fd = open_dir(tmp.path());
    struct Remover : Recorder {
        std::string root;
        WalkStep visit(const WalkEntry& e) override {
            if (e.path == "a") ::unlink((root + "/b").c_str());
            return Recorder::visit(e);
        }
    } r;
    r.root = tmp.path();
    agentbox::sys::walk_tree(fd.get(), "", r, {.sorted = true});
    CHECK(r.log == std::vector<std::string>{"v a", "f stat b " + std::to_string(ENOENT)});
}

TEST_CASE("walk_tree is bounded: a level past max_depth fails with ELOOP and is not opened") {
    const agentbox::test::TempDir tmp("walk");
    mkdir_p(tmp.path() + "/1");
    mkdir_p(tmp.path() + "/1/2");
    mkdir_p(tmp.path() + "/1/2/3");
    const unique_fd fd = open_dir(tmp.path());
    Recorder r;
    agentbox::sys::walk_tree(fd.get(), "", r, {.max_depth = 1});
    CHECK(r.log == std::vector<std::string>{"v 1/", "v 1/2/", "f walk 1/2 " + std::to_string(ELOOP),
                                            "l 1"});
}

TEST_CASE("walk_tree: a directory it may not read is a failure the visitor may skip") {
    if (::geteuid() == 0) return;  // root reads it anyway
    const agentbox::test::TempDir tmp("walk");
    mkdir_p(tmp.path() + "/shut");
    REQUIRE(::chmod((tmp.path() + "/shut").c_str(), 0) == 0);
    const unique_fd fd = open_dir(tmp.path());
    Recorder r;
    agentbox::sys::walk_tree(fd.get(), "", r);
    REQUIRE(r.log.size() == 2);
    CHECK(r.log[1].starts_with("f open shut "));
}

namespace {

// A chain `levels` deep of directories named "d" below `root`, made through descriptors: its
// paths are far longer than PATH_MAX.
void make_chain(const std::string& root, int levels) {
    unique_fd at = open_dir(root);
    for (int i = 0; i < levels; ++i) {
        REQUIRE(::mkdirat(at.get(), "d", 0700) == 0);
        at.reset(::openat(at.get(), "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        REQUIRE(at);
    }
    std::ofstream(root + "/end-marker") << "x";  // a sibling of the chain, visited last
}

int open_fds() {
    int n = 0;
    for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) >= 0;
    return n;
}

// Counts visits and leaves, and the most descriptors open at any visit.
struct Counter : agentbox::sys::WalkVisitor {
    int visits = 0, leaves = 0, deepest = 0, most_fds = 0;
    WalkStep visit(const WalkEntry& e) override {
        ++visits;
        deepest = std::max(deepest, e.depth);
        if (e.depth % 500 == 499) most_fds = std::max(most_fds, open_fds());
        return WalkStep::into;
    }
    void leave(const WalkEntry&, int) override { ++leaves; }
};

}  // namespace

TEST_CASE("open_share keeps a deep walk's levels open where the descriptor limit has room, "
          "and max_open under a low limit") {
    const agentbox::test::TempDir tmp("walk", "/dev/shm");
    constexpr int kLevels = 100;
    make_chain(tmp.path(), kLevels);
    struct rlimit was {};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &was) == 0);
    // 1/4 of 1,024 (256 levels) holds all 100 open; 1/4 of 64, 16 (one more while entering).
    for (const rlim_t soft : {rlim_t{1024}, rlim_t{64}}) {
        if (soft > was.rlim_max) continue;
        struct rlimit now = was;
        now.rlim_cur = soft;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &now) == 0);
        const unique_fd fd = open_dir(tmp.path());
        const int before = open_fds();
        struct Deepest : agentbox::sys::WalkVisitor {
            int fds = 0;
            WalkStep visit(const WalkEntry& e) override {
                if (e.depth == kLevels - 1) fds = open_fds();
                return WalkStep::into;
            }
        } d;
        agentbox::sys::walk_tree(fd.get(), "", d, {.max_open = 8, .open_share = 4});
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &was) == 0);
        if (soft == 1024) CHECK(d.fds >= before + kLevels - 1);
        else CHECK(d.fds <= before + 64 / 4 + 1);
        CHECK(open_fds() == before);
    }
    agentbox::sys::remove_contents(tmp.path());
}

TEST_CASE("walk_tree goes 6000 levels deep on a bounded stack and max_open descriptors") {
    const agentbox::test::TempDir tmp("walk", "/dev/shm");  // 6000 mkdirs, not on a disk
    constexpr int kLevels = 6000;
    make_chain(tmp.path(), kLevels);
    const unique_fd fd = open_dir(tmp.path());
    const int before = open_fds();
    Counter c;
    // A frame per level of a recursive walk overflowed the stack here, and a descriptor per
    // level met EMFILE at ~1000.
    agentbox::sys::walk_tree(fd.get(), "", c,
                             {.max_depth = agentbox::sys::kNoDepthBound, .max_open = 8});
    CHECK(c.visits == kLevels + 1);
    CHECK(c.leaves == kLevels);
    CHECK(c.deepest == kLevels - 1);
    CHECK(c.most_fds > before);
    CHECK(c.most_fds <= before + 8);
    CHECK(open_fds() == before);
    agentbox::sys::remove_contents(tmp.path());
}

TEST_CASE("walk_tree: a walk that closes and reopens its levels visits as one that does not") {
    const agentbox::test::TempDir tmp("walk");
    const std::string& t = tmp.path();
    for (const char* d : {"/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/e", "/a/e/f", "/g"}) mkdir_p(t + d);
    for (const char* f : {"/a/b/c/d/1", "/a/b/c/2", "/a/b/3", "/a/e/f/4", "/a/5", "/g/6"})
        std::ofstream(t + f) << "x";
    const unique_fd fd = open_dir(t);
    Recorder wide, narrow;
    agentbox::sys::walk_tree(fd.get(), "top", wide, {.sorted = true});
    agentbox::sys::walk_tree(fd.get(), "top", narrow, {.max_open = 1, .sorted = true});
    CHECK(narrow.log == wide.log);
    CHECK(wide.log.size() == 20);
}

TEST_CASE("walk_tree: a level moved while its descriptor was closed ends the walk, ESTALE") {
    const agentbox::test::TempDir tmp("walk");
    const std::string& t = tmp.path();
    for (const char* d : {"/a", "/a/b", "/a/b/c"}) mkdir_p(t + d);
    std::ofstream(t + "/a/b/c/f") << "x";
    std::ofstream(t + "/a/b/g") << "x";
    const unique_fd fd = open_dir(t);
    struct Mover : Recorder {
        std::string root;
        WalkStep visit(const WalkEntry& e) override {
            // c's ".." is the root from now on, no longer a/b.
            if (e.path == "a/b/c/f")
                REQUIRE(::rename((root + "/a/b/c").c_str(), (root + "/moved").c_str()) == 0);
            return Recorder::visit(e);
        }
    } m;
    m.root = t;
    agentbox::sys::walk_tree(fd.get(), "", m, {.max_open = 1, .sorted = true});
    // Nothing more after the failure: not a/b/g, which ".." would have been looked for in.
    CHECK(m.log == std::vector<std::string>{"v a/", "v a/b/", "v a/b/c/", "v a/b/c/f",
                                            "f reopen a/b " + std::to_string(ESTALE)});
}

namespace {

// Checks at every visit that twin_dirfd is the twin's directory at the same place (its inode
// is the one `twin_inos` lists for that depth, -1 past the twin's end) and counts descriptors.
struct TwinChecker : agentbox::sys::WalkVisitor {
    std::vector<ino_t> twin_inos;  // the twin's chain, by depth (the root's first)
    int visits = 0, enters = 0, leaves = 0, wrong = 0, most_fds = 0;
    WalkStep visit(const WalkEntry& e) override {
        ++visits;
        const std::size_t at = static_cast<std::size_t>(e.depth);
        struct stat st {};
        if (at < twin_inos.size()) {
            if (e.twin_dirfd < 0 || ::fstat(e.twin_dirfd, &st) != 0 || st.st_ino != twin_inos[at])
                ++wrong;
        } else if (e.twin_dirfd >= 0) {
            ++wrong;
        }
        if (e.depth % 50 == 49) most_fds = std::max(most_fds, open_fds());
        // into_both where the twin has the directory too, as the visitor has to know.
        return at + 1 < twin_inos.size() ? WalkStep::into_both : WalkStep::into;
    }
    void enter(const WalkEntry&, const agentbox::sys::WalkDir& d) override {
        ++enters;
        if (d.fd < 0) ++wrong;
    }
    void leave(const WalkEntry& e, int) override {
        ++leaves;
        const std::size_t at = static_cast<std::size_t>(e.depth);
        if ((at < twin_inos.size()) != (e.twin_dirfd >= 0)) ++wrong;
    }
};

std::vector<ino_t> chain_inos(const std::string& root) {
    std::vector<ino_t> out;
    std::string p = root;
    struct stat st {};
    while (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        out.push_back(st.st_ino);
        p += "/d";
    }
    return out;
}

}  // namespace

TEST_CASE("walk_trees walks a twin beside the tree, both in bounded descriptors") {
    const agentbox::test::TempDir tmp("walk", "/dev/shm");
    const std::string main = tmp.path() + "/main", twin = tmp.path() + "/twin";
    mkdir_p(main);
    mkdir_p(twin);
    // The twin is shorter: below its end the walk goes on alone, and going back up reopens
    // the twin's levels through the one it kept open at its end.
    make_chain(main, 400);
    make_chain(twin, 250);
    TwinChecker c;
    c.twin_inos = chain_inos(twin);
    REQUIRE(c.twin_inos.size() == 251);
    const unique_fd m = open_dir(main), w = open_dir(twin);
    const int before = open_fds();
    agentbox::sys::walk_trees(m.get(), w.get(), "main", "twin", c, {.max_open = 8});
    CHECK(c.wrong == 0);
    CHECK(c.visits == 401);  // 400 d and the end marker
    CHECK(c.enters == 400);
    CHECK(c.leaves == 400);
    CHECK(c.most_fds > before);
    // 8 levels of each (and one more while a level is entered), and the twin's last.
    CHECK(c.most_fds <= before + 2 * 9 + 1);
    CHECK(open_fds() == before);
    agentbox::sys::remove_contents(tmp.path());
}

TEST_CASE("walk_trees: into goes into the tree alone; a moved twin level ends the walk, ESTALE") {
    const agentbox::test::TempDir tmp("walk");
    const std::string& t = tmp.path();
    for (const char* d : {"/m", "/m/a", "/m/a/b", "/m/a/b/c", "/w", "/w/a", "/w/a/b", "/w/a/b/c"})
        mkdir_p(t + d);
    std::ofstream(t + "/m/a/b/c/f") << "x";
    const unique_fd m = open_dir(t + "/m"), w = open_dir(t + "/w");
    SUBCASE("into: no twin below") {
        struct Alone : Recorder {
            WalkStep visit(const WalkEntry& e) override {
                Recorder::visit(e);
                log.back() += e.twin_dirfd >= 0 ? " twin" : "";
                return WalkStep::into;
            }
        } r;
        agentbox::sys::walk_trees(m.get(), w.get(), "", "/w", r, {.sorted = true});
        CHECK(r.log == std::vector<std::string>{"v a/ twin", "v a/b/", "v a/b/c/", "v a/b/c/f",
                                                "l a/b/c", "l a/b", "l a"});
    }
    SUBCASE("the twin's b moved while its a was closed") {
        struct Mover : Recorder {
            std::string root;
            WalkStep visit(const WalkEntry& e) override {
                if (e.path == "a/b/c/f")
                    REQUIRE(::rename((root + "/w/a/b").c_str(), (root + "/w/moved").c_str()) == 0);
                Recorder::visit(e);
                return WalkStep::into_both;
            }
        } r;
        r.root = t;
        agentbox::sys::walk_trees(m.get(), w.get(), "", "/w", r, {.max_open = 1, .sorted = true});
        // b moved with c in it: c's ".." is b still; b's is no longer a.
        CHECK(r.log == std::vector<std::string>{"v a/", "v a/b/", "v a/b/c/", "v a/b/c/f",
                                                "l a/b/c", "f reopen /w/a " + std::to_string(ESTALE)});
    }
}
