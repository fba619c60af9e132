// Journaled commit and undo: the result, and recovery after a stop at every step — the project
// is always exactly as before or exactly as after, never between.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "stage/changes.hpp"
#include "stage/commit.hpp"
#include "stage/fsops.hpp"
#include "stage/session.hpp"
#include "stage/whiteout.hpp"
#include "sys/fd.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using namespace agentbox::stage;

namespace {

struct Crash {
    std::string step;
};

using Snapshot = std::map<std::string, std::pair<unsigned, std::string>>;

Snapshot snapshot(const std::string& root) {
    Snapshot s;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        struct stat st {};
        REQUIRE(::lstat(it->path().c_str(), &st) == 0);
        std::string data;
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(it->path(), std::ios::binary);
            std::stringstream ss;
            ss << in.rdbuf();
            data = ss.str();
        } else if (S_ISLNK(st.st_mode)) {
            data = fs::read_symlink(it->path()).string();
        }
        s[it->path().lexically_relative(root).string()] = {st.st_mode, data};
    }
    return s;
}

// What differs between two snapshots, for the failure message.
std::string delta(const Snapshot& a, const Snapshot& b) {
    std::string out;
    for (auto& [k, v] : a)
        if (!b.count(k)) out += "only before: " + k + "\n";
        else if (b.at(k) != v)
            out += "differs: " + k + " mode " + std::to_string(v.first) + " vs " +
                   std::to_string(b.at(k).first) + "\n";
    for (auto& [k, v] : b)
        if (!a.count(k)) out += "only after: " + k + "\n";
    return out;
}

void write(const std::string& path, const std::string& data, unsigned mode = 0644) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << data;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

struct World {
    agentbox::test::TempDir tmp{"commit-test"};
    std::optional<agentbox::test::TempDir> state_tmp;
    std::string root, state_root, project;
    // `two_fs`: agentbox's state on /dev/shm (tmpfs), the project under /tmp, so that every
    // move between them is a copy.
    explicit World(bool two_fs = false) {
        root = tmp.path();
        if (two_fs) {
            state_tmp.emplace("commit-test", "/dev/shm");
            state_root = state_tmp->path();
        } else {
            state_root = root;
        }
        project = root + "/project";
        ::setenv("XDG_STATE_HOME", (state_root + "/state").c_str(), 1);
        ::setenv("XDG_CONFIG_HOME", (root + "/config").c_str(), 1);  // session-file MAC key
        write(project + "/README", "hello\n");
        write(project + "/src/a.c", "a\n");
        write(project + "/src/sub/b.c", "b\n");
        write(project + "/run.sh", "#!/bin/sh\n", 0644);
    }
    ~World() {
        ::unsetenv("XDG_STATE_HOME");
        ::unsetenv("XDG_CONFIG_HOME");
    }
    // A session whose upper/ holds: README modified, src deleted, new/x added, run.sh +x,
    // a symlink, a setuid file, and a replaced directory.
    // `staged`: the session's kind, whose whiteout form says that src is deleted.
    Session stage(Staged staged = Staged::overlay) {
        Session s = Session::create(project, {"sh"}, {}, staged);
        const std::string u = s.upper();
        write(u + "/README", "hello\nworld\n");
        {
            agentbox::sys::unique_fd d(::open(u.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            REQUIRE(d);
            make_whiteout(s.whiteouts(), d.get(), "src", "upper/src");
        }
        write(u + "/new/x", "new file\n");
        write(u + "/run.sh", "#!/bin/sh\n", 0755);
        REQUIRE(::symlink("README", (u + "/link").c_str()) == 0);
        write(u + "/tool", "#!/bin/sh\n", 06755);
        s.set_status("staged");
        return s;
    }
};

Snapshot expected_after(const Snapshot& before) {
    Snapshot s = before;
    s["README"] = {S_IFREG | 0644, "hello\nworld\n"};
    for (auto it = s.begin(); it != s.end();)
        it = it->first == "src" || it->first.starts_with("src/") ? s.erase(it) : std::next(it);
    s["new"] = {S_IFDIR | 0755, ""};
    s["new/x"] = {S_IFREG | 0644, "new file\n"};
    s["run.sh"] = {S_IFREG | 0755, "#!/bin/sh\n"};
    s["link"] = {S_IFLNK | 0777, "README"};
    s["tool"] = {S_IFREG | 0755, "#!/bin/sh\n"};  // setuid and setgid stripped
    return s;
}

}  // namespace

TEST_CASE("commit applies every change, keeps the originals, and undo restages them") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = w.stage();
    const auto cs = changes(s.upper(), w.project);
    CHECK(find_conflicts(s, cs).empty());
    const CommitResult r = commit(s, cs);
    CHECK(r.number == 1);
    CHECK(r.stripped == std::vector<std::string>{"tool"});
    CHECK_MESSAGE(snapshot(w.project) == expected_after(before),
                  delta(snapshot(w.project), expected_after(before)));
    CHECK(changes(s.upper(), w.project).empty());

