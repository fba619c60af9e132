// stage::changes on upper directories built by hand the way overlayfs writes them: whiteouts
// (0/0 character devices), opaque directories (user.overlay.opaque), and the metadata the
// command itself could forge through the overlay (escaped xattrs), which must stay content.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "stage/changes.hpp"
#include "tree_fixture.hpp"

namespace fs = std::filesystem;
using agentbox::stage::Change;
using agentbox::stage::changes;
using agentbox::stage::Kind;

namespace {

// tree_fixture.hpp's temporary project/ and upper/, with upper/ written by hand the way
// overlayfs writes it.
struct Tree : agentbox::stage::test::Trees {
    void up(const std::string& rel, const std::string& data, mode_t mode = 0644) const {
        file(upper, rel, data, mode);
    }
    void proj(const std::string& rel, const std::string& data, mode_t mode = 0644) const {
        file(project, rel, data, mode);
    }
    void whiteout(const std::string& rel) const {
        const std::string p = upper + "/" + rel;
        fs::create_directories(fs::path(p).parent_path());
        REQUIRE(::mknod(p.c_str(), S_IFCHR | 0600, ::makedev(0, 0)) == 0);
    }
    std::map<std::string, Change> run() const {
        std::map<std::string, Change> out;
        for (auto& c : agentbox::stage::changes(upper, project)) out[c.path] = c;
        return out;
    }
};

}  // namespace

TEST_CASE("added, modified and unchanged copy-ups") {
    Tree t;
    t.proj("README", "hello\n");
    t.proj("same.txt", "same\n");
    t.up("README", "hello\nworld\n");
    t.up("same.txt", "same\n");  // copied up by a touch: not a change
    t.up("new/dir/file.c", "int x;\n");
    const auto c = t.run();
    REQUIRE(c.count("README"));
    CHECK(c.at("README").kind == Kind::modified);
    CHECK(c.at("README").hash.size() == 32);
    CHECK(c.at("README").size == 12);
    CHECK_FALSE(c.count("same.txt"));
    CHECK(c.at("new").kind == Kind::added);
    CHECK(c.at("new/dir").kind == Kind::added);
    CHECK(c.at("new/dir/file.c").kind == Kind::added);
}

TEST_CASE("tree order: a directory before its entries") {
    Tree t;
    t.up("a/b", "1");
    t.up("a-c", "2");
    std::vector<std::string> order;
    for (auto& c : changes(t.upper, t.project)) order.push_back(c.path);
    CHECK(order == std::vector<std::string>{"a", "a/b", "a-c"});
}

TEST_CASE("mode change without a content change") {
    Tree t;
    t.proj("run.sh", "#!/bin/sh\n", 0644);
    t.up("run.sh", "#!/bin/sh\n", 0755);
    const auto c = t.run();
    REQUIRE(c.count("run.sh"));
    CHECK(c.at("run.sh").kind == Kind::mode);
    CHECK((c.at("run.sh").old_mode & 0777) == 0644);
    CHECK((c.at("run.sh").new_mode & 0777) == 0755);
}

TEST_CASE("whiteouts delete files and whole directories; one with nothing behind it is dropped") {
    Tree t;
    t.proj("gone.txt", "x");
    t.proj("src/a.c", "a");
    t.proj("src/sub/b.c", "b");
    t.whiteout("gone.txt");
    t.whiteout("src");
    t.whiteout("never-existed");
    const auto c = t.run();
    CHECK(c.at("gone.txt").kind == Kind::deleted);
    CHECK(c.at("src").kind == Kind::deleted);
    CHECK(S_ISDIR(c.at("src").old_mode));
    CHECK_FALSE(c.count("never-existed"));
    CHECK(c.size() == 2);
}

