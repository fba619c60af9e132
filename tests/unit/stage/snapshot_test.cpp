// The copy strategy: a snapshot of the project, changed as a sandbox would change it, turned
// into upper/ in the overlay's format; changes() must then report exactly what was done.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "stage/changes.hpp"
#include "stage/snapshot.hpp"
#include "tree_fixture.hpp"

namespace agentbox::stage {
namespace {

using test::kinds;
using test::Trees;
namespace fs = std::filesystem;

// Copy staging's whiteouts, on every platform (whiteout.hpp).
constexpr Whiteouts kCopy = Whiteouts::portable;

// The change set a copy session reads.
std::vector<Change> copy_changes(const Trees& t) {
    return changes(t.upper, t.project, Hashes::all, kCopy);
}

// A sandbox's writes land in the snapshot after the stamp; a coarse clock tick apart.
void later() { ::usleep(20000); }

// The project copied to ROOT/snapshot, returned once a sandbox's writes would come after it.
Snapshot snapshot_of(const Trees& t) {
    Snapshot s = make_snapshot(t.project, t.root + "/snapshot");
    later();
    return s;
}

TEST_CASE("a snapshot copies files, links, directories, modes and times") {
    Trees t;
    Trees::file(t.project, "a.txt", "alpha\n", 0640);
    Trees::file(t.project, "sub/deep/b.sh", "#!/bin/sh\n", 0755);
    Trees::link(t.project, "link", "a.txt");
    const std::string snap = t.root + "/snapshot";
    const Snapshot s = make_snapshot(t.project, snap);
    CHECK(s.files == 2);
    CHECK(test::slurp(snap + "/a.txt") == "alpha\n");
    CHECK(fs::read_symlink(snap + "/link") == "a.txt");
    struct stat a {}, b {};
    REQUIRE(::stat((t.project + "/sub/deep/b.sh").c_str(), &a) == 0);
    REQUIRE(::stat((snap + "/sub/deep/b.sh").c_str(), &b) == 0);
    CHECK((b.st_mode & 07777) == 0755);
    CHECK(b.st_mtim.tv_sec == a.st_mtim.tv_sec);
    CHECK(b.st_mtim.tv_nsec == a.st_mtim.tv_nsec);
    // Nothing changed: nothing staged, nothing even moved (the stamp is a clock tick after
    // the copy's last change, however coarse the filesystem's times).
    CHECK(materialise(s, t.upper, kCopy) == 0);
    CHECK(copy_changes(t).empty());
}

// The home as the project: agentbox's state directory, where the session and its snapshot
// are, is inside the project; a link outside the project names it.
struct StoreInProject : Trees {
    std::string store = project + "/.local/state/agentbox";
    std::string link = root + "/store-link";
    std::string snap = store + "/sessions/s1/snapshot";
    StoreInProject() {
        Trees::file(project, "a.txt", "alpha\n");
        Trees::file(store, "sessions/s1/meta.json", "{}\n");
        Trees::file(store, "sessions/s0/upper/old.txt", "old\n");
        fs::create_directory_symlink(store, link);
    }
};

TEST_CASE("a snapshot inside the project copies neither itself nor the store it is in") {
    StoreInProject t;
    // By the directory, not the path: the store is named through a link.
    const Snapshot s = make_snapshot(t.project, t.snap, {t.link, t.root + "/absent"});
    CHECK(s.files == 1);
    CHECK(test::slurp(t.snap + "/a.txt") == "alpha\n");
    // The mask's mount point, empty.
    CHECK(fs::is_directory(t.snap + "/.local/state/agentbox"));
    CHECK(fs::is_empty(t.snap + "/.local/state/agentbox"));
    const CopyCost c = snapshot_cost(t.project, {t.link});
    CHECK(c.files == 1);
    CHECK(c.dirs == 3);  // .local, .local/state, and the store's empty stand-in
}

TEST_CASE("a snapshot inside the project never copies itself, whatever it is told to leave out") {
    StoreInProject t;
    const Snapshot s = make_snapshot(t.project, t.project + "/snapshot");
    CHECK(s.files == 3);
    CHECK(fs::is_empty(t.project + "/snapshot/snapshot"));
}

TEST_CASE("what the snapshot left out is no deletion, at the end of the run or resumed after") {
    for (const bool resumed : {false, true}) {
        CAPTURE(resumed);
        StoreInProject t;
        const Snapshot s = make_snapshot(t.project, t.snap, {t.link});
        later();
        Trees::file(t.snap, "w.txt", "written\n");
        if (resumed)  // a run killed before it staged: only the saved times and identities
            CHECK(resume_snapshot(t.project, t.snap, t.upper, kCopy));
        else
            materialise(s, t.upper, kCopy);
        const auto k = kinds(copy_changes(t));
        CHECK(k.size() == 1);
        CHECK(k.at("w.txt") == Kind::added);
        CHECK(test::slurp(t.store + "/sessions/s0/upper/old.txt") == "old\n");
    }
}

TEST_CASE("a directory above the store renamed away and replaced is never staged as deleted") {
    for (const bool resumed : {false, true}) {
        CAPTURE(resumed);
        StoreInProject t;
        Trees::file(t.project, ".local/share/s.txt", "share\n");
        const Snapshot s = make_snapshot(t.project, t.snap, {t.link});
        later();
        // `mv .local .l2`: the mask's mount point moves with its parent; then a file, and a
        // directory below, where the store's parents were.
        fs::rename(t.snap + "/.local", t.snap + "/.l2");
        Trees::file(t.snap, ".local", "not a directory\n");
        if (resumed)
            CHECK(resume_snapshot(t.project, t.snap, t.upper, kCopy));
        else
            materialise(s, t.upper, kCopy);
        for (const auto& [path, kind] : kinds(copy_changes(t))) {
            CAPTURE(path);
            CHECK(path.rfind(".local", 0) != 0);
        }
        CHECK(test::slurp(t.store + "/sessions/s0/upper/old.txt") == "old\n");
    }
}

TEST_CASE("edits in the snapshot become the same change set an overlay gives") {
    Trees t;
    Trees::file(t.project, "keep.txt", "same\n");
    Trees::file(t.project, "edit.txt", "old\n");
    Trees::file(t.project, "gone.txt", "bye\n");
    Trees::file(t.project, "olddir/x", "x\n");
    Trees::file(t.project, "mode.sh", "echo\n", 0644);
    Trees::file(t.project, "nested/dir/file", "n\n");
    const Snapshot s = snapshot_of(t);
    const std::string& snap = s.dir;
    Trees::file(snap, "edit.txt", "new\n");
    fs::remove(snap + "/gone.txt");
    fs::remove_all(snap + "/olddir");
    Trees::file(snap, "added/new.txt", "hello\n");
    REQUIRE(::chmod((snap + "/mode.sh").c_str(), 0755) == 0);
    Trees::file(snap, "nested/dir/file2", "two\n");
    materialise(s, t.upper, kCopy);
    const auto k = kinds(copy_changes(t));
    CHECK(k.size() == 7);
    CHECK(k.at("edit.txt") == Kind::modified);
    CHECK(k.at("gone.txt") == Kind::deleted);
    CHECK(k.at("olddir") == Kind::deleted);
    CHECK(k.at("added") == Kind::added);
    CHECK(k.at("added/new.txt") == Kind::added);
    CHECK(k.count("mode.sh") == 1);
    CHECK(k.at("nested/dir/file2") == Kind::added);
    CHECK(k.count("keep.txt") == 0);
}

TEST_CASE("a content change hidden behind a restored mtime and size is still found") {
    Trees t;
    Trees::file(t.project, "f", "aaaa\n");
    const std::string snap = t.root + "/snapshot";
    const Snapshot s = make_snapshot(t.project, snap);
    struct stat before {};
    REQUIRE(::stat((snap + "/f").c_str(), &before) == 0);
    later();
    Trees::file(snap, "f", "bbbb\n");
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, (snap + "/f").c_str(), times, 0) == 0);
    materialise(s, t.upper, kCopy);
    const auto k = kinds(copy_changes(t));
    REQUIRE(k.count("f") == 1);
    CHECK(k.at("f") == Kind::modified);
}