    const UndoResult u = undo(s, false);
    CHECK(u.conflicts.empty());
    CHECK(snapshot(w.project) == before);
    // The command's work is staged again, not lost.
    const auto again = changes(s.upper(), w.project);
    CHECK(again.size() == cs.size());
    commit(s, again);
    CHECK(snapshot(w.project) == expected_after(before));
}

// Copy staging's form through the same journey: commit deletes, undo restores and leaves the
// deletion staged, a second commit deletes again; and a deletion staged again by undo (its
// whiteout gone from upper/) comes back in the session's form, never as a device node.
TEST_CASE("a copy session's deletion commits, undoes and is staged again as a portable whiteout") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = w.stage(Staged::copy);
    const auto cs = changes(s, w.project);
    bool deleted = false;
    for (const auto& c : cs) deleted = deleted || (c.path == "src" && c.kind == Kind::deleted);
    CHECK(deleted);
    commit(s, cs);
    CHECK_MESSAGE(snapshot(w.project) == expected_after(before),
                  delta(snapshot(w.project), expected_after(before)));
    // Undo re-stages a deletion whose whiteout is no longer in upper/.
    fs::remove(s.upper() + "/src");
    CHECK(undo(s, false).conflicts.empty());
    CHECK(snapshot(w.project) == before);
    struct stat st {};
    REQUIRE(::lstat((s.upper() + "/src").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    const auto again = changes(s, w.project);
    CHECK(again.size() == cs.size());
    commit(s, again);
    CHECK(snapshot(w.project) == expected_after(before));
}

TEST_CASE("a partial commit leaves the rest staged") {
    World w;
    Session s = w.stage();
    std::vector<Change> some;
    for (auto& c : changes(s.upper(), w.project))
        if (c.path == "README") some.push_back(c);
    commit(s, some);
    const auto left = changes(s.upper(), w.project);
    CHECK(left.size() == changes(s.upper(), w.project).size());
    for (auto& c : left) CHECK(c.path != "README");
    CHECK(fs::exists(w.project + "/src/a.c"));
}

TEST_CASE("a host edit after the session started is a conflict") {
    World w;
    Session s = w.stage();
    ::usleep(20000);
    write(w.project + "/README", "edited on the host\n");
    write(w.project + "/src/sub/b.c", "edited too\n");
    write(w.project + "/new/x", "created on the host\n");
    const auto conflicts = find_conflicts(s, changes(s.upper(), w.project));
    std::map<std::string, std::string> by;
    for (auto& c : conflicts) by[c.path] = c.why;
    CHECK(by.count("README"));
    CHECK(by.count("src/sub/b.c"));
    CHECK(by.count("new/x"));
}

TEST_CASE("a file the command edited and the host deleted is a conflict, not a re-creation") {
    World w;
    Session s = w.stage();
    // What overlayfs writes on a copy-up; the command itself cannot set this name.
    REQUIRE(::setxattr((s.upper() + "/README").c_str(), "user.overlay.origin", "x", 1, 0) == 0);
    ::usleep(20000);
    REQUIRE(::unlink((w.project + "/README").c_str()) == 0);
    std::map<std::string, std::string> by;
    for (auto& c : find_conflicts(s, changes(s.upper(), w.project))) by[c.path] = c.why;
    REQUIRE(by.count("README"));
    CHECK(by["README"].find("deleted on the host") != std::string::npos);
    // A new file of the command's own (no origin) in a changed directory is no conflict.
    CHECK_FALSE(by.count("new/x"));
}

TEST_CASE("undo refuses when the project changed since the commit") {
    World w;
    Session s = w.stage();
    commit(s, changes(s.upper(), w.project));
    write(w.project + "/README", "edited after the commit\n");
    const UndoResult u = undo(s, false);
    REQUIRE(u.conflicts.size() == 1);
    CHECK(u.conflicts[0].path == "README");
    CHECK(snapshot(w.project).at("README").second == "edited after the commit\n");
}

// Names of agentbox's temporaries left anywhere below `dir`.
std::string temps_below(const std::string& dir) {
    std::string out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->path().filename().string().starts_with(".agentbox-tmp-"))
            out += it->path().string() + "\n";
    return out;
}

