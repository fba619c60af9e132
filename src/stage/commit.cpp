// Journaled commit and undo. The journal names every operation before the first is done; each
// operation can be repeated after a crash and ends in the same state, so recovery is "do them
// all again". What an operation replaces is moved, never deleted, into backup/<commit>/<n>.
#include "stage/commit.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <cerrno>
#include <cstdio>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "stage/fsops.hpp"
#include "stage/patch.hpp"
#include "stage/snapshot.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/random.hpp"
#include "sys/remove.hpp"
#include "sys/rename.hpp"
#include "sys/stat_times.hpp"
#include "sys/walk.hpp"
#include "sys/xattr.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

using sys::SysError;
using sys::unique_fd;
using json = nlohmann::ordered_json;

namespace {

// --- names in agentbox's own files --------------------------------------------------------
// A file name is any byte string but JSON strings are UTF-8: a name that is not valid UTF-8 is
// stored as NUL, 'x', then its bytes in hex. No file name contains NUL, so both forms read back
// unambiguously, and every valid name reads as itself.

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

std::string encode_name(const std::string& name) {
    if (valid_utf8(name)) return name;
    static const char digits[] = "0123456789abcdef";
    std::string out("\0x", 2);
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

std::string decode_name(const std::string& stored) {
    if (stored.size() < 2 || stored[0] != '\0' || stored[1] != 'x') return stored;
    auto val = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        throw std::runtime_error("journal: malformed encoded name");
    };
    if (stored.size() % 2 != 0) throw std::runtime_error("journal: malformed encoded name");
    std::string out;
    for (std::size_t i = 2; i < stored.size(); i += 2)
        out.push_back(static_cast<char>(val(stored[i]) * 16 + val(stored[i + 1])));
    return out;
}

// --- the engine's own files ----------------------------------------------------------------
// The journal, the commit records and touched.json are read by read_state and written by
// write_state alone, authenticated with the per-user key no sandbox sees (session.hpp).
// `dir` is the session's directory and `name` the file's path below it: the MAC (session.hpp,
// write_authenticated) binds both, so a file moved from another session or slot fails.
json read_state(const std::string& dir, const std::string& name) {
    const std::string text = read_authenticated(dir, name);
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw std::runtime_error(dir + "/" + name + ": malformed: " + e.what());
    }
}

void write_state(const std::string& dir, const std::string& name, const json& j) {
    write_authenticated(dir, name, j.dump() + "\n");
}

// touched.json: {path: ctime_ns} (find_conflicts, remember_own_writes), one entry per path a
// commit wrote -- tens of thousands for a big commit. Kept in a std::map: an ordered_json
// object looks every key up linearly, which made reading or writing it quadratic. "{}" when
// absent; unreadable or not agentbox's: empty too (every ctime then counts, which only adds
// conflicts).
std::map<std::string, long long> read_touched(const std::string& dir) {
    std::map<std::string, long long> out;
    if (::access((dir + "/" + kTouchedFile).c_str(), F_OK) != 0) return out;
    try {
        const nlohmann::json t = nlohmann::json::parse(read_authenticated(dir, kTouchedFile));
        if (!t.is_object()) return out;
        for (auto it = t.begin(); it != t.end(); ++it)
            out.emplace_hint(out.end(), decode_name(it.key()), it->get<long long>());
    } catch (const std::exception&) {
        out.clear();
    }
    return out;
}

void write_touched(const std::string& dir, const std::map<std::string, long long>& touched) {
    nlohmann::json t = nlohmann::json::object();
    for (const auto& [path, ctime] : touched) t[encode_name(path)] = ctime;
    write_authenticated(dir, kTouchedFile, t.dump() + "\n");
}

// --- the journal ---------------------------------------------------------------------------
// Commit and undo write the same journal: every operation, before the first is done. Each
// operation moves entries between three places -- the project, upper/ and the backup slot
// backup/<number>/<n> -- and every move is one that makes its destination appear only once its
// source is gone (fsops::move_at, whose temporaries are named from `token` and the operation's
// number, so that any later process finds them). So what is on disk says how far an operation
// got, and repeating it finishes it; its inverse ("put" <-> "unput", ...) takes it back from
// wherever it stopped. A journal marked "applying" is rolled forward by recovery; one still
// "prepared" changed nothing and is dropped (for an undo, the commit's backups stay: undo
// still needs them). An error that is not a crash rolls the operation back at once.

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
    std::string token;  // names this operation's temporaries
    std::vector<Op> ops;
    // Project directories its operations write in that their owner had made read-only, with
    // their modes: given owner rwx while the operations run, their modes back after (plan_opened).
    std::vector<std::pair<std::string, unsigned>> opened;
};

json to_json(const Journal& j) {
    json out;
    out["v"] = 2;
    out["kind"] = j.kind;
    out["number"] = j.number;
    out["state"] = j.state;
    out["token"] = j.token;
    json ops = json::array();
    for (const auto& o : j.ops) {
        json e;
        e["op"] = o.op;
        e["path"] = encode_name(o.path);
        e["n"] = o.n;
        if (o.mode != 0) e["mode"] = o.mode;
        if (o.old_mode != 0) e["old_mode"] = o.old_mode;
        if (o.existed_dir) e["existed_dir"] = true;
        if (!o.hash.empty()) e["hash"] = o.hash;
        ops.push_back(std::move(e));
    }
    out["ops"] = std::move(ops);
    if (!j.opened.empty()) {
        json opened = json::array();
        for (const auto& [path, mode] : j.opened)
            opened.push_back({{"path", encode_name(path)}, {"mode", mode}});
        out["opened"] = std::move(opened);
    }
    return out;
}