TEST_CASE("an opaque directory replaces the project's: hidden entries become deletions") {
    Tree t;
    t.proj("src/a.c", "a");
    t.proj("src/b.c", "b");
    t.up("src/b.c", "b");      // same content, still there
    t.up("src/new.c", "new");  // added
    REQUIRE(::setxattr((t.upper + "/src").c_str(), "user.overlay.opaque", "y", 1, 0) == 0);
    const auto c = t.run();
    CHECK(c.at("src").kind == Kind::replaced);
    CHECK(c.at("src/a.c").kind == Kind::deleted);
    CHECK_FALSE(c.count("src/b.c"));
    CHECK(c.at("src/new.c").kind == Kind::added);
}

TEST_CASE("forged overlay metadata is content, never a deletion of host files") {
    Tree t;
    t.proj("keep/important.txt", "precious");
    t.proj("keep2/x", "precious");
    // What the kernel stores when the command sets user.overlay.opaque through the overlay.
    fs::create_directories(t.upper + "/keep");
    REQUIRE(::setxattr((t.upper + "/keep").c_str(), "user.overlay.overlay.opaque", "y", 1, 0) == 0);
    // An xwhiteout-shaped file: a lower-layer format overlayfs never writes to upper/.
    t.up("keep2/x", "");
    REQUIRE(::setxattr((t.upper + "/keep2/x").c_str(), "user.overlay.whiteout", "", 0, 0) == 0);
    REQUIRE(::setxattr((t.upper + "/keep2").c_str(), "user.overlay.opaque", "x", 1, 0) == 0);
    const auto c = t.run();
    CHECK_FALSE(c.count("keep"));
    CHECK_FALSE(c.count("keep/important.txt"));
    REQUIRE(c.count("keep2/x"));
    CHECK(c.at("keep2/x").kind == Kind::modified);  // emptied, not deleted
    CHECK_FALSE(c.count("keep2"));
}

TEST_CASE("symlinks: targets compared, leaving the project flagged") {
    Tree t;
    REQUIRE(::symlink("/home/user/.ssh/id_rsa", (t.upper + "/key").c_str()) == 0);
    REQUIRE(::symlink("../../outside", (t.upper + "/up").c_str()) == 0);
    fs::create_directories(t.upper + "/d");
    REQUIRE(::symlink("../README", (t.upper + "/d/in").c_str()) == 0);
    REQUIRE(::symlink(t.project.c_str(), (t.upper + "/abs-in").c_str()) == 0);
    REQUIRE(::symlink("same", (t.project + "/l").c_str()) == 0);
    REQUIRE(::symlink("same", (t.upper + "/l").c_str()) == 0);
    const auto c = t.run();
    CHECK(c.at("key").link_outside);
    CHECK(c.at("key").link_target == "/home/user/.ssh/id_rsa");
    CHECK(c.at("up").link_outside);
    CHECK_FALSE(c.at("d/in").link_outside);
    CHECK_FALSE(c.at("abs-in").link_outside);
    CHECK_FALSE(c.count("l"));
}

TEST_CASE("type changes, fifos refused, setuid flagged") {
    Tree t;
    t.proj("was-file", "x");
    fs::create_directories(t.upper + "/was-file");
    t.up("was-file/inner", "y");
    t.proj("was-dir/z", "z");
    t.up("was-dir", "now a file");
    REQUIRE(::mkfifo((t.upper + "/pipe").c_str(), 0600) == 0);
    t.up("suid", "#!/bin/sh\n", 04755);
    const auto c = t.run();
    CHECK(c.at("was-file").kind == Kind::type);
    CHECK(c.at("was-file/inner").kind == Kind::added);
    CHECK(c.at("was-dir").kind == Kind::type);
    CHECK(c.at("pipe").refused == "fifo");
    CHECK(c.at("suid").setid);
    CHECK(c.at("suid").refused.empty());
}