TEST_CASE("a commit stopped at any step is rolled back or forward, never left between") {
    for (const bool two_fs : {false, true}) {
        CAPTURE(two_fs);
        // Count the steps of one full commit, then stop at each of them in turn.
        int steps = 0;
        {
            World w(two_fs);
            Session s = w.stage();
            commit(s, changes(s.upper(), w.project), [&](const char*) { ++steps; });
        }
        REQUIRE(steps > 10);
        for (int stop = 1; stop <= steps; ++stop) {
            CAPTURE(stop);
            World w(two_fs);
            const Snapshot before = snapshot(w.project);
            const Snapshot after = expected_after(before);
            Session s = w.stage();
            int n = 0;
            std::string where;
            try {
                commit(s, changes(s.upper(), w.project), [&](const char* step) {
                    if (++n == stop) {
                        where = step;
                        throw Crash{step};
                    }
                });
            } catch (const Crash&) {
            }
            CAPTURE(where);
            recover(s);
            const Snapshot now = snapshot(w.project);
            CHECK((now == before || now == after));
            // Whatever happened, nothing is lost: committing again reaches "after".
            commit(s, changes(s.upper(), w.project));
            CHECK(snapshot(w.project) == after);
            CHECK(temps_below(w.root + "/") + temps_below(w.state_root + "/") == "");
            // ... and undo brings back every original.
            undo(s, false);
            CHECK_MESSAGE(snapshot(w.project) == before, delta(snapshot(w.project), before));
        }
    }
}

// Finding: a killed undo destroyed the originals -- recovery took the undo's journal,
// still "prepared", for a commit's and removed backup/<number>, which was the commit's.
TEST_CASE("an undo stopped at any step is finished by recovery, and the originals survive it") {
    for (const bool two_fs : {false, true}) {
        CAPTURE(two_fs);
        int steps = 0;
        {
            World w(two_fs);
            Session s = w.stage();
            commit(s, changes(s.upper(), w.project));
            undo(s, false, [&](const char*) { ++steps; });
        }
        REQUIRE(steps > 5);
        for (int stop = 1; stop <= steps; ++stop) {
            CAPTURE(stop);
            World w(two_fs);
            const Snapshot before = snapshot(w.project);
            Session s = w.stage();
            commit(s, changes(s.upper(), w.project));
            const Snapshot after = snapshot(w.project);
            int n = 0;
            std::string where;
            try {
                undo(s, false, [&](const char* step) {
                    if (++n == stop) {
                        where = step;
                        throw Crash{step};
                    }
                });
            } catch (const Crash&) {
            }
            CAPTURE(where);
            recover(s);
            const Snapshot now = snapshot(w.project);
            CHECK((now == before || now == after));
            if (now == after) undo(s, false);  // the undo had not begun: do it now
            CHECK_MESSAGE(snapshot(w.project) == before, delta(snapshot(w.project), before));
            CHECK(temps_below(w.root + "/") + temps_below(w.state_root + "/") == "");
            // The command's work is staged again, whole.
            commit(s, changes(s.upper(), w.project));
            CHECK(snapshot(w.project) == after);
        }
    }
}