Journal from_json(const json& j, const std::string& shown) {
    try {
        Journal out;
        out.kind = j.at("kind").get<std::string>();
        out.number = j.at("number").get<int>();
        out.state = j.at("state").get<std::string>();
        out.token = j.value("token", std::string("0"));
        for (const auto& e : j.at("ops")) {
            Op o;
            o.op = e.at("op").get<std::string>();
            o.path = decode_name(e.at("path").get<std::string>());
            o.n = e.at("n").get<int>();
            o.mode = e.value("mode", 0u);
            o.old_mode = e.value("old_mode", 0u);
            o.existed_dir = e.value("existed_dir", false);
            o.hash = e.value("hash", std::string());
            out.ops.push_back(std::move(o));
        }
        if (const auto it = j.find("opened"); it != j.end())
            for (const auto& e : *it)
                out.opened.emplace_back(decode_name(e.at("path").get<std::string>()),
                                        e.at("mode").get<unsigned>() & 07777);
        if (out.kind != "commit" && out.kind != "undo")
            throw std::runtime_error("unknown kind " + util::quote(out.kind));
        return out;
    } catch (const json::exception& e) {
        throw std::runtime_error(shown + ": malformed: " + e.what());
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(shown + ": malformed: " + e.what());
    }
}

std::string inverse(const std::string& op) {
    return op.starts_with("un") ? op.substr(2) : "un" + op;
}

std::string new_token() { return sys::random_hex(6); }

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

long long ctime_ns(const struct stat& st) {
    const struct timespec& t = sys::ctime_of(st);
    return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}


// Sessions whose lock this thread holds (SessionLock): the engine takes it only when the
// caller has not. Another thread of the process takes its own (flock: a separate open file
// waits like another process).
std::map<std::string, int>& held_locks() {
    thread_local std::map<std::string, int> held;
    return held;
}

// The directory a run of operations in one directory keeps resolving: operations come in
// tree order, so consecutive ones mostly share a parent, and one openat2 (RESOLVE_BENEATH,
// no symlinks) serves them all instead of one each. Only the last directory is kept; forget()
// drops it whenever an operation may have moved a directory (anything but a file's put).
class DirCache {
public:
    explicit DirCache(int root) : root_(root) {}
    // The directory `rel` beneath the root (fsops::open_dir_beneath); SysError as it throws.
    // A directory that could not be opened is remembered too (its siblings would fail alike).
    int get(const std::string& rel, const std::string& shown) {
        if ((!fd_ && err_ == 0) || rel != rel_) {
            fd_.reset();
            err_ = 0;
            rel_ = rel;
            try {
                fd_ = fsops::open_dir_beneath(root_, rel, shown);
            } catch (const SysError& e) {
                err_ = e.err();
                throw;
            }
        }
        if (err_ != 0) throw SysError("openat2", shown, err_);
        return fd_.get();
    }
    void forget() {
        fd_.reset();
        err_ = 0;
    }

private:
    int root_;
    std::string rel_;
    unique_fd fd_;
    int err_ = 0;
};

class Engine {
public:
    Engine(Session& s, const StepHook& hook) : s_(s), hook_(hook) {
        if (s.meta().project.empty() || s.meta().project[0] != '/')
            throw std::runtime_error("session " + s.meta().id +
                                     ": its meta.json names no project directory");
        if (held_locks().count(s.dir()) == 0) lock_.emplace(s);
        root_ = s.open_project();
        upper_.reset(::open(s.upper().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!upper_) throw SysError("open", s.upper(), errno);
        proj_dirs_ = DirCache(root_.get());
        up_dirs_ = DirCache(upper_.get());
    }

    std::string journal_path() const { return s_.dir() + "/journal"; }
    std::string backup_dir(int number) const {
        return s_.dir() + "/backup/" + std::to_string(number);
    }
    std::string record_name(int number) const {
        return std::string(kCommitsDir) + "/" + std::to_string(number) + ".json";
    }
    std::string record_path(int number) const { return s_.dir() + "/" + record_name(number); }
    std::string undone_path(int number) const {
        return s_.dir() + "/" + kCommitsDir + "/" + std::to_string(number) + ".undone";
    }

    bool recover() {
        const std::string jp = journal_path();
        remove_state_leftovers();
        if (::access(jp.c_str(), F_OK) != 0) return false;
        Journal j = from_json(read_state(s_.dir(), kJournalFile), jp);
        if (j.state == "prepared") {
            // Nothing was done yet: forget it. Nothing else goes with it -- for an undo,
            // backup/<number> holds the commit's originals, which undo still needs.
            if (::unlink(jp.c_str()) != 0) throw SysError("unlink", jp, errno);
            fsops::fsync_dir(s_.dir());
            return true;
        }
        run(j);
        return true;
    }

    // write_state's temporaries that a kill left (fsops::write_file_atomic, "<file>.tmp"):
    // nothing reads them, the next write would replace them; they go now, so that a session
    // holds only what it means.
    void remove_state_leftovers() {
        for (const std::string f : {"journal.tmp", "touched.json.tmp"}) {
            const std::string p = s_.dir() + "/" + f;
            if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw SysError("unlink", p, errno);
        }
        const std::string cdir = s_.dir() + "/" + kCommitsDir;
        unique_fd d(::open(cdir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d) return;
        for (const auto& [name, type] : sys::read_dir(d.get(), cdir))
            if (name.ends_with(".tmp") && ::unlinkat(d.get(), name.c_str(), 0) != 0 &&
                errno != ENOENT)
                throw SysError("unlink", cdir + "/" + name, errno);
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
        j.token = new_token();
        CommitResult res;
        res.number = j.number;
        int n = 0;
        DirCache proj(root_.get()), up(upper_.get());
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
                if (o.existed_dir) o.old_mode = c.old_mode & 07777;
            } else {
                o.op = "put";
                o.hash = c.hash;
            }
            still_staged(o, c, proj, up);
            if (c.setid) res.stripped.push_back(c.path);
            res.applied.push_back(c.path);
            j.ops.push_back(std::move(o));
        }
        if (j.ops.empty()) return res;
        plan_opened(j);
        step("journal");
        // What the command wrote may still be in the page cache: make it durable before the
        // journal says the project may be changed, so a crash cannot leave renamed-in files
        // without their data. The journal is written once, "applying", after it (run): a
        // crash before that leaves no journal, or its temporary, and nothing changed -- what a
        // "prepared" journal written first would have said, at the cost of a second copy of
        // every operation flushed to disk.
        step("sync");
        sys::sync_fs(upper_.get(), s_.upper());
        fresh_ = true;
        run(j);
        return res;
    }

