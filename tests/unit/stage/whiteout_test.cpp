// The two whiteout forms (whiteout.hpp): each made and recognised by one function pair, each
// honoured only in the sessions of its kind, and what a command makes never read as one.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "stage/changes.hpp"
#include "stage/commit.hpp"
#include "stage/session.hpp"
#include "stage/snapshot.hpp"
#include "stage/whiteout.hpp"
#include "sys/fd.hpp"
#include "tree_fixture.hpp"

namespace agentbox::stage {
namespace {

using test::kinds;
using test::Trees;
namespace fs = std::filesystem;

sys::unique_fd open_dir(const std::string& p) {
    sys::unique_fd d(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(d);
    return d;
}

bool whiteout_at(Whiteouts form, const std::string& dir, const std::string& name) {
    const sys::unique_fd d = open_dir(dir);
    struct stat st {};
    if (::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    return is_whiteout(form, d.get(), name, st);
}

// What a command can make without privilege: an empty file with agentbox's mark.
void forge_portable(const std::string& path) {
    test::spit(path, "");
    REQUIRE(::setxattr(path.c_str(), kWhiteoutXattr, "deleted", 7, 0) == 0);
}

bool has_mark(const std::string& path) {
    return ::getxattr(path.c_str(), kWhiteoutXattr, nullptr, 0) >= 0;
}

TEST_CASE("a portable whiteout is an empty marked file, recognised in its own form only") {
    Trees t;
    const sys::unique_fd u = open_dir(t.upper);
    make_whiteout(Whiteouts::portable, u.get(), "gone", "upper/gone");
    struct stat st {};
    REQUIRE(::lstat((t.upper + "/gone").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(st.st_size == 0);
    CHECK(whiteout_at(Whiteouts::portable, t.upper, "gone"));
    CHECK_FALSE(whiteout_at(Whiteouts::device, t.upper, "gone"));
    // The name is taken: never replaced.
    CHECK_THROWS(make_whiteout(Whiteouts::portable, u.get(), "gone", "upper/gone"));

    // Not one: an empty file without the mark, a marked file with content, a device 0/0.
    test::spit(t.upper + "/empty", "");
    CHECK_FALSE(whiteout_at(Whiteouts::portable, t.upper, "empty"));
    test::spit(t.upper + "/full", "x");
    REQUIRE(::setxattr((t.upper + "/full").c_str(), kWhiteoutXattr, "deleted", 7, 0) == 0);
    CHECK_FALSE(whiteout_at(Whiteouts::portable, t.upper, "full"));
    REQUIRE(::mknod((t.upper + "/dev").c_str(), S_IFCHR | 0600, ::makedev(0, 0)) == 0);
    CHECK_FALSE(whiteout_at(Whiteouts::portable, t.upper, "dev"));
    CHECK(whiteout_at(Whiteouts::device, t.upper, "dev"));
}

TEST_CASE("a session records its staging, and a copy session reads portable whiteouts") {
    agentbox::test::TempDir tmp("whiteout-test");
    ::setenv("XDG_STATE_HOME", (tmp.path() + "/state").c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", (tmp.path() + "/config").c_str(), 1);
    const std::string project = tmp.path() + "/project";
    fs::create_directories(project);
    test::spit(project + "/victim", "precious\n");
    {
        const Session s = Session::create(project, {"sh"}, {}, Staged::copy);
        const Session again = Session::open(s.meta().id, "");
        CHECK(again.meta().staged == Staged::copy);
        CHECK(again.whiteouts() == Whiteouts::portable);
        const sys::unique_fd u = open_dir(again.upper());
        make_whiteout(again.whiteouts(), u.get(), "victim", "upper/victim");
        CHECK(kinds(changes(again, project)).at("victim") == Kind::deleted);
    }
    {
        const Session s = Session::create(project, {"sh"});
        CHECK(Session::open(s.meta().id, "").meta().staged == Staged::overlay);
    }
    ::unsetenv("XDG_STATE_HOME");
    ::unsetenv("XDG_CONFIG_HOME");
}

// The attack: in an overlay session the command writes upper/ through overlayfs, where it can
// make exactly the portable form (an empty file, a user.* xattr the kernel does not escape) at
// a project path. It is a file there: the change set shows it replacing the project's file
// with an empty one, never deleting it.
TEST_CASE("a forged portable whiteout in an overlay session is a file, not a deletion") {
    Trees t;
    Trees::file(t.project, "victim", "precious\n");
    Trees::file(t.project, "dir/victim2", "precious\n");
    forge_portable(t.upper + "/victim");
    fs::create_directories(t.upper + "/dir");
    forge_portable(t.upper + "/dir/victim2");
    const auto k = kinds(changes(t.upper, t.project, Hashes::all, Whiteouts::device));
    CHECK(k.at("victim") == Kind::modified);
    CHECK(k.at("dir/victim2") == Kind::modified);
}

// The same in the copy snapshot: what the command made is staged as what it is (the mark
// removed), so that no file of the command's reads as a deletion, and none is lost as a
// whiteout with nothing behind it.
TEST_CASE("a file the command marks like a portable whiteout is staged as a file") {
    Trees t;
    Trees::file(t.project, "victim", "precious\n");
    const Snapshot s = make_snapshot(t.project, t.root + "/snapshot");
    ::usleep(20000);
    fs::remove(s.dir + "/victim");
    forge_portable(s.dir + "/victim");
    forge_portable(s.dir + "/new");
    fs::create_directories(s.dir + "/newdir/deep");
    forge_portable(s.dir + "/newdir/deep/inner");
    materialise(s, t.upper, Whiteouts::portable);
    const auto k = kinds(changes(t.upper, t.project, Hashes::all, Whiteouts::portable));
    CHECK(k.at("victim") == Kind::modified);
    CHECK(k.at("new") == Kind::added);
    CHECK(k.at("newdir/deep/inner") == Kind::added);
    CHECK_FALSE(has_mark(t.upper + "/victim"));
    CHECK_FALSE(has_mark(t.upper + "/newdir/deep/inner"));
}

TEST_CASE("a copy-staged deletion is a portable whiteout, never a device node") {
    Trees t;
    Trees::file(t.project, "victim", "x\n");
    Trees::file(t.project, "dir/victim2", "y\n");
    Trees::file(t.project, "tree/a/b", "z\n");
    const Snapshot s = make_snapshot(t.project, t.root + "/snapshot");
    ::usleep(20000);
    fs::remove(s.dir + "/victim");
    fs::remove(s.dir + "/dir/victim2");
    fs::remove_all(s.dir + "/tree");
    materialise(s, t.upper, Whiteouts::portable);
    for (const char* p : {"victim", "dir/victim2", "tree"}) {
        INFO(p);
        struct stat st {};
        REQUIRE(::lstat((t.upper + "/" + p).c_str(), &st) == 0);
        CHECK(S_ISREG(st.st_mode));
    }
    const auto k = kinds(changes(t.upper, t.project, Hashes::all, Whiteouts::portable));
    CHECK(k.at("victim") == Kind::deleted);
    CHECK(k.at("dir/victim2") == Kind::deleted);
    CHECK(k.at("tree") == Kind::deleted);
    // Read with the other form, nothing is deleted: the form is the session's, not the file's.
    for (const auto& c : changes(t.upper, t.project, Hashes::all, Whiteouts::device))
        CHECK(c.kind != Kind::deleted);
}

}  // namespace
}  // namespace agentbox::stage