TEST_CASE("a commit that fails part way (a full disk, say) is rolled back at once") {
    for (const bool two_fs : {false, true}) {
        CAPTURE(two_fs);
        int steps = 0;
        {
            World w(two_fs);
            Session s = w.stage();
            commit(s, changes(s.upper(), w.project), [&](const char*) { ++steps; });
        }
        for (int stop = 1; stop <= steps; ++stop) {
            CAPTURE(stop);
            World w(two_fs);
            const Snapshot before = snapshot(w.project);
            Session s = w.stage();
            const auto staged = changes(s.upper(), w.project);
            int n = 0;
            bool failed = false;
            std::string step_name;
            try {
                commit(s, staged, [&](const char* step) {
                    // Errors inside the operations; the steps before them are the crash cases.
                    if (++n == stop && std::string(step).starts_with("op")) {
                        step_name = step;
                        throw std::runtime_error("No space left on device");
                    }
                });
            } catch (const std::runtime_error& e) {
                failed = true;
                CHECK(std::string(e.what()).find("rolled back") != std::string::npos);
            }
            if (!failed) continue;
            CAPTURE(step_name);
            CHECK_MESSAGE(snapshot(w.project) == before, delta(snapshot(w.project), before));
            CHECK(changes(s.upper(), w.project).size() == staged.size());
            CHECK_FALSE(fs::exists(s.dir() + "/journal"));
            // Finding: after the roll-back, agentbox's own moves read as host edits.
            CHECK(find_conflicts(s, changes(s.upper(), w.project)).empty());
        }
    }
}

TEST_CASE("an undo that fails part way is rolled back: the project stays as the commit left it") {
    int steps = 0;
    {
        World w;
        Session s = w.stage();
        commit(s, changes(s.upper(), w.project));
        undo(s, false, [&](const char*) { ++steps; });
    }
    for (int stop = 1; stop <= steps; ++stop) {
        CAPTURE(stop);
        World w;
        const Snapshot before = snapshot(w.project);
        Session s = w.stage();
        commit(s, changes(s.upper(), w.project));
        const Snapshot after = snapshot(w.project);
        int n = 0;
        bool failed = false;
        try {
            undo(s, false, [&](const char* step) {
                if (++n == stop && std::string(step).starts_with("op"))
                    throw std::runtime_error("No space left on device");
            });
        } catch (const std::runtime_error& e) {
            failed = true;
            CHECK(std::string(e.what()).find("rolled back") != std::string::npos);
        }
        if (!failed) continue;
        CHECK_MESSAGE(snapshot(w.project) == after, delta(snapshot(w.project), after));
        CHECK_FALSE(fs::exists(s.dir() + "/journal"));
        // Nothing is stuck: the next undo works.
        undo(s, false);
        CHECK(snapshot(w.project) == before);
    }
}

// Finding (§8): undo removed newdir/a, failed on rmdir, left file.txt unrestored, and every
// later command failed.
TEST_CASE("undo checks every path first: a host file in a directory the commit made stops it before anything changes") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = w.stage();
    commit(s, changes(s.upper(), w.project));
    write(w.project + "/new/hostfile", "the user's\n");
    const Snapshot with_host = snapshot(w.project);
    for (const bool force : {false, true}) {
        CAPTURE(force);
        CHECK_THROWS_WITH(undo(s, force), doctest::Contains("new/hostfile"));
        CHECK(snapshot(w.project) == with_host);
        CHECK_FALSE(fs::exists(s.dir() + "/journal"));
    }
    fs::remove(w.project + "/new/hostfile");
    const UndoResult u = undo(s, false);
    CHECK(u.conflicts.empty());
    CHECK(snapshot(w.project) == before);
}

