// Journaled commit and undo. The journal names every operation before the first is done; each
// operation can be repeated after a crash and ends in the same state, so recovery is "do them
// all again". What an operation replaces is moved, never deleted, into backup/<commit>/<n>.
#include "stage/commit.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "stage/fsops.hpp"
#include "stage/patch.hpp"
#include "stage/snapshot.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/remove.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

using sys::SysError;
using sys::unique_fd;
using json = nlohmann::ordered_json;

namespace {

struct Op {
    std::string op;    // commit: put | mkdir | del;  undo: unput | unmkdir | undel
    std::string path;  // relative to the project
    int n = 0;         // backup/<number>/<n>
    unsigned mode = 0;         // mkdir: the mode to set
    unsigned old_mode = 0;     // mkdir of an existing directory: the mode undo restores
    bool existed_dir = false;  // mkdir: the project already had a directory here
    std::string hash;          // put: what it wrote, for undo's conflict check
};

struct Journal {
    std::string kind;  // commit | undo
    int number = 0;
    std::string state;  // prepared | applying
    std::vector<Op> ops;
};

json to_json(const Journal& j) {
    json out;
    out["v"] = 1;
    out["kind"] = j.kind;
    out["number"] = j.number;
    out["state"] = j.state;
    json ops = json::array();
    for (const auto& o : j.ops) {
        json e;
        e["op"] = o.op;
        e["path"] = o.path;
        e["n"] = o.n;
        if (o.mode != 0) e["mode"] = o.mode;
        if (o.old_mode != 0) e["old_mode"] = o.old_mode;
        if (o.existed_dir) e["existed_dir"] = true;
        if (!o.hash.empty()) e["hash"] = o.hash;
        ops.push_back(std::move(e));
    }
    out["ops"] = std::move(ops);
    return out;
}

Journal from_json(const std::string& text, const std::string& shown) {
    try {
        const auto j = json::parse(text);
        Journal out;
        out.kind = j.at("kind").get<std::string>();
        out.number = j.at("number").get<int>();
        out.state = j.at("state").get<std::string>();
        for (const auto& e : j.at("ops")) {
            Op o;
            o.op = e.at("op").get<std::string>();
            o.path = e.at("path").get<std::string>();
            o.n = e.at("n").get<int>();
            o.mode = e.value("mode", 0u);
            o.old_mode = e.value("old_mode", 0u);
            o.existed_dir = e.value("existed_dir", false);
            o.hash = e.value("hash", std::string());
            out.ops.push_back(std::move(o));
        }
        return out;
    } catch (const json::exception& e) {
        throw std::runtime_error(shown + ": malformed: " + e.what());
    }
}

long long ctime_ns(const struct stat& st) {
    return static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
}

// Held for the whole of a commit, undo, discard or recovery: one per session, one per project,
// so that neither two commands on one session nor commits of two sessions into one project
// interleave.
class Locks {
public:
    Locks(const Session& s, int project_fd) {
        const std::string lock = s.dir() + "/lock";
        session_.reset(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!session_) throw SysError("open", lock, errno);
        take(session_.get(), lock);
        take(project_fd, s.meta().project);
    }

private:
    static void take(int fd, const std::string& shown) {
        while (::flock(fd, LOCK_EX) != 0)
            if (errno != EINTR) throw SysError("flock", shown, errno);
    }
    unique_fd session_;
};

class Engine {
public:
    Engine(Session& s, const StepHook& hook) : s_(s), hook_(hook) {
        root_.reset(::open(s.meta().project.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_) throw SysError("open", s.meta().project, errno);
        upper_.reset(::open(s.upper().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!upper_) throw SysError("open", s.upper(), errno);
        locks_.emplace(s, root_.get());
    }

    std::string journal_path() const { return s_.dir() + "/journal"; }
    std::string backup_dir(int number) const {
        return s_.dir() + "/backup/" + std::to_string(number);
    }
    std::string record_path(int number) const {
        return s_.dir() + "/commits/" + std::to_string(number) + ".json";
    }
    std::string undone_path(int number) const {
        return s_.dir() + "/commits/" + std::to_string(number) + ".undone";
    }

    bool recover() {
        const std::string jp = journal_path();
        if (::access(jp.c_str(), F_OK) != 0) return false;
        Journal j = from_json(sys::read_file(jp, O_NOFOLLOW), jp);
        if (j.state == "prepared") {
            // Nothing was done yet: forget it.
            sys::remove_contents(backup_dir(j.number));
            ::rmdir(backup_dir(j.number).c_str());
            if (::unlink(jp.c_str()) != 0) throw SysError("unlink", jp, errno);
            fsops::fsync_dir(s_.dir());
            return true;
        }
        run(j);
        return true;
    }

    // Numbers of commits that have a record and no undo, newest last.
    std::vector<int> live_commits() const {
        std::vector<int> out;
        for (int n = 1;; ++n) {
            if (::access(record_path(n).c_str(), F_OK) != 0) break;
            if (::access(undone_path(n).c_str(), F_OK) != 0) out.push_back(n);
        }
        return out;
    }
    int next_number() const {
        int n = 1;
        while (::access(record_path(n).c_str(), F_OK) == 0) ++n;
        return n;
    }

    CommitResult commit(const std::vector<Change>& selected) {
        Journal j;
        j.kind = "commit";
        j.number = next_number();
        j.state = "prepared";
        CommitResult res;
        res.number = j.number;
        int n = 0;
        for (const auto& c : selected) {
            if (!c.refused.empty())
                throw std::runtime_error("refusing to commit " + util::quote(c.path) + ": " +
                                         c.refused);
            if (c.kind == Kind::replaced && (c.old_mode & 07777) == (c.new_mode & 07777))
                continue;  // a marker: its deletions and additions are their own changes
            Op o;
            o.path = c.path;
            o.n = ++n;
            if (c.kind == Kind::deleted) {
                o.op = "del";
            } else if (S_ISDIR(c.new_mode)) {
                o.op = "mkdir";
                o.mode = landing_mode(c.new_mode, c.old_mode, process_umask());
                o.existed_dir = S_ISDIR(c.old_mode);
                if (o.existed_dir) o.old_mode = c.old_mode & 01777;
            } else {
                o.op = "put";
                o.hash = c.hash;
            }
            if (c.setid) res.stripped.push_back(c.path);
            res.applied.push_back(c.path);
            j.ops.push_back(std::move(o));
        }
        if (j.ops.empty()) return res;
        step("journal");
        fsops::write_file_atomic(journal_path(), to_json(j).dump() + "\n");
        // What the command wrote may still be in the page cache: make it durable before the
        // journal says the project may be changed, so a crash cannot leave renamed-in files
        // without their data.
        step("sync");
        if (::syncfs(upper_.get()) != 0) throw SysError("syncfs", s_.upper(), errno);
        run(j);
        return res;
    }

    UndoResult undo(bool force) {
        UndoResult res;
        const auto live = live_commits();
        if (live.empty()) throw std::runtime_error("session " + s_.meta().id +
                                                   " has no commit to undo");
        const int number = live.back();
        const Journal done =
            from_json(sys::read_file(record_path(number), O_NOFOLLOW), record_path(number));
        res.number = number;
        Journal j;
        j.kind = "undo";
        j.number = number;
        j.state = "prepared";
        for (auto it = done.ops.rbegin(); it != done.ops.rend(); ++it) {
            Op o = *it;
            o.op = "un" + it->op;
            res.restored.push_back(o.path);
            j.ops.push_back(std::move(o));
        }
        res.conflicts = undo_conflicts(done);
        if (!res.conflicts.empty() && !force) {
            res.restored.clear();
            return res;
        }
        step("journal");
        fsops::write_file_atomic(journal_path(), to_json(j).dump() + "\n");
        run(j);
        return res;
    }

private:
    void step(const char* name) {
        if (hook_) hook_(name);
    }

    std::vector<Conflict> undo_conflicts(const Journal& done) {
        std::vector<Conflict> out;
        for (const auto& o : done.ops) {
            const auto [dir, name] = fsops::split_parent(o.path);
            struct stat st {};
            bool present = false;
            unique_fd p;
            try {
                p = fsops::open_dir_beneath(root_.get(), dir, o.path);
                present = fsops::exists_at(p.get(), name, &st);
            } catch (const SysError&) {
                present = false;
            }
            if (o.op == "del" && present) {
                out.push_back({o.path, "exists again on the host"});
            } else if (o.op == "mkdir" && (!present || !S_ISDIR(st.st_mode))) {
                out.push_back({o.path, "is no longer the directory the commit made"});
            } else if (o.op == "put") {
                if (!present) {
                    out.push_back({o.path, "was removed since the commit"});
                    continue;
                }
                std::string now;
                if (S_ISREG(st.st_mode)) {
                    now = hash_file(p.get(), name, o.path);
                } else if (S_ISLNK(st.st_mode)) {
                    char buf[4096];
                    const ssize_t len = ::readlinkat(p.get(), name.c_str(), buf, sizeof buf);
                    if (len >= 0) now = hash_bytes(std::string_view(buf, static_cast<std::size_t>(len)));
                }
                if (now != o.hash) out.push_back({o.path, "changed since the commit"});
            }
        }
        return out;
    }

    void run(Journal& j) {
        if (j.state != "applying") {
            step("applying");
            j.state = "applying";
            fsops::write_file_atomic(journal_path(), to_json(j).dump() + "\n");
        }
        const std::string bdir = backup_dir(j.number);
        unique_fd backup;
        {
            const std::string parent = s_.dir() + "/backup";
            if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST)
                throw SysError("mkdir", parent, errno);
            if (::mkdir(bdir.c_str(), 0700) != 0 && errno != EEXIST)
                throw SysError("mkdir", bdir, errno);
            backup.reset(::open(bdir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!backup) throw SysError("open", bdir, errno);
        }
        std::size_t done = 0;
        try {
            for (const auto& o : j.ops) {
                step("op");
                apply(o, backup.get());
                ++done;
            }
        } catch (const std::exception& e) {
            // A failure that is not a crash (a full disk, a permission, a path that turned
            // into a symlink): put back what was done, so the project is as before.
            if (j.kind != "commit") throw;
            roll_back(j, done, backup.get(), e.what());
        }
        step("finish");
        // Directory modes last: a read-only directory must not stop its own entries.
        for (auto it = j.ops.rbegin(); it != j.ops.rend(); ++it) {
            if (it->op != "mkdir" || it->mode == 0) continue;
            unique_fd d(open_rw_dir(it->path));
            if (d && ::fchmod(d.get(), it->mode & 01777) != 0)
                throw SysError("chmod", it->path, errno);
        }
        if (::syncfs(root_.get()) != 0) throw SysError("syncfs", s_.meta().project, errno);
        remember_ctimes(j);
        const std::string cdir = s_.dir() + "/commits";
        if (::mkdir(cdir.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir", cdir, errno);
        if (j.kind == "commit") {
            Journal rec = j;
            rec.state = "done";
            fsops::write_file_atomic(record_path(j.number), to_json(rec).dump() + "\n");
        } else {
            fsops::write_file_atomic(undone_path(j.number), "");
            // An undone commit's backups went back into the project; the directory is empty.
            ::rmdir(bdir.c_str());
        }
        if (::unlink(journal_path().c_str()) != 0 && errno != ENOENT)
            throw SysError("unlink", journal_path(), errno);
        fsops::fsync_dir(s_.dir());
    }

    [[noreturn]] void roll_back(const Journal& j, std::size_t done, int backup,
                                const std::string& why) {
        // The operation that failed may be half done: it is undone too. Undo operations
        // tolerate every intermediate state.
        const std::size_t upto = std::min(done + 1, j.ops.size());
        try {
            for (std::size_t i = upto; i-- > 0;) {
                Op o = j.ops[i];
                o.op = "un" + o.op;
                apply(o, backup);
            }
        } catch (const std::exception& e2) {
            // The journal stays "applying": the next command that touches the session
            // finishes the commit once the cause is gone.
            throw std::runtime_error("commit failed (" + why + ") and could not be rolled back (" +
                                     e2.what() + "); it will be completed the next time the "
                                     "session is used");
        }
        sys::remove_contents(backup_dir(j.number));
        ::rmdir(backup_dir(j.number).c_str());
        if (::unlink(journal_path().c_str()) != 0 && errno != ENOENT)
            throw SysError("unlink", journal_path(), errno);
        fsops::fsync_dir(s_.dir());
        throw std::runtime_error("commit failed: " + why +
                                 "; rolled back, the project is as it was and the changes stay "
                                 "staged");
    }

    unique_fd open_rw_dir(const std::string& rel) {
        unique_fd p = fsops::open_dir_beneath(root_.get(), rel, rel);
        // Reopen the O_PATH fd for fchmod; /proc/self/fd keeps it the same inode.
        const std::string proc = "/proc/self/fd/" + std::to_string(p.get());
        return unique_fd(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }

    // Move what is at the project path into the backup slot, unless it is already there (a
    // repeated operation); then the project path is free.
    void clear_target(int pdir, const std::string& name, int backup, const std::string& slot,
                      const std::string& shown) {
        if (!fsops::exists_at(pdir, name)) return;
        if (!fsops::exists_at(backup, slot)) fsops::move_at(pdir, name, backup, slot, shown);
        else sys::remove_at(pdir, name, shown);
    }

    void apply(const Op& o, int backup) {
        const auto [dir, name] = fsops::split_parent(o.path);
        const std::string slot = std::to_string(o.n);
        const std::string& shown = o.path;
        if (o.op == "put") {
            unique_fd p = fsops::open_dir_beneath(root_.get(), dir, shown);
            unique_fd u = fsops::open_dir_beneath(upper_.get(), dir, shown);
            struct stat st {};
            if (!fsops::exists_at(u.get(), name, &st)) return;  // already moved into place
            // Only the modes the diff shows land (patch.hpp, landing_mode); setid bits never.
            // The project's entry is at the path, or already in its slot on a replay.
            struct stat old {};
            if (!fsops::exists_at(backup, slot, &old) && !fsops::exists_at(p.get(), name, &old))
                old.st_mode = 0;
            clear_target(p.get(), name, backup, slot, shown);
            step("op:cleared");
            static const mode_t umask = process_umask();
            const mode_t want = landing_mode(st.st_mode, old.st_mode, umask);
            if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != want &&
                ::fchmodat(u.get(), name.c_str(), want, 0) != 0)
                throw SysError("chmod", shown, errno);
            if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
                // A hard link inside upper/ would tie two project paths to one inode.
                fsops::copy_into(u.get(), name, p.get(), name, shown);
                if (::unlinkat(u.get(), name.c_str(), 0) != 0) throw SysError("unlink", shown, errno);
            } else {
                fsops::move_at(u.get(), name, p.get(), name, shown);
            }
        } else if (o.op == "mkdir") {
            unique_fd p = fsops::open_dir_beneath(root_.get(), dir, shown);
            struct stat st {};
            if (fsops::exists_at(p.get(), name, &st) && S_ISDIR(st.st_mode)) return;
            clear_target(p.get(), name, backup, slot, shown);
            step("op:cleared");
            if (::mkdirat(p.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
                throw SysError("mkdir", shown, errno);
        } else if (o.op == "del") {
            unique_fd p = fsops::open_dir_beneath(root_.get(), dir, shown);
            clear_target(p.get(), name, backup, slot, shown);
        } else if (o.op == "unput" || o.op == "unmkdir" || o.op == "undel") {
            unique_fd p;
            try {
                p = fsops::open_dir_beneath(root_.get(), dir, shown);
            } catch (const SysError& e) {
                // Undo runs children before parents: a parent already gone (or a file again)
                // means a repeated undo has passed this entry.
                if (e.err() == ENOENT || e.err() == ENOTDIR) return;
                throw;
            }
            unique_fd u = fsops::make_dirs_beneath(upper_.get(), dir, shown);
            struct stat st {};
            const bool present = fsops::exists_at(p.get(), name, &st);
            if (o.op == "unput" && present && !fsops::exists_at(u.get(), name)) {
                // What the commit wrote goes back to being staged.
                fsops::move_at(p.get(), name, u.get(), name, shown);
                step("op:cleared");
            } else if (o.op == "unmkdir" && present && S_ISDIR(st.st_mode) && o.existed_dir) {
                unique_fd d(open_rw_dir(o.path));
                if (d && o.old_mode != 0 && ::fchmod(d.get(), o.old_mode) != 0)
                    throw SysError("chmod", shown, errno);
            } else if (o.op == "unmkdir" && present && S_ISDIR(st.st_mode)) {
                if (::mkdirat(u.get(), name.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST)
                    throw SysError("mkdir", shown, errno);
                if (::unlinkat(p.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
                    throw SysError("rmdir", shown, errno);
            } else if (o.op == "undel" && !fsops::exists_at(u.get(), name)) {
                // Stage the deletion again: a whiteout, as overlayfs writes it. Creating a
                // 0/0 character device needs no privilege since Linux 5.8; without it the
                // deletion is simply no longer staged, and nothing is lost.
                ::mknodat(u.get(), name.c_str(), S_IFCHR | 0600, ::makedev(0, 0));
            }
            if (fsops::exists_at(backup, slot) && !fsops::exists_at(p.get(), name))
                fsops::move_at(backup, slot, p.get(), name, shown);
        } else {
            throw std::runtime_error("journal: unknown operation " + util::quote(o.op));
        }
    }

    // The ctime each path has after we wrote it: our own writes are not host edits.
    void remember_ctimes(const Journal& j) {
        const std::string path = s_.dir() + "/touched.json";
        json t = json::object();
        if (::access(path.c_str(), F_OK) == 0) {
            try {
                t = json::parse(sys::read_file(path, O_NOFOLLOW));
            } catch (const json::exception&) {
                t = json::object();
            }
        }
        for (const auto& o : j.ops) {
            const auto [dir, name] = fsops::split_parent(o.path);
            struct stat st {};
            try {
                unique_fd p = fsops::open_dir_beneath(root_.get(), dir, o.path);
                if (fsops::exists_at(p.get(), name, &st)) t[o.path] = ctime_ns(st);
            } catch (const SysError&) {
            }
        }
        fsops::write_file_atomic(path, t.dump() + "\n");
    }

    Session& s_;
    StepHook hook_;  // a copy: callers pass temporaries ({})
    unique_fd root_, upper_;
    std::optional<Locks> locks_;
};

}  // namespace

namespace {

// Whether upper/PATH is a copy-up of a project file: overlay.origin set by overlayfs, or its
// equivalent set by the copy strategy (snapshot.hpp). A command can set the latter on its own
// files; that only ever adds a conflict.
bool copied_up(const std::string& upper, const std::string& path) {
    const auto [dir, name] = fsops::split_parent(path);
    unique_fd u(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!u) return false;
    try {
        unique_fd d = fsops::open_dir_beneath(u.get(), dir, path);
        unique_fd f(::openat(d.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        if (!f) return false;
        for (const char* x : {"user.overlay.origin", "trusted.overlay.origin", kOriginXattr})
            if (::fgetxattr(f.get(), x, nullptr, 0) >= 0) return true;
    } catch (const SysError&) {
    }
    return false;
}

}  // namespace

std::vector<Conflict> find_conflicts(const Session& s, const std::vector<Change>& cs) {
    std::map<std::string, long long> touched;
    const std::string tpath = s.dir() + "/touched.json";
    if (::access(tpath.c_str(), F_OK) == 0) {
        try {
            const json t = json::parse(sys::read_file(tpath, O_NOFOLLOW));
            for (auto it = t.begin(); it != t.end(); ++it) touched[it.key()] = it->get<long long>();
        } catch (const json::exception&) {
        }
    }
    unique_fd root(::open(s.meta().project.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw SysError("open", s.meta().project, errno);
    const long long since = s.meta().start_ns;
    std::vector<Conflict> out;

    auto newer = [&](const std::string& path, const struct stat& st) {
        const long long c = ctime_ns(st);
        if (c <= since) return false;
        const auto it = touched.find(path);
        return it == touched.end() || it->second != c;
    };
    // A directory to be deleted: any entry below it edited on the host is a conflict.
    bool found = false;
    std::function<void(int, const std::string&, int)> scan = [&](int dfd, const std::string& rel,
                                                                  int depth) {
        if (depth > 256 || found) return;
        std::vector<sys::DirEntry> entries;
        try {
            entries = sys::read_dir(dfd, rel);
        } catch (const sys::SysError&) {
            return;  // unreadable: nothing in it can be told apart
        }
        for (const auto& [nm, type] : entries) {
            struct stat st {};
            if (::fstatat(dfd, nm.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            const std::string child = rel + "/" + nm;
            if (!S_ISDIR(st.st_mode)) {
                if (newer(child, st)) {
                    out.push_back({child, "changed on the host since the session started"});
                    found = true;
                    return;
                }
                continue;
            }
            unique_fd sub(::openat(dfd, nm.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (sub) scan(sub.get(), child, depth + 1);
        }
    };

    for (const auto& c : cs) {
        const auto [dir, name] = fsops::split_parent(c.path);
        unique_fd p;
        try {
            p = fsops::open_dir_beneath(root.get(), dir, c.path);
        } catch (const SysError& e) {
            // Its parent is new too, or replaces a file (a type change judged on its own).
            if (e.err() == ENOENT || e.err() == ENOTDIR) continue;
            out.push_back({c.path, std::string("cannot be resolved inside the project: ") + e.what()});
            continue;
        }
        struct stat st {};
        if (!fsops::exists_at(p.get(), name, &st)) {
            // Absent now but copied up from the project: overlayfs marks a copy-up with
            // overlay.origin (the command cannot set it: its own overlay.* xattrs are escaped).
            // With the directory changed on the host too, the host deleted what the command
            // edited; committing would bring it back unasked.
            struct stat pst {};
            if (c.kind == Kind::added && !S_ISDIR(c.new_mode) && ::fstat(p.get(), &pst) == 0 &&
                newer(dir, pst) && copied_up(s.upper(), c.path))
                out.push_back({c.path, "was deleted on the host since the session started"});
            continue;
        }
        if (c.kind == Kind::added) {
            out.push_back({c.path, "was created on the host since the session started"});
        } else if (S_ISDIR(st.st_mode)) {
            if ((st.st_mode & S_IFMT) != (c.old_mode & S_IFMT))
                out.push_back({c.path, "changed type on the host"});
            else if (c.kind == Kind::deleted || c.kind == Kind::type) {
                unique_fd sub(::openat(p.get(), name.c_str(),
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                found = false;
                if (sub) scan(sub.get(), c.path, 0);
            }
        } else if (newer(c.path, st)) {
            out.push_back({c.path, "changed on the host since the session started"});
        }
    }
    return out;
}

CommitResult commit(Session& s, const std::vector<Change>& selected, const StepHook& hook) {
    Engine e(s, hook);
    e.recover();
    CommitResult r = e.commit(selected);
    return r;
}

UndoResult undo(Session& s, bool force, const StepHook& hook) {
    Engine e(s, hook);
    e.recover();
    return e.undo(force);
}

bool recover(Session& s) {
    if (::access((s.dir() + "/journal").c_str(), F_OK) != 0) return false;
    Engine e(s, {});
    return e.recover();
}

void discard(Session& s) {
    Engine e(s, {});
    e.recover();
    sys::remove_contents(s.upper());
    s.set_status("discarded");
}

}  // namespace agentbox::stage
