// Temporary project/ upper/ trees for the diff and export tests, and the oracle: the tree a
// commit of the changes should leave (the project with upper/ laid over it as the changes say).
#pragma once

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "stage/changes.hpp"
#include "../temp_dir.hpp"

namespace agentbox::stage::test {

namespace fs = std::filesystem;

// Path -> kind of a change set, for checks that name a few paths.
inline std::map<std::string, Kind> kinds(const std::vector<Change>& cs) {
    std::map<std::string, Kind> m;
    for (const auto& c : cs) m[c.path] = c.kind;
    return m;
}

inline std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void spit(const std::string& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    REQUIRE(out.good());
}

// A golden file under tests/data/<dir>/; AGENTBOX_UPDATE_GOLDENS=1 rewrites it.
inline void check_golden(const std::string& rel, const std::string& actual) {
    const std::string path = std::string(AGENTBOX_TEST_DATA) + "/" + rel;
    if (const char* u = std::getenv("AGENTBOX_UPDATE_GOLDENS"); u && std::string(u) == "1") {
        fs::create_directories(fs::path(path).parent_path());
        spit(path, actual);
        return;
    }
    INFO("golden ", path, " (AGENTBOX_UPDATE_GOLDENS=1 to regenerate)");
    CHECK(actual == slurp(path));
}

struct Trees {
    agentbox::test::TempDir tmp{"diff-test"};
    std::string root, project, upper;
    std::vector<Change> changes;

    Trees() {
        ::umask(022);
        root = tmp.path();
        project = root + "/project";
        upper = root + "/upper";
        fs::create_directory(project);
        fs::create_directory(upper);
    }
    Trees(const Trees&) = delete;
    Trees& operator=(const Trees&) = delete;

    static void file(const std::string& dir, const std::string& rel, const std::string& data,
                     mode_t mode = 0644) {
        const std::string p = dir + "/" + rel;
        fs::create_directories(fs::path(p).parent_path());
        spit(p, data);
        REQUIRE(::chmod(p.c_str(), mode) == 0);
    }
    static void link(const std::string& dir, const std::string& rel, const std::string& target) {
        const std::string p = dir + "/" + rel;
        fs::create_directories(fs::path(p).parent_path());
        REQUIRE(::symlink(target.c_str(), p.c_str()) == 0);
    }
    static void dir(const std::string& d, const std::string& rel, mode_t mode = 0755) {
        const std::string p = d + "/" + rel;
        fs::create_directories(p);
        REQUIRE(::chmod(p.c_str(), mode) == 0);
    }

    static mode_t lmode(const std::string& p) {
        struct ::stat st {};
        if (::lstat(p.c_str(), &st) != 0) return 0;
        return st.st_mode;
    }

    // Record a change of `rel`, with the modes read from both trees as changes() would.
    Change& change(Kind k, const std::string& rel) {
        Change c;
        c.path = rel;
        c.kind = k;
        c.old_mode = lmode(project + "/" + rel);
        c.new_mode = k == Kind::deleted ? 0 : lmode(upper + "/" + rel);
        const std::string up = upper + "/" + rel;
        if (S_ISREG(c.new_mode)) c.size = fs::file_size(up);
        if (S_ISLNK(c.new_mode)) {
            c.link_target = fs::read_symlink(up).string();
            c.size = c.link_target.size();
        }
        changes.push_back(c);
        return changes.back();
    }

    // Copy `from` into the directory `to` (created), keeping modes and symlinks.
    static void copy_tree(const std::string& from, const std::string& to) {
        fs::create_directories(to);
        fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }

    // The project as a commit of `changes` leaves it.
    std::string expected() const {
        const std::string e = root + "/expected";
        copy_tree(project, e);
        for (const Change& c : changes) {
            const std::string dst = e + "/" + c.path;
            const std::string src = upper + "/" + c.path;
            if (!c.refused.empty()) continue;
            switch (c.kind) {
                case Kind::deleted: fs::remove_all(dst); break;
                case Kind::type:
                case Kind::added:
                case Kind::modified:
                case Kind::mode:
                    if (c.kind == Kind::mode && S_ISDIR(c.new_mode)) {
                        ::chmod(dst.c_str(), c.new_mode & 07777);
                        break;
                    }
                    fs::remove_all(dst);
                    if (S_ISDIR(c.new_mode)) {
                        fs::create_directory(dst);
                        ::chmod(dst.c_str(), c.new_mode & 07777);
                    } else {
                        fs::copy(src, dst, fs::copy_options::copy_symlinks);
                    }
                    break;
                case Kind::replaced: break;
            }
        }
        return e;
    }
};

// A tree as text: every entry with its type, git-visible mode and content or target, for
// byte-for-byte comparison of two trees.
inline std::map<std::string, std::string> listing(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
         ++it) {
        const std::string rel = fs::relative(it->path(), dir).string();
        const std::string p = it->path().string();
        struct ::stat st {};
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        if (S_ISDIR(st.st_mode)) out[rel] = "dir";
        else if (S_ISLNK(st.st_mode)) out[rel] = "link -> " + fs::read_symlink(p).string();
        else
            out[rel] = std::string((st.st_mode & S_IXUSR) ? "exec " : "file ") + slurp(p);
    }
    return out;
}

// Run a shell command; its exit status.
inline int sh(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

}  // namespace agentbox::stage::test