// Finding: two commits of one session at once both succeeded; the second recorded a commit of
// changes already gone, and undoing it removed files from the project.
TEST_CASE("a change set read before another commit of the session is refused, not recorded") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = w.stage();
    const auto stale = changes(s.upper(), w.project);
    commit(s, stale);
    const Snapshot after = snapshot(w.project);
    CHECK_THROWS_WITH(commit(s, stale), doctest::Contains("no longer staged"));
    CHECK(snapshot(w.project) == after);
    CHECK_FALSE(fs::exists(s.dir() + "/commits/2.json"));
    undo(s, false);
    CHECK(snapshot(w.project) == before);
}

// An approval is of the content the review read and showed: a staged file rewritten after
// that (the same bytes even: nothing tells them apart but the write), or a link put back in
// its place, is refused whole, and commits once read again.
TEST_CASE("a staged entry written after the change set was read is refused, not committed") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = w.stage();
    for (const char* how : {"rewritten", "replaced"}) {
        CAPTURE(how);
        const auto read = changes(s.upper(), w.project);
        // Past the clock tick file times are taken from (coarse: up to 10 ms), as a review
        // that waited for its answer always is.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (std::string(how) == "rewritten") {
            write(s.upper() + "/new/x", "unreviewed\n");
            write(s.upper() + "/new/x", "new file\n");
        } else {
            REQUIRE(::unlink((s.upper() + "/link").c_str()) == 0);
            REQUIRE(::symlink("README", (s.upper() + "/link").c_str()) == 0);
        }
        CHECK_THROWS_WITH(commit(s, read), doctest::Contains("changed in the session since"));
        CHECK(snapshot(w.project) == before);
        CHECK_FALSE(fs::exists(s.dir() + "/journal"));
    }
    commit(s, changes(s.upper(), w.project));
    CHECK(snapshot(w.project) == expected_after(before));
}

// Finding: commit, undo, commit again refused every renamed file ("deleted on the host"):
// agentbox's own writes changed directory ctimes it did not record.
TEST_CASE("commit, undo, commit again: agentbox's own writes are no conflict") {
    World w;
    Session s = Session::create(w.project, {"sh"});
    const std::string u = s.upper();
    // `mv README README.md` as overlayfs stages it: a whiteout, and a copy-up with its origin.
    REQUIRE(::mknod((u + "/README").c_str(), S_IFCHR | 0600, ::makedev(0, 0)) == 0);
    write(u + "/README.md", "hello\n");
    REQUIRE(::setxattr((u + "/README.md").c_str(), "user.overlay.origin", "x", 1, 0) == 0);
    write(u + "/src/sub/c.c", "c\n");
    s.set_status("staged");
    ::usleep(20000);
    commit(s, changes(s.upper(), w.project));
    undo(s, false);
    const auto again = changes(s.upper(), w.project);
    REQUIRE(again.size() == 3);
    const auto conflicts = find_conflicts(s, again);
    for (const auto& c : conflicts) MESSAGE(c.path << ": " << c.why);
    CHECK(conflicts.empty());
}

// Finding (§9): two sessions' commits of the same files at the same moment both succeeded.
TEST_CASE("the commits of two sessions of one project serialize with their conflict checks") {
    World w;
    Session a = w.stage();
    Session b = Session::create(w.project, {"sh"});
    write(b.upper() + "/README", "from b\n");
    b.set_status("staged");
    std::atomic<bool> b_done{false}, b_conflict{false};
    std::thread t;
    {
        const SessionLock held(a);
        t = std::thread([&] {
            // Waits for a's lock on the project; then a's commit is a host change for b.
            const SessionLock lb(b);
            const auto cs = changes(b.upper(), w.project);
            b_conflict = !find_conflicts(b, cs).empty();
            b_done = true;
        });
        ::usleep(100000);
        CHECK_FALSE(b_done.load());
        commit(a, changes(a.upper(), w.project));
    }
    t.join();
    CHECK(b_done.load());
    CHECK(b_conflict.load());
    CHECK(snapshot(w.project).at("README").second == "hello\nworld\n");
}