// Without hashes a file's kind still comes from its content, never its metadata: the same
// size and the same mtime on both sides, different bytes, is a modification.
TEST_CASE("diff detects a same-size same-mtime content change without hashing") {
    Tree t;
    t.proj("a.txt", "aaaa\n");
    t.proj("same.txt", "same\n");
    t.proj("big.bin", std::string(300000, 'x'));
    t.up("a.txt", "bbbb\n");
    t.up("same.txt", "same\n");
    std::string big(300000, 'x');
    big[250000] = 'y';  // past the first read
    t.up("big.bin", big);
    for (const char* f : {"a.txt", "same.txt", "big.bin"}) {
        struct stat st {};
        REQUIRE(::stat((t.project + "/" + f).c_str(), &st) == 0);
        const struct timespec times[2] = {st.st_atim, st.st_mtim};
        REQUIRE(::utimensat(AT_FDCWD, (t.upper + "/" + f).c_str(), times, 0) == 0);
    }
    for (const auto h : {agentbox::stage::Hashes::none, agentbox::stage::Hashes::all}) {
        std::map<std::string, Change> c;
        for (auto& x : changes(t.upper, t.project, h)) c[x.path] = x;
        REQUIRE(c.count("a.txt"));
        CHECK(c.at("a.txt").kind == Kind::modified);
        REQUIRE(c.count("big.bin"));
        CHECK(c.at("big.bin").kind == Kind::modified);
        CHECK_FALSE(c.count("same.txt"));
        if (h == agentbox::stage::Hashes::none) {
            CHECK(c.at("a.txt").hash.empty());
        } else {
            // The hash made while comparing is the content's.
            CHECK(c.at("a.txt").hash == agentbox::stage::hash_bytes("bbbb\n"));
            CHECK(c.at("big.bin").hash == agentbox::stage::hash_bytes(big));
        }
    }
}

TEST_CASE("hashes of files read to a known size are the content's, at every size around the read") {
    Tree t;
    for (const std::size_t n : {0u, 1u, 131071u, 131072u, 131073u, 262144u}) {
        std::string data(n, 'q');
        if (n > 0) data[n - 1] = 'z';
        t.up("f" + std::to_string(n), data);
    }
    for (const auto& c : changes(t.upper, t.project)) {
        const std::size_t n = std::stoul(c.path.substr(1));
        std::string data(n, 'q');
        if (n > 0) data[n - 1] = 'z';
        CHECK(c.hash == agentbox::stage::hash_bytes(data));
    }
}

TEST_CASE("an opaque directory among other extended attributes is still opaque") {
    Tree t;
    t.proj("d/old", "1");
    t.up("d/new", "2");
    const std::string d = t.upper + "/d";
    REQUIRE(::setxattr(d.c_str(), "user.other", "v", 1, 0) == 0);
    REQUIRE(::setxattr(d.c_str(), "user.overlay.opaque", "y", 1, 0) == 0);
    const auto c = t.run();
    REQUIRE(c.count("d/old"));
    CHECK(c.at("d/old").kind == Kind::deleted);
}