    UndoResult undo(bool force) {
        UndoResult res;
        const auto live = live_commits();
        if (live.empty()) throw std::runtime_error("session " + s_.meta().id +
                                                   " has no commit to undo");
        const int number = live.back();
        const Journal done = from_json(read_state(s_.dir(), record_name(number)), record_path(number));
        res.number = number;
        Journal j;
        j.kind = "undo";
        j.number = number;
        j.state = "prepared";
        j.token = new_token();
        for (auto it = done.ops.rbegin(); it != done.ops.rend(); ++it) {
            Op o = *it;
            o.op = inverse(it->op);
            res.restored.push_back(o.path);
            j.ops.push_back(std::move(o));
        }
        // Every path is checked before anything changes: an undo that cannot finish does
        // not start.
        std::vector<Conflict> hard;
        res.conflicts = undo_conflicts(done, hard);
        if (!hard.empty()) {
            std::string why;
            for (const auto& c : hard) why += "\n  " + util::quote(c.path) + " " + c.why;
            throw std::runtime_error("cannot undo commit " + std::to_string(number) +
                                     " of session " + s_.meta().id + ", nothing was changed:" +
                                     why);
        }
        if (!res.conflicts.empty() && !force) {
            res.restored.clear();
            return res;
        }
        plan_opened(j);
        // A directory the commit moved whole (deleted, or replaced) went into backup/ opened:
        // the mode the project had comes back with it.
        for (const auto& e : done.opened)
            if (std::none_of(j.opened.begin(), j.opened.end(),
                             [&](const auto& o) { return o.first == e.first; }))
                j.opened.push_back(e);
        step("journal");  // written "applying" by run(), as a commit's
        fresh_ = true;
        run(j);
        return res;
    }

private:
    void step(const char* name) {
        if (hook_) hook_(name);
    }

    struct Where {
        unique_fd dir;
        std::string name;
    };

    // A change computed before the lock was taken may be stale (another command committed
    // it meanwhile): an operation whose source is gone would record a commit that undo
    // then turns into deletions.
    void still_staged(const Op& o, const Change& c, DirCache& proj, DirCache& up) {
        const auto [dir, name] = fsops::split_parent(o.path);
        struct stat st {};
        bool ok = false;
        try {
            if (o.op == "del") {
                ok = fsops::exists_at(proj.get(dir, o.path), name);
            } else {
                ok = fsops::exists_at(up.get(dir, o.path), name, &st) &&
                     (st.st_mode & S_IFMT) == (c.new_mode & S_IFMT);
            }
        } catch (const SysError&) {
            ok = false;
        }
        if (!ok)
            throw std::runtime_error(util::quote(o.path) + " is no longer staged as it was when "
                                     "the change set was read (another command committed or "
                                     "changed the session); nothing committed");
        // The same entry, unwritten since the review read (and showed) it: an approval is
        // of that content. Free: `st` is the lstat just made.
        if (o.op == "put" && c.staged_ino != 0 &&
            (st.st_ino != c.staged_ino || ctime_ns(st) != c.staged_ctime_ns))
            throw std::runtime_error(util::quote(o.path) + " changed in the session since the "
                                     "review read it; nothing committed (review it again)");
        // A new entry (nothing at its project path when the change set was read) whose staged
        // side was just stat'ed: the first pass can put it with one rename (apply, put_new).
        if (o.op == "put" && c.kind == Kind::added) new_puts_[o.n] = st;
    }