// Finding (§10): one name that is not UTF-8 made the session uncommittable (json type_error
// 316 writing the journal).
TEST_CASE("a file name that is not UTF-8 commits, survives a stop, and undoes") {
    const std::string bad = "bad-\xff-name";
    int steps = 0;
    for (int stop = 0; stop <= steps || stop == 0; ++stop) {
        CAPTURE(stop);
        World w;
        write(w.project + "/dir/" + bad, "old\n");
        const Snapshot before = snapshot(w.project);
        Session s = Session::create(w.project, {"sh"});
        write(s.upper() + "/dir/" + bad, "new\n");
        write(s.upper() + "/" + bad, "added\n");
        write(s.upper() + "/good.txt", "good\n");
        s.set_status("staged");
        int n = 0;
        try {
            commit(s, changes(s.upper(), w.project), [&](const char* step) {
                ++n;
                if (stop == 0) ++steps;
                else if (n == stop) throw Crash{step};
            });
        } catch (const Crash&) {
        }
        recover(s);
        commit(s, changes(s.upper(), w.project));
        CHECK(snapshot(w.project).at("dir/" + bad).second == "new\n");
        CHECK(snapshot(w.project).at(bad).second == "added\n");
        CHECK(find_conflicts(s, changes(s.upper(), w.project)).empty());
        undo(s, false);
        CHECK(snapshot(w.project) == before);
    }
}

// Finding (7): out of space writing the commit record, after every change was applied, was
// reported as a failed commit.
TEST_CASE("a commit applied whole whose record cannot be written says so, and is recorded next time") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = w.stage();
    try {
        commit(s, changes(s.upper(), w.project), [&](const char* step) {
            if (std::string(step) == "record") throw std::runtime_error("No space left on device");
        });
        FAIL("no error");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("every change was applied") != std::string::npos);
    }
    CHECK(snapshot(w.project) == expected_after(before));
    CHECK(recover(s));
    CHECK(fs::exists(s.dir() + "/commits/1.json"));
    undo(s, false);
    CHECK(snapshot(w.project) == before);
}

TEST_CASE("the change scan never stages agentbox's own temporaries") {
    World w;
    Session s = w.stage();
    const auto n = changes(s.upper(), w.project).size();
    write(s.upper() + "/.agentbox-tmp-0123456789ab-1-up.new", "half a copy");
    write(s.upper() + "/new/.agentbox-tmp-0123456789ab-2-pu.old", "x");
    write(w.project + "/.agentbox-tmp-0123456789ab-3-up.new", "y");
    CHECK(changes(s.upper(), w.project).size() == n);
}

// A directory `src` of agentbox's state (on /dev/shm when World(true) could put it there) and
// a directory `dst` of the project, each open, for moves that cross filesystems.
namespace {
struct CrossMove {
    World w{true};
    const fsops::MoveNames mv{".agentbox-tmp-t-1-up.new", ".agentbox-tmp-t-1-up.old"};
    const std::string src = w.state_root + "/src", dst = w.project + "/dst";
    agentbox::sys::unique_fd sd, dd;

    CrossMove() { make(); }
    void make() {
        fs::create_directories(src);
        fs::create_directories(dst);
        sd.reset(::open(src.c_str(), O_RDONLY | O_DIRECTORY));
        dd.reset(::open(dst.c_str(), O_RDONLY | O_DIRECTORY));
    }
};
}  // namespace