TEST_CASE("a staged path past 256 levels or PATH_MAX bytes is one refused change, unread below") {
    Tree t;
    std::string deep;
    for (int i = 0; i < 300; ++i) deep += "d/";
    t.up(deep + "f", "x");
    // "l" and 17 components of 255 bytes: 4,097 bytes at the 16th, PATH_MAX (4,096) passed.
    const std::string name(255, 'n');
    std::string longer = "l";
    for (int i = 0; i < 17; ++i) longer += "/" + name;
    const int fd = ::open(t.upper.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    REQUIRE(::mkdirat(fd, "l", 0755) == 0);
    int at = ::openat(fd, "l", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    for (int i = 0; i < 17; ++i) {
        REQUIRE(::mkdirat(at, name.c_str(), 0755) == 0);
        const int sub = ::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY);
        ::close(at);
        REQUIRE(sub >= 0);
        at = sub;
    }
    ::close(at);
    const auto c = t.run();
    std::string at256 = deep.substr(0, 2 * 256 - 1), at257 = deep.substr(0, 2 * 257 - 1);
    REQUIRE(c.count(at256));
    CHECK(c.at(at256).refused.empty());
    REQUIRE(c.count(at257));
    CHECK(c.at(at257).kind == Kind::added);
    CHECK(c.at(at257).refused.starts_with("deeper than agentbox stages"));
    std::string deepest_long;
    for (const auto& [path, change] : c) {
        if (path.starts_with("d/")) CHECK(path.size() < 2 * 258);  // nothing below 257
        if (path.starts_with("l/")) deepest_long = path;
    }
    CHECK(deepest_long.size() == 4097);  // the 17th level is not read
    CHECK(c.at(deepest_long).refused.starts_with("deeper than agentbox stages"));
    CHECK(c.at(deepest_long.substr(0, deepest_long.rfind('/'))).refused.empty());
}

namespace {

// `levels` directories d/d/.../d below `root`, made through descriptors (their paths pass
// PATH_MAX), with a file "leaf" holding `data` at the end of the chain.
void chain(const std::string& root, int levels, const std::string& data) {
    int at = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(at >= 0);
    for (int i = 0; i < levels; ++i) {
        REQUIRE((::mkdirat(at, "d", 0755) == 0 || errno == EEXIST));
        const int sub = ::openat(at, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ::close(at);
        REQUIRE(sub >= 0);
        at = sub;
    }
    const int f = ::openat(at, "leaf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ::close(at);
    REQUIRE(f >= 0);
    REQUIRE(::write(f, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    ::close(f);
}

std::string d_path(int levels) {
    std::string p;
    for (int i = 0; i < levels; ++i) p += i == 0 ? "d" : "/d";
    return p;
}

}  // namespace

TEST_CASE("a project deeper than 256 levels copied up untouched is no change; a change there is "
          "one refused change at level 257") {
    Tree t;
    chain(t.project, 300, "x");
    chain(t.upper, 300, "x");  // as copy staging (or a touch of leaf, through the overlay) has it
    t.up("ok.txt", "ok\n");
    SUBCASE("untouched: only ok.txt") {
        const auto c = t.run();
        CHECK(c.size() == 1);
        CHECK(c.count("ok.txt"));
    }
    SUBCASE("a file changed at level 301: level 257 is one refused change, nothing else") {
        chain(t.upper, 300, "y");
        const auto c = t.run();
        REQUIRE(c.size() == 2);
        REQUIRE(c.count(d_path(257)));
        CHECK(c.at(d_path(257)).kind == Kind::modified);
        CHECK(c.at(d_path(257)).refused.starts_with("deeper than agentbox stages"));
    }
    SUBCASE("a directory's mode changed at level 257 itself: its own change, refused") {
        REQUIRE(::chmod((t.upper + "/" + d_path(257)).c_str(), 0700) == 0);
        const auto c = t.run();
        REQUIRE(c.count(d_path(257)));
        CHECK(c.at(d_path(257)).kind == Kind::mode);
        CHECK_FALSE(c.at(d_path(257)).refused.empty());
        CHECK(c.size() == 2);
    }
    SUBCASE("a deletion at level 290 is refused at 257 too") {
        fs::remove_all(t.upper + "/" + d_path(290));
        t.whiteout(d_path(290));
        const auto c = t.run();
        REQUIRE(c.count(d_path(257)));
        CHECK_FALSE(c.at(d_path(257)).refused.empty());
        CHECK(c.size() == 2);
    }
    SUBCASE("a change at level 200 is listed as it is, the untouched rest is not") {
        t.up(d_path(200) + "/new.txt", "n\n");
        const auto c = t.run();
        REQUIRE(c.count(d_path(200) + "/new.txt"));
        CHECK(c.at(d_path(200) + "/new.txt").refused.empty());
        CHECK(c.size() == 2);
    }
}

TEST_CASE("the change walk holds a bounded number of descriptors of both trees, 250 levels deep") {
    Tree t;
    chain(t.project, 250, "x");
    chain(t.upper, 250, "y");  // both trees open all the way down
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    // A descriptor a level on each side (the recursive walk) met EMFILE at ~30 levels here.
    struct rlimit low = old;
    low.rlim_cur = 64;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::map<std::string, Change> c;
    std::string error;
    try {
        c = t.run();
    } catch (const std::exception& e) {
        error = e.what();
    }
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK(error == "");
    REQUIRE(c.count(d_path(250) + "/leaf"));
    CHECK(c.at(d_path(250) + "/leaf").kind == Kind::modified);
    CHECK(c.size() == 1);
}