    std::vector<Conflict> undo_conflicts(const Journal& done, std::vector<Conflict>& hard) {
        std::vector<Conflict> out;
        std::set<std::string> paths;
        for (const auto& o : done.ops) paths.insert(o.path);
        unique_fd backup(::open(backup_dir(done.number).c_str(),
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        auto slot_present = [&](const Op& o) {
            return backup && fsops::exists_at(backup.get(), std::to_string(o.n));
        };
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
            if (o.op == "del") {
                if (!slot_present(o)) hard.push_back({o.path, "has no backup to restore"});
                else if (present) out.push_back({o.path, "exists again on the host"});
            } else if (o.op == "mkdir") {
                if (!present || !S_ISDIR(st.st_mode)) {
                    out.push_back({o.path, "is no longer the directory the commit made"});
                    if (slot_present(o) && present)
                        hard.push_back({o.path, "is in the way of the original it replaced"});
                    continue;
                }
                if (o.existed_dir) continue;
                // The directory goes: whatever the host added in it since would be in the way.
                std::vector<sys::DirEntry> entries;
                try {
                    unique_fd d(::openat(p.get(), name.c_str(),
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                    if (d) entries = sys::read_dir(d.get(), o.path);
                } catch (const SysError&) {
                }
                for (const auto& [nm, type] : entries) {
                    const std::string child = o.path + "/" + nm;
                    if (paths.count(child) == 0) {
                        hard.push_back({child, "was added on the host inside a directory the "
                                               "commit created; move it away first"});
                    }
                }
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
                } else if (S_ISDIR(st.st_mode) && slot_present(o)) {
                    hard.push_back({o.path, "is now a directory, in the way of the original"});
                    continue;
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
            write_state(s_.dir(), kJournalFile, to_json(j));
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
        try {
            // Again after a crash: the modes to restore are the journal's, not what is there.
            for (const auto& [dir, mode] : j.opened) {
                step("open");
                chmod_dir(root_.get(), dir, mode | S_IRWXU);
            }
            for (const auto& o : j.ops) {
                step("op");
                apply(j, o, o.op, backup.get());
            }
        } catch (const std::exception& e) {
            // A failure that is not a crash (a full disk, a permission, a path that turned
            // into a symlink): put back what was done, so the project is as before.
            roll_back(j, backup.get(), e.what());
        }
        step("finish");
        // From here every change is in place: a failure is reported as what it is, and the
        // journal stays so that the next command finishes the bookkeeping.
        try {
            set_dir_modes(j.ops);
            restore_opened(j);
            sys::sync_fs(root_.get(), s_.meta().project);
            remember_own_writes(j);
            const std::string cdir = s_.dir() + "/" + kCommitsDir;
            if (::mkdir(cdir.c_str(), 0700) != 0 && errno != EEXIST)
                throw SysError("mkdir", cdir, errno);
            step("record");
            if (j.kind == "commit") {
                Journal rec = j;
                rec.state = "done";
                write_state(s_.dir(), record_name(j.number), to_json(rec));
            } else {
                fsops::write_file_atomic(undone_path(j.number), "");  // its presence is all it says
                // An undone commit's backups went back into the project; the directory is
                // empty (rmdir, never a removal of what might still be an original).
                ::rmdir(bdir.c_str());
            }
            if (::unlink(journal_path().c_str()) != 0 && errno != ENOENT)
                throw SysError("unlink", journal_path(), errno);
            fsops::fsync_dir(s_.dir());
        } catch (const std::exception& e) {
            throw std::runtime_error(
                std::string(j.kind == "commit" ? "every change was applied to the project"
                                               : "every path was restored in the project") +
                ", but recording the " + j.kind + " failed (" + e.what() +
                "); it is recorded the next time the session is used");
        }
    }

    [[noreturn]] void roll_back(const Journal& j, int backup, const std::string& why) {
        // Every operation's inverse, newest first: an inverse takes its operation back from
        // wherever it stopped, and does nothing to one that never started.
        fresh_ = false;
        try {
            for (auto it = j.ops.rbegin(); it != j.ops.rend(); ++it)
                apply(j, *it, inverse(it->op), backup);
            std::vector<Op> back;
            for (const auto& o : j.ops) {
                Op b = o;
                b.op = inverse(o.op);
                back.push_back(std::move(b));
            }
            set_dir_modes(back);
            restore_opened(j);
            remember_own_writes(j);
        } catch (const std::exception& e2) {
            // The journal stays "applying": the next command that touches the session
            // finishes the operation once the cause is gone.
            throw std::runtime_error(j.kind + " failed (" + why + ") and could not be rolled back (" +
                                     e2.what() + "); it will be completed the next time the "
                                     "session is used");
        }
        // A rolled-back commit's backups are all back in the project; an undo's are all in
        // backup/ again, where the commit's record needs them.
        if (j.kind == "commit") ::rmdir(backup_dir(j.number).c_str());
        if (::unlink(journal_path().c_str()) != 0 && errno != ENOENT)
            throw SysError("unlink", journal_path(), errno);
        fsops::fsync_dir(s_.dir());
        throw std::runtime_error(j.kind + " failed: " + why +
                                 (j.kind == "commit"
                                      ? "; rolled back, the project is as it was and the "
                                        "changes stay staged"
                                      : "; rolled back, the project is as the commit left it"));
    }

    // The project's directories that `j`'s operations write in (each one's parent, and a
    // directory moved whole, whose ".." changes) and that the user cannot write in: a
    // directory its owner made read-only (chmod 0555) stops a rename into or out of it with
    // EACCES. Each gets its owner's rwx while the operations run and its mode back after
    // (restore_opened), both recorded in the journal before the first change, so that a kill
    // at any point leaves recovery (which runs the journal again) to restore it. One that is
    // not the user's cannot be opened so: the command is refused before anything changes,
    // naming it -- never half done. Root writes everywhere and opens nothing.
    void plan_opened(Journal& j) {
        std::set<std::string> dirs;
        for (const auto& o : j.ops) {
            dirs.insert(fsops::split_parent(o.path).first);
            dirs.insert(o.path);  // opened only if it is a directory of the project
        }
        for (const auto& d : dirs) {
            unique_fd fd;
            try {
                fd = open_rw_dir_if_there(root_.get(), d);
            } catch (const SysError& e) {
                if (e.err() != ELOOP) throw;  // a symlink: no directory to open
            }
            struct stat st {};
            if (!fd || ::fstat(fd.get(), &st) != 0) continue;
#ifdef __linux__
            // The inode open at fd, not whatever the path names by now.
            const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
            if (::faccessat(AT_FDCWD, proc.c_str(), W_OK | X_OK, AT_EACCESS) == 0) continue;
#else
            if (::faccessat(root_.get(), d.empty() ? "." : d.c_str(), W_OK | X_OK, AT_EACCESS) == 0)
                continue;
#endif
            const std::string shown = util::quote(d.empty() ? s_.meta().project : d);
            if (st.st_uid != ::geteuid())
                throw std::runtime_error(
                    "cannot " + j.kind + ": the project directory " + shown + " is not writable "
                    "(mode " + octal_mode(st.st_mode) + ", owner uid " +
                    std::to_string(st.st_uid) + ") and not yours to open; nothing was changed");
            j.opened.emplace_back(d, st.st_mode & 07777);
        }
    }

    // The modes plan_opened recorded, back; a directory gone meanwhile is left alone.
    void restore_opened(const Journal& j) {
        for (auto it = j.opened.rbegin(); it != j.opened.rend(); ++it)
            chmod_dir(root_.get(), it->first, it->second);
    }

    // Directory modes last: a read-only directory must not stop its own entries.
    void set_dir_modes(const std::vector<Op>& ops) {
        for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
            unsigned mode = 0;
            if (it->op == "mkdir") mode = it->mode;
            else if (it->op == "unmkdir" && it->existed_dir) mode = it->old_mode;
            if (mode == 0) continue;
            chmod_dir(root_.get(), it->path, mode);
            // The staged directory stays in upper/ (only its entries move): given the mode that
            // landed, which may differ from the staged one (landing_mode), it is no longer a
            // change -- else the next commit would "commit" it again, and again.
            // Owner rwx kept there: undo may move entries back into it.
            if (it->op == "mkdir") stage_dir_mode(upper_.get(), it->path, mode);
            if (it->op == "mkdir" && !it->existed_dir) no_longer_opaque(upper_.get(), it->path);
        }
    }

    // A new directory the commit made in the project, whose staged one overlayfs marked
    // opaque (it does for every directory made in a merged one once lower changes offline are
    // off: xino, index, metacopy): the project's now holds what landed from it, which the mark
    // would hide -- the next review read "R dir/" and a deletion of each entry that landed, a
    // deletion the next commit would make. Without it, the two merge again as they are.
    static void no_longer_opaque(int root, const std::string& rel) {
        unique_fd d = open_rw_dir_if_there(root, rel);
        if (!d) return;
        for (const char* name : kOpaqueXattrs)
            if (sys::fd_remove_xattr(d.get(), name) != 0 && errno != sys::kNoXattr &&
                errno != ENOTSUP && errno != EPERM)
                throw SysError("removexattr " + std::string(name), rel, errno);
    }

    // The staged directory `rel` given `mode` as open_up_staged would leave it (owner rwx
    // added, `mode` recorded): the review reads it back as `mode`. Gone: left alone.
    static void stage_dir_mode(int root, const std::string& rel, unsigned mode) {
        if (unique_fd d = open_rw_dir_if_there(root, rel))
            fsops::set_staged_dir_mode(d.get(), mode, rel);
    }

    // fchmod of directory `rel` beneath `root`; a directory that is gone is left alone.
    static void chmod_dir(int root, const std::string& rel, unsigned mode) {
        unique_fd d = open_rw_dir_if_there(root, rel);
        if (d && ::fchmod(d.get(), mode & 07777) != 0) throw SysError("chmod", rel, errno);
    }

    // open_rw_dir, or nothing when `rel` is gone (or no longer a directory's path).
    static unique_fd open_rw_dir_if_there(int root, const std::string& rel) {
        try {
            return open_rw_dir(root, rel);
        } catch (const SysError& e) {
            if (e.err() == ENOENT || e.err() == ENOTDIR) return unique_fd();
            throw;
        }
    }

    static unique_fd open_rw_dir(int root, const std::string& rel) {
        unique_fd p = fsops::open_dir_beneath(root, rel, rel);
#ifdef __linux__
        // Reopen the O_PATH fd for fchmod; /proc/self/fd keeps it the same inode.
        const std::string proc = "/proc/self/fd/" + std::to_string(p.get());
        return unique_fd(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
#else
        return p;  // a read-only open already (fsops::kDirHandle)
#endif
    }

    // The temporaries of operation `o`'s move `tag` ("pk": project to backup slot, "up": upper/
    // to project, "pu": project to upper/, "kp": backup slot to project): named from the
    // journal, so that recovery in any later process finds them, and one name per direction, so
    // that an inverse never mistakes its operation's move for its own.
    static fsops::MoveNames names(const Journal& j, const Op& o, const char* tag) {
        const std::string base = std::string(fsops::kTempPrefix) + j.token + "-" +
                                 std::to_string(o.n) + "-" + tag;
        return {base + ".new", base + ".old"};
    }

    // Finish every move of `o` that a crash (or an error) cut short after its copy was whole,
    // and remove the copies it cut short before: then each entry is under exactly one name.
    void resume(const Journal& j, const Op& o, int p, int u, int backup, const std::string& name,
                const std::string& slot) {
        const std::string& shown = o.path;
        auto one = [&](const char* tag, int sdir, const std::string& sname, int ddir,
                       const std::string& dname) {
            if (sdir < 0 || ddir < 0) return;
            const fsops::MoveNames mv = names(j, o, tag);
            if (fsops::exists_at(sdir, mv.old)) fsops::move_at(sdir, sname, ddir, dname, mv, shown);
            else sys::remove_at(ddir, mv.tmp, shown);
        };
        one("pk", p, name, backup, slot);
        one("up", u, name, p, name);
        one("pu", p, name, u, name);
        one("kp", backup, slot, p, name);
        if (u >= 0)
            sys::remove_at(u, std::string(fsops::kTempPrefix) + j.token + "-" + slot + "-u.new",
                           shown);
    }

    // Move what is at the project path into the backup slot; then the project path is free.
    // Something there although the slot is already filled appeared during the operation.
    void clear_target(const Journal& j, const Op& o, int pdir, const std::string& name,
                      int backup, const std::string& slot) {
        if (!fsops::exists_at(pdir, name)) return;
        if (fsops::exists_at(backup, slot))
            throw std::runtime_error(util::quote(o.path) + " appeared in the project during the " +
                                     j.kind);
        fsops::move_at(pdir, name, backup, slot, names(j, o, "pk"), o.path);
    }

    // Do operation `o` as `op` (its own, or its inverse when rolling back): what is left of
    // it, judged from what is on disk.
    void apply(const Journal& j, const Op& o, const std::string& op, int backup) {
        const auto [dir, name] = fsops::split_parent(o.path);
        if (fresh_ && op == "put" && put_new(o, dir, name)) return;
        // Whatever follows may move a directory: the cached ones are resolved again.
        proj_dirs_.forget();
        up_dirs_.forget();
        const std::string slot = std::to_string(o.n);
        const std::string& shown = o.path;
        const bool undoing = op.starts_with("un");
        unique_fd p;
        try {
            p = fsops::open_dir_beneath(root_.get(), dir, shown);
        } catch (const SysError& e) {
            // Undo runs children before parents: a parent already gone (or a file again)
            // means a repeated undo has passed this entry.
            if (undoing && (e.err() == ENOENT || e.err() == ENOTDIR)) return;
            throw;
        }
        unique_fd u;
        if (undoing) {
            u = fsops::make_dirs_beneath(upper_.get(), dir, shown);
        } else {
            try {
                u = fsops::open_dir_beneath(upper_.get(), dir, shown);
            } catch (const SysError& e) {
                if (e.err() != ENOENT && e.err() != ENOTDIR) throw;
            }
        }
        if (!fresh_) resume(j, o, p.get(), u ? u.get() : -1, backup, name, slot);

        if (op == "put") {
            struct stat st {};
            if (!u || !fsops::exists_at(u.get(), name, &st)) return;  // already moved into place
            // Only the modes the diff shows land (patch.hpp, landing_mode); setid bits never.
            // The project's entry is at the path, or already in its slot on a replay.
            struct stat old {};
            if (!fsops::exists_at(backup, slot, &old) && !fsops::exists_at(p.get(), name, &old))
                old.st_mode = 0;
            clear_target(j, o, p.get(), name, backup, slot);
            step("op:cleared");
            static const mode_t umask = process_umask();
            const mode_t want = landing_mode(st.st_mode, old.st_mode, umask);
            if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != want &&
                ::fchmodat(u.get(), name.c_str(), want, 0) != 0)
                throw SysError("chmod", shown, errno);
            // A hard link inside upper/ would tie two project paths to one inode.
            if (S_ISREG(st.st_mode) && st.st_nlink > 1)
                fsops::unshare_at(u.get(), name,
                                  std::string(fsops::kTempPrefix) + j.token + "-" + slot + "-u.new",
                                  shown);
            // Only the content and the mode the review shows land, with the original's xattrs.
            fsops::keep_original_xattrs(u.get(), name, backup, slot, shown);
            fsops::move_at(u.get(), name, p.get(), name, names(j, o, "up"), shown);
        } else if (op == "mkdir") {
            struct stat st {};
            if (fsops::exists_at(p.get(), name, &st) && S_ISDIR(st.st_mode)) return;
            clear_target(j, o, p.get(), name, backup, slot);
            step("op:cleared");
            if (::mkdirat(p.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
                throw SysError("mkdir", shown, errno);
        } else if (op == "del") {
            clear_target(j, o, p.get(), name, backup, slot);
        } else if (op == "unput" || op == "unmkdir" || op == "undel") {
            struct stat st {};
            const bool present = fsops::exists_at(p.get(), name, &st);
            if (op == "unput" && present && !fsops::exists_at(u.get(), name)) {
                // What the commit wrote goes back to being staged.
                fsops::move_at(p.get(), name, u.get(), name, names(j, o, "pu"), shown);
                step("op:cleared");
            } else if (op == "unmkdir" && present && S_ISDIR(st.st_mode) && !o.existed_dir) {
                unique_fd d(::openat(p.get(), name.c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!d) throw SysError("open", shown, errno);
                // Not empty: files the host added, kept where they are (undo --force).
                if (sys::read_dir(d.get(), shown).empty()) {
                    if (::mkdirat(u.get(), name.c_str(), st.st_mode & 07777) != 0 &&
                        errno != EEXIST)
                        throw SysError("mkdir", shown, errno);
                    if (::unlinkat(p.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
                        throw SysError("rmdir", shown, errno);
                }
            } else if (op == "undel" && !fsops::exists_at(u.get(), name)) {
                // Stage the deletion again: a whiteout of the session's form (a copy
                // session's needs no mknod, which macOS allows only to root; an overlay
                // session's needs no privilege since Linux 5.8). Without it the deletion is
                // simply no longer staged, and nothing is lost.
                try {
                    make_whiteout(s_.whiteouts(), u.get(), name, shown);
                } catch (const SysError&) {
                }
            }
            if (fsops::exists_at(backup, slot) && !fsops::exists_at(p.get(), name))
                fsops::move_at(backup, slot, p.get(), name, names(j, o, "kp"), shown);
        } else {
            throw std::runtime_error("journal: unknown operation " + util::quote(op));
        }
    }

    // The first pass's put of a new entry (new_puts_): nothing was at its project path when the
    // change set was read under the lock, nothing of the operation is done yet (fresh_), and
    // its staged side was stat'ed then (still_staged). One rename with RENAME_NOREPLACE does
    // what clear_target and move_at would do: the destination appears as the source goes,
    // and nothing is replaced. False, having changed at most the staged entry's mode (which
    // the general path sets again from what it finds), when something has appeared at the
    // path since, the project is on another filesystem, or the entry is a hard link: the
    // general path does the operation then.
    bool put_new(const Op& o, const std::string& dir, const std::string& name) {
        const auto it = new_puts_.find(o.n);
        if (it == new_puts_.end()) return false;
        const struct stat& st = it->second;
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) return false;
        int p = -1, u = -1;
        try {
            p = proj_dirs_.get(dir, o.path);
            u = up_dirs_.get(dir, o.path);
        } catch (const SysError&) {
            return false;  // the general path says why
        }
        step("op:cleared");
        fsops::keep_original_xattrs(u, name, -1, "", o.path);  // a new file: none of them
        static const mode_t umask = process_umask();
        const mode_t want = landing_mode(st.st_mode, 0, umask);
        if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != want &&
            ::fchmodat(u, name.c_str(), want, 0) != 0)
            throw SysError("chmod", o.path, errno);
        if (sys::rename_noreplace(u, name.c_str(), p, name.c_str()) == 0) return true;
        if (errno == EEXIST || errno == EXDEV) return false;
        throw SysError("rename", o.path, errno);
    }

    // The ctime each path, and each directory above it, has after agentbox wrote it: what
    // agentbox itself did (a commit, an undo, a roll-back) is not a host edit.
    void remember_own_writes(const Journal& j) {
        std::map<std::string, long long> t = read_touched(s_.dir());
        std::set<std::string> paths;
        for (const auto& o : j.ops) {
            std::string p = o.path;
            paths.insert(p);
            while (!p.empty()) {
                p = fsops::split_parent(p).first;
                paths.insert(p);
            }
        }
        std::set<std::string> trees;  // whole trees moved: a copy across filesystems is new
        for (const auto& o : j.ops)
            if (o.op == "del" || o.op == "undel") trees.insert(o.path);
        DirCache dirs(root_.get());  // paths in tree order: siblings share a parent
        for (const auto& path_ : paths) {
            const auto [dir, name] = fsops::split_parent(path_);
            struct stat st {};
            try {
                if (path_.empty()) {
                    if (::fstat(root_.get(), &st) == 0) t[""] = ctime_ns(st);
                    continue;
                }
                const int p = dirs.get(dir, path_);
                if (!fsops::exists_at(p, name, &st)) {
                    t.erase(path_);
                    continue;
                }
                t[path_] = ctime_ns(st);
                if (S_ISDIR(st.st_mode) && trees.count(path_) > 0) {
                    unique_fd d(::openat(p, name.c_str(),
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                    if (d) remember_tree(t, d.get(), path_);
                }
            } catch (const SysError&) {
                dirs.forget();
            }
        }
        write_touched(s_.dir(), t);
    }

    // The ctime of every entry below `rel`, a tree this commit wrote. A directory that cannot
    // be listed ends it (the caller forgets its descriptors); an entry that went away, or
    // cannot be opened, is left out.
    static void remember_tree(std::map<std::string, long long>& t, int dfd, const std::string& rel) {
        struct Remember : sys::WalkVisitor {
            std::map<std::string, long long>& t;
            explicit Remember(std::map<std::string, long long>& into) : t(into) {}
            sys::WalkStep visit(const sys::WalkEntry& e) override {
                t[e.path] = ctime_ns(e.st);
                return sys::WalkStep::into;
            }
            void fail(const SysError& err) override {
                if (err.op() == "opendir" || err.op() == "readdir") throw err;
            }
        } r(t);
        sys::walk_tree(dfd, rel, r, {.max_depth = 256});
    }

    Session& s_;
    StepHook hook_;  // a copy: callers pass temporaries ({})
    std::optional<SessionLock> lock_;
    unique_fd root_, upper_;
    // The first pass of a journal this process wrote: nothing of it can be in flight, so the
    // per-operation search for cut-short moves is skipped.
    bool fresh_ = false;
    // The staged side of each new entry, by operation number (still_staged), for the first
    // pass; and the directories that pass keeps resolving.
    std::map<int, struct stat> new_puts_;
    DirCache proj_dirs_{-1}, up_dirs_{-1};
};

}  // namespace

SessionLock::SessionLock(const Session& s) : dir_(s.dir()) {
    if (held_locks()[dir_]++ > 0) return;  // this process holds it already
    try {
        const std::string lock = s.dir() + "/lock";
        session_.reset(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!session_) throw SysError("open", lock, errno);
        take(session_.get(), lock);
        // Commits of two sessions into one project serialize too: each one's conflict check
        // and apply see the project as the other left it.
        project_ = s.open_project();
        take(project_.get(), s.meta().project);
    } catch (...) {
        if (--held_locks()[dir_] == 0) held_locks().erase(dir_);
        throw;
    }
}

SessionLock::~SessionLock() {
    if (--held_locks()[dir_] == 0) held_locks().erase(dir_);
}

void SessionLock::take(int fd, const std::string& shown) {
    while (::flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) throw SysError("flock", shown, errno);
}

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
            if (sys::fd_get_xattr(f.get(), x, nullptr, 0) >= 0) return true;
    } catch (const SysError&) {
    }
    return false;
}

// Below a directory to be deleted: the first entry edited on the host (`newer`) is a
// conflict, and ends the walk. What cannot be read is skipped: nothing in it can be told apart.
template <class Newer>
class FirstEdit : public sys::WalkVisitor {
public:
    FirstEdit(const Newer& newer, std::vector<Conflict>& out) : newer_(newer), out_(out) {}
    sys::WalkStep visit(const sys::WalkEntry& e) override {
        if (S_ISDIR(e.st.st_mode)) return sys::WalkStep::into;
        if (!newer_(e.path, e.st)) return sys::WalkStep::over;
        out_.push_back({e.path, "changed on the host since the session started"});
        return sys::WalkStep::stop;
    }
    void fail(const SysError&) override {}

private:
    const Newer& newer_;
    std::vector<Conflict>& out_;
};

}  // namespace

std::vector<Conflict> find_conflicts(const Session& s, const std::vector<Change>& cs) {
    // Unreadable: every ctime counts, which only adds conflicts.
    const std::map<std::string, long long> touched = read_touched(s.dir());
    unique_fd root = s.open_project();
    const long long since = s.meta().start_ns;
    std::vector<Conflict> out;

    auto newer = [&](const std::string& path, const struct stat& st) {
        const long long c = ctime_ns(st);
        if (c <= since) return false;
        const auto it = touched.find(path);
        return it == touched.end() || it->second != c;
    };
    DirCache dirs(root.get());  // the changes are in tree order: siblings share a parent
    for (const auto& c : cs) {
        const auto [dir, name] = fsops::split_parent(c.path);
        int pfd = -1;
        try {
            pfd = dirs.get(dir, c.path);
        } catch (const SysError& e) {
            // Its parent is new too, or replaces a file (a type change judged on its own).
            if (e.err() == ENOENT || e.err() == ENOTDIR) continue;
            out.push_back({c.path, std::string("cannot be resolved inside the project: ") + e.what()});
            continue;
        }
        struct stat st {};
        if (!fsops::exists_at(pfd, name, &st)) {
            // Absent now but copied up from the project: overlayfs marks a copy-up with
            // overlay.origin (the command cannot set it: its own overlay.* xattrs are escaped).
            // With the directory changed on the host too, the host deleted what the command
            // edited; committing would bring it back unasked.
            struct stat pst {};
            if (c.kind == Kind::added && !S_ISDIR(c.new_mode) && ::fstat(pfd, &pst) == 0 &&
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
                unique_fd sub(::openat(pfd, name.c_str(),
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                FirstEdit scan(newer, out);
                if (sub) sys::walk_tree(sub.get(), c.path, scan, {.max_depth = 256});
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
    if (::access((s.dir() + "/journal").c_str(), F_OK) != 0 &&
        ::access((s.dir() + "/journal.tmp").c_str(), F_OK) != 0)
        return false;
    Engine e(s, {});
    return e.recover();
}

void discard(Session& s) {
    Engine e(s, {});
    e.recover();
    // The change set leaves its place in one rename, then the status says so, and only then is
    // it removed (Session::finish_discard). Removed in place, entry by entry, a discard killed
    // part way left part of the change set staged, as a change set of its own: a directory
    // the command replaced, emptied of the command's files, reads as the deletion of all the
    // project has there.
    s.finish_discard();  // a discard cut short before: its directory is in the way
    const std::string gone = s.dir() + "/" + kDiscardedDir;
    if (::rename(s.upper().c_str(), gone.c_str()) != 0)
        throw SysError("rename", s.upper(), errno);
    s.finish_discard();
}

}  // namespace agentbox::stage