TEST_CASE("a cross-filesystem move cut short at any point is finished by repeating it") {
    CrossMove x;
    const fsops::MoveNames& mv = x.mv;
    const std::string &src = x.src, &dst = x.dst;
    auto reset = [&] {
        fs::remove_all(src);
        fs::remove_all(dst);
        x.make();
    };
    auto done = [&] {
        CHECK(fs::exists(dst + "/d/f"));
        CHECK_FALSE(fs::exists(src + "/d"));
        CHECK(temps_below(src) + temps_below(dst) == "");
    };
    // Cut short during the copy: the source is whole, the copy is started again.
    reset();
    write(src + "/d/f", "data");
    write(dst + "/" + mv.tmp + "/f", "da");
    CHECK(fsops::move_at(x.sd.get(), "d", x.dd.get(), "d", mv, "d"));
    done();
    // After the source was set aside, before the copy was renamed into place.
    reset();
    write(src + "/" + mv.old + "/f", "data");
    write(dst + "/" + mv.tmp + "/f", "data");
    CHECK(fsops::move_at(x.sd.get(), "d", x.dd.get(), "d", mv, "d"));
    done();
    // After the rename, before the source was removed (or while it was being removed).
    reset();
    write(src + "/" + mv.old + "/f", "data");
    write(dst + "/d/f", "data");
    CHECK(fsops::move_at(x.sd.get(), "d", x.dd.get(), "d", mv, "d"));
    done();
    // Nothing to move, a copy begun: only a leftover.
    reset();
    write(dst + "/d/f", "data");
    write(dst + "/" + mv.tmp, "half");
    CHECK_FALSE(fsops::move_at(x.sd.get(), "d", x.dd.get(), "d", mv, "d"));
    done();
}

namespace {

std::map<std::string, std::string> xattrs_of(const std::string& path) {
    std::map<std::string, std::string> out;
    char list[4096];
    const ssize_t n = ::llistxattr(path.c_str(), list, sizeof list);
    REQUIRE(n >= 0);
    for (ssize_t at = 0; at < n;) {
        const std::string name(list + at);
        at += static_cast<ssize_t>(name.size()) + 1;
        char v[256];
        const ssize_t m = ::lgetxattr(path.c_str(), name.c_str(), v, sizeof v);
        REQUIRE(m >= 0);
        out[name] = std::string(v, static_cast<std::size_t>(m));
    }
    return out;
}

// A default ACL (Linux's xattr form: version 2, then tag, permissions, id) that gives uid
// 4242 read: what is made in the directory inherits an access ACL from it.
std::string default_acl() {
    std::string a;
    auto u32 = [&](std::uint32_t v) { a.append(reinterpret_cast<const char*>(&v), 4); };
    auto entry = [&](std::uint16_t tag, std::uint16_t perm, std::uint32_t id) {
        a.append(reinterpret_cast<const char*>(&tag), 2);
        a.append(reinterpret_cast<const char*>(&perm), 2);
        u32(id);
    };
    u32(2);
    entry(0x01, 7, ~0u);   // owner
    entry(0x02, 4, 4242);  // a named user
    entry(0x04, 5, ~0u);   // owning group
    entry(0x10, 5, ~0u);   // mask
    entry(0x20, 5, ~0u);   // other
    return a;
}

}  // namespace