TEST_CASE("a directory or file the sandbox renames is staged whole under its new name") {
    Trees t;
    Trees::file(t.project, "src/a.c", "a\n");
    Trees::file(t.project, "src/deep/b.c", "b\n");
    Trees::file(t.project, "f.txt", "f\n");
    const Snapshot s = snapshot_of(t);
    const std::string& snap = s.dir;
    fs::rename(snap + "/src", snap + "/lib");  // as `git mv src lib` does
    fs::rename(snap + "/f.txt", snap + "/g.txt");
    materialise(s, t.upper, kCopy);
    const auto k = kinds(copy_changes(t));
    CHECK(k.at("src") == Kind::deleted);
    CHECK(k.at("lib/a.c") == Kind::added);
    CHECK(k.at("lib/deep/b.c") == Kind::added);
    CHECK(k.at("f.txt") == Kind::deleted);
    CHECK(k.at("g.txt") == Kind::added);
    CHECK(test::slurp(t.upper + "/lib/deep/b.c") == "b\n");
}

TEST_CASE("a forged whiteout made in the snapshot deletes nothing") {
    Trees t;
    Trees::file(t.project, "victim", "precious\n");
    Trees::file(t.project, "dir/victim2", "precious\n");
    const Snapshot s = snapshot_of(t);
    const std::string& snap = s.dir;
    // What a command can do without privileges since Linux 5.8: mknod c 0 0.
    fs::remove(snap + "/victim");
    fs::remove(snap + "/dir/victim2");
    REQUIRE(::mknod((snap + "/victim").c_str(), S_IFCHR | 0600, ::makedev(0, 0)) == 0);
    REQUIRE(::mknod((snap + "/dir/victim2").c_str(), S_IFCHR | 0600, ::makedev(0, 0)) == 0);
    materialise(s, t.upper, kCopy);
    // The device is never moved to upper/: the paths read as unchanged, not deleted.
    const auto k = kinds(copy_changes(t));
    CHECK(k.count("victim") == 0);
    CHECK(k.count("dir/victim2") == 0);
}

