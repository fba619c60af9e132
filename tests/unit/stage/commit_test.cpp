// Journaled commit and undo: the result, and recovery after a stop at every step — the project
// is always exactly as before or exactly as after, never between.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "stage/changes.hpp"
#include "stage/commit.hpp"
#include "stage/session.hpp"

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
    std::string root, project;
    World() {
        char tmpl[] = "/tmp/agentbox-commit-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
        project = root + "/project";
        ::setenv("XDG_STATE_HOME", (root + "/state").c_str(), 1);
        ::setenv("XDG_CONFIG_HOME", (root + "/config").c_str(), 1);  // session-file MAC key
        write(project + "/README", "hello\n");
        write(project + "/src/a.c", "a\n");
        write(project + "/src/sub/b.c", "b\n");
        write(project + "/run.sh", "#!/bin/sh\n", 0644);
    }
    ~World() {
        std::error_code ec;
        fs::remove_all(root, ec);
        ::unsetenv("XDG_STATE_HOME");
        ::unsetenv("XDG_CONFIG_HOME");
    }
    // A session whose upper/ holds: README modified, src deleted, new/x added, run.sh +x,
    // a symlink, a setuid file, and a replaced directory.
    Session stage() {
        Session s = Session::create(project, {"sh"});
        const std::string u = s.upper();
        write(u + "/README", "hello\nworld\n");
        REQUIRE(::mknod((u + "/src").c_str(), S_IFCHR | 0600, ::makedev(0, 0)) == 0);
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

TEST_CASE("a commit stopped at any step is rolled back or forward, never left between") {
    // Count the steps of one full commit, then stop at each of them in turn.
    int steps = 0;
    {
        World w;
        Session s = w.stage();
        commit(s, changes(s.upper(), w.project), [&](const char*) { ++steps; });
    }
    REQUIRE(steps > 10);
    for (int stop = 1; stop <= steps; ++stop) {
        CAPTURE(stop);
        World w;
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
    }
}

TEST_CASE("an undo stopped at any step is finished by recovery") {
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
        try {
            undo(s, false, [&](const char* step) {
                if (++n == stop) throw Crash{step};
            });
        } catch (const Crash&) {
        }
        recover(s);
        const Snapshot now = snapshot(w.project);
        CHECK((now == before || now == after));
    }
}

TEST_CASE("a commit that fails part way (a full disk, say) is rolled back at once") {
    int steps = 0;
    {
        World w;
        Session s = w.stage();
        commit(s, changes(s.upper(), w.project), [&](const char*) { ++steps; });
    }
    for (int stop = 1; stop <= steps; ++stop) {
        CAPTURE(stop);
        World w;
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
    }
}