TEST_CASE("a move across filesystems lands exactly the owner-settable xattrs a rename would") {
    CrossMove x;
    const fsops::MoveNames& mv = x.mv;
    const std::string &src = x.src, &dst = x.dst;
    struct stat a {}, b {};
    REQUIRE(::stat(src.c_str(), &a) == 0);
    REQUIRE(::stat(dst.c_str(), &b) == 0);
    if (a.st_dev == b.st_dev) return;  // /dev/shm is not another filesystem here
    write(src + "/f", "data", 0444);
    write(src + "/d/g", "x");
    if (::setxattr((src + "/f").c_str(), "user.host", "1", 1, 0) != 0) return;  // no user xattrs
    REQUIRE(::setxattr((src + "/d").c_str(), "user.dir", "2", 1, 0) == 0);
    REQUIRE(::setxattr((src + "/d/g").c_str(), "user.g", "3", 1, 0) == 0);
    // What is made at the destination inherits an ACL there; a rename would bring none.
    const std::string acl = default_acl();
    const bool inherits =
        ::setxattr(dst.c_str(), "system.posix_acl_default", acl.data(), acl.size(), 0) == 0;
    CHECK(fsops::move_at(x.sd.get(), "f", x.dd.get(), "f", mv, "f"));
    CHECK(fsops::move_at(x.sd.get(), "d", x.dd.get(), "d", mv, "d"));
    using X = std::map<std::string, std::string>;
    CHECK(xattrs_of(dst + "/f") == X{{"user.host", "1"}});
    CHECK(xattrs_of(dst + "/d") == X{{"user.dir", "2"}});
    CHECK(xattrs_of(dst + "/d/g") == X{{"user.g", "3"}});
    struct stat f {};
    REQUIRE(::stat((dst + "/f").c_str(), &f) == 0);
    CHECK((f.st_mode & 07777) == 0444);
    if (inherits) {
        // The probe: a file made there does inherit one.
        write(dst + "/probe", "p");
        CHECK(xattrs_of(dst + "/probe").count("system.posix_acl_access") == 1);
    }
}

// The first pass puts a new file with one rename (RENAME_NOREPLACE): a host file created at
// that path after the change set was read is never overwritten; the general path moves it to
// the backup, and undo brings it back.
TEST_CASE("a new file whose path the host created after the change set was read keeps the host's file for undo") {
    World w;
    Session s = Session::create(w.project, {"sh"});
    write(s.upper() + "/src/new.c", "from the sandbox\n");
    write(s.upper() + "/other/x", "x\n");
    s.set_status("staged");
    const auto cs = changes(s.upper(), w.project);
    write(w.project + "/src/new.c", "the host's\n");  // after the scan and the conflict check
    commit(s, cs);
    std::ifstream in(w.project + "/src/new.c");
    std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(got == "from the sandbox\n");
    CHECK(fs::exists(w.project + "/other/x"));
    undo(s, false);
    std::ifstream back(w.project + "/src/new.c");
    std::string restored((std::istreambuf_iterator<char>(back)), std::istreambuf_iterator<char>());
    CHECK(restored == "the host's\n");
    CHECK_FALSE(fs::exists(w.project + "/other"));
}

// Many new files in a few directories (the directory cache, the one-rename put, touched.json
// in a map): all land with their content and mode, commit again after undo without conflicts.
TEST_CASE("a commit of many new files in shared directories lands them all and undoes cleanly") {
    World w;
    const Snapshot before = snapshot(w.project);
    Session s = Session::create(w.project, {"sh"});
    for (int i = 0; i < 300; ++i)
        write(s.upper() + "/gen/" + std::to_string(i % 7) + "/f" + std::to_string(i),
              "data " + std::to_string(i) + "\n", i % 2 ? 0755 : 0600);
    s.set_status("staged");
    const auto cs = changes(s.upper(), w.project);
    CHECK(find_conflicts(s, cs).empty());
    const CommitResult r = commit(s, cs);
    CHECK(r.applied.size() == 308);
    for (int i = 0; i < 300; ++i) {
        const std::string p = w.project + "/gen/" + std::to_string(i % 7) + "/f" + std::to_string(i);
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        // landing_mode: executable files 0777 & ~umask, others 0666 & ~umask
        const mode_t um = ::umask(0);
        ::umask(um);
        CHECK((st.st_mode & 0777) == ((i % 2 ? 0777 : 0666) & ~um));
    }
    CHECK(changes(s.upper(), w.project).empty());
    undo(s, false);
    CHECK(snapshot(w.project) == before);
    const auto again = changes(s.upper(), w.project);
    CHECK(again.size() == 308);
    CHECK(find_conflicts(s, again).empty());
    commit(s, again);
    CHECK(changes(s.upper(), w.project).empty());
}