TEST_CASE("a file the user adds to the project during the run is not staged as deleted") {
    Trees t;
    Trees::file(t.project, "old", "1\n");
    const Snapshot s = snapshot_of(t);
    Trees::file(t.project, "users-new-file", "mine\n");
    materialise(s, t.upper, kCopy);
    CHECK(copy_changes(t).empty());
}

TEST_CASE("type changes: a file becomes a directory and a directory a symlink") {
    Trees t;
    Trees::file(t.project, "f", "file\n");
    Trees::file(t.project, "d/inner", "i\n");
    const Snapshot s = snapshot_of(t);
    const std::string& snap = s.dir;
    fs::remove(snap + "/f");
    Trees::file(snap, "f/now-a-dir", "x\n");
    fs::remove_all(snap + "/d");
    Trees::link(snap, "d", "/etc");
    materialise(s, t.upper, kCopy);
    const auto k = kinds(copy_changes(t));
    CHECK(k.count("f") == 1);
    CHECK(k.count("d") == 1);
    CHECK(k.count("d/inner") == 0);
}

// Whether upper/PATH carries the copy strategy's copy-up mark.
bool marked(const std::string& upper, const std::string& path) {
    return ::getxattr((upper + "/" + path).c_str(), kOriginXattr, nullptr, 0) >= 0;
}

TEST_CASE("a file the host deletes during the run and the sandbox never touched stays deleted") {
    Trees t;
    Trees::file(t.project, "deleted-by-host", "x\n");
    Trees::file(t.project, "dir/also-deleted", "y\n");
    Trees::file(t.project, "dir2/deep/file", "z\n");
    Trees::file(t.project, "dir2/other/file", "o\n");
    const Snapshot s = snapshot_of(t);
    const std::string& snap = s.dir;
    fs::remove(t.project + "/deleted-by-host");
    fs::remove_all(t.project + "/dir");
    fs::remove_all(t.project + "/dir2");
    // The sandbox adds one file in a directory the host then deletes: only that file is its.
    Trees::file(snap, "dir2/deep/new", "mine\n");
    materialise(s, t.upper, kCopy);
    const auto k = kinds(copy_changes(t));
    CHECK(k.count("deleted-by-host") == 0);
    CHECK(k.count("dir/also-deleted") == 0);
    CHECK(k.count("dir") == 0);
    CHECK(k.count("dir2/deep/file") == 0);
    CHECK(k.count("dir2/other") == 0);
    CHECK(k.count("dir2/other/file") == 0);
    CHECK(k.count("dir2/deep/new") == 1);
    CHECK(test::slurp(t.upper + "/dir2/deep/new") == "mine\n");
}

TEST_CASE("what the host changes during the run in entries the sandbox left alone is not staged") {
    Trees t;
    Trees::file(t.project, "host-edits-this", "old\n");
    Trees::file(t.project, "d/x", "x\n");
    Trees::file(t.project, "e/y", "y\n");
    const Snapshot s = snapshot_of(t);
    Trees::file(t.project, "host-edits-this", "the host's edit, longer\n");
    REQUIRE(::chmod((t.project + "/e").c_str(), 0700) == 0);
    fs::remove_all(t.project + "/d");
    Trees::file(t.project, "d", "now a file\n");
    materialise(s, t.upper, kCopy);
    // Staging the copy's versions would undo the host's edits at commit.
    CHECK(copy_changes(t).empty());
}

TEST_CASE("a file the sandbox edits and the host deletes is marked as a copy-up") {
    Trees t;
    Trees::file(t.project, "edited", "old\n");
    const Snapshot s = snapshot_of(t);
    const std::string& snap = s.dir;
    {
        // In place, as `>>` does: the copy's own file, born before the stamp.
        std::FILE* f = std::fopen((snap + "/edited").c_str(), "a");
        REQUIRE(f != nullptr);
        std::fputs("new\n", f);
        std::fclose(f);
    }
    Trees::file(snap, "created", "c\n");
    Trees::file(snap, "newdir/inner", "i\n");
    REQUIRE(::mkdir((snap + "/emptydir").c_str(), 0755) == 0);
    fs::remove(t.project + "/edited");
    materialise(s, t.upper, kCopy);
    const auto k = kinds(copy_changes(t));
    CHECK(k.at("edited") == Kind::added);
    CHECK(k.count("created") == 1);
    CHECK(k.count("newdir/inner") == 1);
    CHECK(k.count("emptydir") == 1);
    struct statx x {};
    if (::statx(AT_FDCWD, t.upper.c_str(), 0, STATX_BTIME, &x) == 0 &&
        (x.stx_mask & STATX_BTIME) != 0 &&
        ::setxattr((t.upper + "/created").c_str(), "user.agentbox.probe", "", 0, 0) == 0) {
        // Birth times and user xattrs: the edit is told apart from what the sandbox made.
        CHECK(marked(t.upper, "edited"));
        CHECK_FALSE(marked(t.upper, "created"));
        CHECK_FALSE(marked(t.upper, "newdir/inner"));
    }
}

}  // namespace
}  // namespace agentbox::stage
