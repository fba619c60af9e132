#include "stage/snapshot.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/fs.h>  // FICLONE
#endif
#ifdef __APPLE__
#include <sys/clonefile.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "stage/fsops.hpp"
#include "stage/whiteout.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/remove.hpp"
#include "sys/stat_times.hpp"
#include "sys/walk.hpp"
#include "sys/xattr.hpp"

namespace agentbox::stage {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

using sys::atime_of;
using sys::ctime_of;
using sys::mtime_of;

// `name` in `dst` made a clone of the file open at `in` (its blocks shared until either side
// writes), opened for writing: FICLONE on Linux (btrfs, XFS), clonefile on macOS (APFS).
// Sets `cloned`; when the filesystem cannot clone, the file is made empty for a copy.
sys::unique_fd clone_or_create(int in, int dst, const char* name, bool& cloned) {
    cloned = false;
#ifdef __APPLE__
    // fclonefileat makes the file itself (with the source's mode; owner and times are set
    // after, as for a copy); CLONE_NOOWNERCOPY: the copy is the user's, as a created one.
    if (::fclonefileat(in, dst, name, CLONE_NOFOLLOW | CLONE_NOOWNERCOPY) == 0) {
        sys::unique_fd out(::openat(dst, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
        cloned = static_cast<bool>(out);
        return out;
    }
#endif
    sys::unique_fd out(::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
#ifdef __linux__
    if (out && ::ioctl(out.get(), FICLONE, in) == 0) cloned = true;
#else
    (void)in;
#endif
    return out;
}

// The copy strategy's origin mark on an open file (kOriginXattr). Where the system has no user
// xattrs the mark is not made, as on a Linux filesystem without them (ENOTSUP).
void mark_origin(int fd) {
#if defined(__linux__)
    ::fsetxattr(fd, kOriginXattr, "", 0, 0);
#elif defined(__APPLE__)
    ::fsetxattr(fd, kOriginXattr, "", 0, 0, 0);  // position, options
#else
    (void)fd;
#endif
}

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

bool before(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

using Identity = Snapshot::Identity;

Identity identity_of(const struct stat& st) {
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

// Whether `st` is a directory of `ids`.
bool is_one_of(const std::vector<Identity>& ids, const struct stat& st) {
    return S_ISDIR(st.st_mode) &&
           std::find(ids.begin(), ids.end(), identity_of(st)) != ids.end();
}

// The directories `paths` name, followed through symlinks: the one the path leads to is what
// the walk meets, by whichever path. One that does not exist has nothing to leave out; one
// that cannot be looked at could be anywhere, so the copy is not made.
std::vector<Identity> directories(const std::vector<std::string>& paths) {
    std::vector<Identity> ids;
    for (const std::string& path : paths) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            if (S_ISDIR(st.st_mode)) ids.push_back(identity_of(st));
        } else if (errno != ENOENT && errno != ENOTDIR) {
            throw sys::SysError("stat", path, errno);
        }
    }
    return ids;
}

// Names in a directory, sorted, read completely before anything in it is moved.
std::vector<std::string> list(int dirfd, const std::string& shown) {
    std::vector<std::string> names;
    for (auto& e : sys::read_dir(dirfd, shown)) names.push_back(std::move(e.name));
    std::sort(names.begin(), names.end());
    return names;
}

class Copier {
public:
    Copier(Snapshot& s) : s_(s), root_(::geteuid() == 0) {}

    // The tree below `src` into `dst`, entries in byte order: regular files, symlinks and
    // directories; the rest (fifos, sockets, devices) is not copied.
    void tree(int src, int dst) {
        struct Walk : sys::WalkVisitor {
            Copier& c;
            const int root;
            std::vector<sys::unique_fd> dst;  // the copies of the directories the walk is in
            std::vector<Identity> src;        // and those directories in the project
            Walk(Copier& copier, int dst_root) : c(copier), root(dst_root) {}
            sys::WalkStep visit(const sys::WalkEntry& e) override {
                const int d = dst.empty() ? root : dst.back().get();
                if (is_one_of(c.s_.left_out, e.st)) {
                    c.placeholder(d, e.name, e.path);
                    for (const Identity& id : src)
                        if (std::find(c.s_.holding.begin(), c.s_.holding.end(), id) ==
                            c.s_.holding.end())
                            c.s_.holding.push_back(id);
                    return sys::WalkStep::over;
                }
                if (S_ISDIR(e.st.st_mode)) {
                    dst.push_back(c.dir(d, e.name, e.path));
                    src.push_back(identity_of(e.st));
                } else if (S_ISREG(e.st.st_mode)) {
                    c.file(e.dirfd, d, e.name, e.st, e.path);
                } else if (S_ISLNK(e.st.st_mode)) {
                    c.link(e.dirfd, d, e.name, e.st, e.path);
                }
                return sys::WalkStep::into;
            }
            // Mode and times last: entries made inside would change the mtime, and a
            // read-only directory could not receive them.
            void leave(const sys::WalkEntry& e, int) override {
                c.finish_dir(dst.back().get(), e.st, e.path);
                dst.pop_back();
                src.pop_back();
            }
            void fail(const sys::SysError& err) override {
                throw sys::SysError(err.op(), c.shown(err.path()), err.err());
            }
        } w(*this, dst);
        sys::walk_tree(src, "", w, {.sorted = true});
    }

    void finish_dir(int fd, const struct stat& st, const std::string& r) {
        owner(fd, "", st, r);
        if (::fchmod(fd, st.st_mode & 07777) < 0) throw sys::SysError("chmod", shown(r), errno);
        times(fd, "", st, r);
    }

private:
    std::string shown(const std::string& rel) const { return join(s_.project, rel); }

    void owner(int dirfd, const char* name, const struct stat& st, const std::string& r) {
        if (!root_) return;
        const int rc = *name ? ::fchownat(dirfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW)
                             : ::fchown(dirfd, st.st_uid, st.st_gid);
        if (rc < 0)
            throw sys::SysError("chown", shown(r), errno);
    }
    void times(int dirfd, const char* name, const struct stat& st, const std::string& r) {
        const struct timespec t[2] = {atime_of(st), mtime_of(st)};
        int rc = *name ? ::utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW) : ::futimens(dirfd, t);
        if (rc < 0) throw sys::SysError("utimensat", shown(r), errno);
    }

    // The empty directory that stands for `name`, left out of the copy: the mount point of the
    // mask over it. Not the project's mode: the mask is what the sandbox sees there.
    void placeholder(int dst, const std::string& name, const std::string& r) {
        if (::mkdirat(dst, name.c_str(), 0700) < 0) throw sys::SysError("mkdir", shown(r), errno);
        struct stat made {};
        if (::fstatat(dst, name.c_str(), &made, AT_SYMLINK_NOFOLLOW) < 0)
            throw sys::SysError("stat", "snapshot of " + shown(r), errno);
        s_.placeholders.push_back(identity_of(made));
    }

    // The copy of directory `name`, its mode and times still to be set (finish_dir).
    sys::unique_fd dir(int dst, const std::string& name, const std::string& r) {
        if (::mkdirat(dst, name.c_str(), 0700) < 0) throw sys::SysError("mkdir", shown(r), errno);
        sys::unique_fd d(::openat(dst, name.c_str(), kDirFlags));
        if (!d) throw sys::SysError("open", "snapshot of " + shown(r), errno);
        struct stat made {};
        if (::fstat(d.get(), &made) < 0) throw sys::SysError("stat", "snapshot of " + shown(r), errno);
        s_.dirs[made.st_ino] = r;
        return d;
    }

    void file(int src, int dst, const std::string& name, const struct stat& st,
              const std::string& r) {
        sys::unique_fd in(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!in) throw sys::SysError("open", shown(r), errno);
        bool cloned = false;
        sys::unique_fd out(clone_or_create(in.get(), dst, name.c_str(), cloned));
        if (!out) throw sys::SysError("create", "snapshot of " + shown(r), errno);
        if (cloned) {
            ++s_.reflinked;
        } else {
            sys::copy_data(in.get(), out.get(), shown(r));
        }
        ++s_.files;
        s_.bytes += static_cast<std::uint64_t>(st.st_size);
        owner(out.get(), "", st, r);
        if (::fchmod(out.get(), st.st_mode & 07777) < 0)
            throw sys::SysError("chmod", shown(r), errno);
        times(out.get(), "", st, r);
    }

    void link(int src, int dst, const std::string& name, const struct stat& st,
              const std::string& r) {
        std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
        if (n < 0) throw sys::SysError("readlink", shown(r), errno);
        target.resize(static_cast<std::size_t>(n));
        if (::symlinkat(target.c_str(), dst, name.c_str()) < 0)
            throw sys::SysError("symlink", "snapshot of " + shown(r), errno);
        owner(dst, name.c_str(), st, r);
        times(dst, name.c_str(), st, r);
    }

    Snapshot& s_;
    bool root_;
};

class Materialiser {
public:
    Materialiser(const Snapshot& s, int snap_root, int upper_root, Whiteouts form)
        : s_(s), snap_root_(snap_root), upper_root_(upper_root), form_(form) {}

    // `replaced`: the snapshot's directory at `rel` is not the one the copy made there (the
    // sandbox renamed another directory onto this path): its entries kept their ctimes from
    // where they were, so none of them can be judged untouched by its ctime.
    void walk(const std::string& rel, int sfd, int pfd, bool replaced = false) {
        const std::vector<std::string> names = list(sfd, "snapshot " + join(s_.dir, rel));
        const std::set<std::string> in_snapshot(names.begin(), names.end());
        for (const std::string& name : names) {
            const std::string r = join(rel, name);
            struct stat s {}, p {};
            if (::fstatat(sfd, name.c_str(), &s, AT_SYMLINK_NOFOLLOW) < 0)
                throw sys::SysError("stat", join(s_.dir, r), errno);
            const bool has_p = ::fstatat(pfd, name.c_str(), &p, AT_SYMLINK_NOFOLLOW) == 0;
            if (!has_p && errno != ENOENT) throw sys::SysError("stat", join(s_.project, r), errno);
            // A directory left out of the copy, on either side: the copy's empty stand-in is
            // not the project's content deleted, and whatever else is at its path now is not
            // the sandbox's to stage over agentbox's own directory.
            if (left_out(s) || (has_p && left_out(p))) continue;
            // A project directory on the way to one: the command may rename it away and put
            // something else here (`mv .local .l2`: a mount point moves with its parent), but
            // that is never staged as its deletion, which would delete agentbox's state at
            // commit. Under an overlay the rename fails (EXDEV) and `rm -r` stops at the mask.
            if (has_p && is_one_of(s_.holding, p) && !S_ISDIR(s.st_mode)) continue;
            // A device node can only be the command's own mknod: 0/0 would read as a whiteout
            // in a session of the device form. Never moved, so never committed.
            if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) continue;
            if (!has_p) {
                gone_from_project(r, sfd, name, s, replaced);
                continue;
            }
            const bool same_type = (s.st_mode & S_IFMT) == (p.st_mode & S_IFMT);
            // Touched: a ctime from the run. Nothing inside can set a ctime, and nothing else
            // changes the copy, so an entry with an older one is as the copy made it, whatever
            // the project holds now: edits and type changes the host made meanwhile are not
            // the sandbox's, and staging the copy's version would undo them at commit.
            const bool touched = replaced || !before(ctime_of(s), s_.stamp);
            if (S_ISDIR(s.st_mode)) {
                if (!same_type) {
                    // The host made it something else: only what the sandbox did in it counts.
                    gone_from_project(r, sfd, name, s, replaced);
                    continue;
                }
                sys::unique_fd sd = open_own(sfd, name, s, r);
                sys::unique_fd pd(::openat(pfd, name.c_str(), kDirFlags));
                if (!pd) throw sys::SysError("open", join(s_.project, r), errno);
                // A mode change shows as the directory in upper/ with the new mode.
                if (touched && (s.st_mode & 07777) != (p.st_mode & 07777) &&
                    command_mode(sd.get(), s.st_mode, r) != (p.st_mode & 07777))
                    upper_dir(r);
                // `rm -rf b && mv a b`, or a swap: b's entries are a's, with a's old ctimes.
                walk(r, sd.get(), pd.get(), touched && !made_here(s.st_ino, r));
                continue;
            }
            if (!touched) continue;
            disarm(sfd, name, r);
            sys::unique_fd ud = upper_dir(rel);
            // Same filesystem (both in the session): a rename, never a copy. changes() compares
            // content and drops what turns out identical.
            if (::renameat(sfd, name.c_str(), ud.get(), name.c_str()) < 0)
                throw sys::SysError("rename", join(s_.dir, r), errno);
            ++moved_;
        }
        for (const std::string& name : list(pfd, join(s_.project, rel))) {
            if (in_snapshot.count(name)) continue;
            struct stat p {};
            if (::fstatat(pfd, name.c_str(), &p, AT_SYMLINK_NOFOLLOW) < 0) continue;
            // Only what the snapshot had can have been deleted in it: the project's fifos and
            // sockets were never copied, and what appeared in the project since the copy began
            // is someone else's work. An entry changed since then (a ctime after `started`) is
            // still the sandbox's deletion if it was at this path when the copy began: born
            // before, in a directory whose entries did not change (a rename on the host would
            // have changed them). It is staged, and commit refuses it as a conflict with the
            // host's change, as it does under the overlay. Otherwise -- no birth times, a save
            // by rename, a directory with other changes -- it is left alone.
            if (!S_ISREG(p.st_mode) && !S_ISDIR(p.st_mode) && !S_ISLNK(p.st_mode)) continue;
            if (left_out(p) || is_one_of(s_.holding, p)) continue;
            if (before(s_.started, ctime_of(p)) &&
                !(entries_unchanged(pfd) && born_before(pfd, name, s_.started)))
                continue;
            sys::unique_fd ud = upper_dir(rel);
            try {
                make_whiteout(form_, ud.get(), name, "upper/" + join(rel, name));
            } catch (const sys::SysError& e) {
                // A run resumed after a crash part way (resume_snapshot): the entry already
                // moved to upper/ is what the path becomes.
                if (e.err() != EEXIST) throw;
            }
            ++moved_;
        }
    }

    std::uint64_t moved() const { return moved_; }

    // The snapshot's directory `name` (lstat'ed as `st`) opened to be walked, made readable,
    // searchable and writable by its owner first where the command took that away: its entries
    // are read and moved out, which root may do anyway and its owner only so. The snapshot is
    // the session's, discarded after; the mode the command gave it is what upper/ gets.
    sys::unique_fd open_own(int sfd, const std::string& name, const struct stat& st,
                            const std::string& r) {
        if (fsops::give_owner_rwx(sfd, name, st.st_mode, join(s_.dir, r)))
            snap_modes_.emplace(r, st.st_mode & 07777);
        sys::unique_fd d(::openat(sfd, name.c_str(), kDirFlags));
        if (!d) throw sys::SysError("open", join(s_.dir, r), errno);
        return d;
    }

    // The mode the command left directory `r` with: the one open_own found, or, in a run
    // resumed after a kill (resume_snapshot), the one an earlier pass recorded when it opened
    // the directory up -- its own chmod is why the mode differs and the ctime is new, and
    // without the record an untouched read-only directory read as the command's mode change.
    mode_t command_mode(int dirfd, mode_t st_mode, const std::string& r) {
        if (const auto own = snap_modes_.find(r); own != snap_modes_.end()) return own->second;
        char list[1024];
        const ssize_t len = sys::fd_list_xattrs(dirfd, list, sizeof list);
        if (len <= 0) return st_mode & 07777;
        const std::string_view names(list, static_cast<std::size_t>(len));
        const mode_t m = fsops::staged_dir_mode(dirfd, st_mode, names) & 07777;
        if (m != (st_mode & 07777)) snap_modes_.emplace(r, m);
        return m;
    }

private:
    // An entry of the copy that the project no longer has (or no longer has as a directory):
    // the sandbox made it, moved it there, or changed it, or else the host deleted it during the
    // run. Only what the sandbox touched is staged: an entry it left alone is the host's
    // deletion, which a commit must not undo.
    //
    // A touched file is staged; one the project had when the copy was made (born before the
    // stamp: edited in place, or renamed) is marked as overlayfs marks a copy-up
    // (kOriginXattr), so that commit reports a host deletion of it as a conflict.
    //
    // A touched directory is staged whole -- the sandbox made it, or renamed it here (`git mv
    // src lib` touches the directory and nothing in it) -- unless it is the one the copy made
    // at this very path: then the sandbox only added or removed entries in it, and it is walked
    // like an untouched one, for what the sandbox made or changed inside.
    //
    // `replaced`: its directory was renamed here by the sandbox (walk), so the entry counts as
    // touched whatever its ctime.
    void gone_from_project(const std::string& r, int sfd, const std::string& name,
                           const struct stat& s, bool replaced = false) {
        if (left_out(s)) return;
        bool whole = replaced || !before(ctime_of(s), s_.stamp);
        if (whole && S_ISDIR(s.st_mode) && made_here(s.st_ino, r))
            whole = false;
        if (whole) {
            const bool mark = S_ISREG(s.st_mode) && made_by_copy(sfd, name);
            // Moving a directory to another parent rewrites its "..": that takes write
            // permission on it, which the command may have taken away (open_up_staged); and
            // disarming reads it.
            if (S_ISDIR(s.st_mode)) fsops::give_owner_rwx(sfd, name, s.st_mode, join(s_.dir, r));
            disarm(sfd, name, r);
            sys::unique_fd ud = upper_dir(fsops::split_parent(r).first);
            if (::renameat(sfd, name.c_str(), ud.get(), name.c_str()) < 0)
                throw sys::SysError("rename", join(s_.dir, r), errno);
            ++moved_;
            // A user xattr: the filesystem may not have them (ENOTSUP). The deletion then goes
            // unreported, as it would for a file the command replaced by a new one.
            if (mark) {
                sys::unique_fd f(::openat(ud.get(), name.c_str(),
                                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
                if (f) mark_origin(f.get());
            }
            return;
        }
        if (!S_ISDIR(s.st_mode)) return;
        sys::unique_fd sd = open_own(sfd, name, s, r);
        for (const std::string& child : list(sd.get(), "snapshot " + join(s_.dir, r))) {
            struct stat c {};
            if (::fstatat(sd.get(), child.c_str(), &c, AT_SYMLINK_NOFOLLOW) < 0)
                throw sys::SysError("stat", join(s_.dir, join(r, child)), errno);
            if (S_ISCHR(c.st_mode) || S_ISBLK(c.st_mode)) continue;
            gone_from_project(join(r, child), sd.get(), child, c);
        }
    }

    // What the command made in the copy is staged as what it is: a file of its own that looks
    // like a portable whiteout (whiteout.hpp) loses the mark before it enters upper/, where
    // it would read as a deletion. The device form needs nothing: device nodes are never
    // moved, and a copy session honours no other form.
    void disarm(int sfd, const std::string& name, const std::string& r) const {
        if (form_ == Whiteouts::portable) disarm_whiteouts(sfd, name, join(s_.dir, r));
    }

    // Whether `st` (of the copy or of the project) is a directory the copy left out, or the
    // copy's stand-in for one.
    bool left_out(const struct stat& st) const {
        return is_one_of(s_.placeholders, st) || is_one_of(s_.left_out, st);
    }

    // Whether the directory with inode `ino` is the one the copy made at `r`. A touched one
    // without a record -- a snapshot resumed after a crash keeps none -- counts as renamed
    // there: staging its entries costs a compare each, taking it as untouched loses them.
    bool made_here(std::uint64_t ino, const std::string& r) const {
        const auto it = s_.dirs.find(ino);
        return it != s_.dirs.end() && it->second == r;
    }

    // Whether the entry was made by the copy (born before the stamp), not by the sandbox.
    bool made_by_copy(int dirfd, const std::string& name) const {
        return born_before(dirfd, name, s_.stamp);
    }

    // Whether no entry of the directory open at `dfd` was added, removed or renamed since the
    // copy began: whatever it holds was at its path then.
    bool entries_unchanged(int dfd) const {
        struct stat st {};
        return ::fstat(dfd, &st) == 0 && before(mtime_of(st), s_.started);
    }

    // Whether the entry was born before `t`. False when the filesystem does not record birth
    // times.
    static bool born_before(int dirfd, const std::string& name, const struct timespec& t) {
#if defined(__linux__)
        struct statx x {};
        if (::statx(dirfd, name.c_str(), AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_BTIME,
                    &x) < 0 ||
            (x.stx_mask & STATX_BTIME) == 0)
            return false;
        const struct timespec born {static_cast<time_t>(x.stx_btime.tv_sec),
                                    static_cast<long>(x.stx_btime.tv_nsec)};
        return before(born, t);
#elif defined(__APPLE__)
        struct stat st {};  // APFS records birth times in every stat
        return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               before(st.st_birthtimespec, t);
#else
        (void)dirfd;
        (void)name;
        (void)t;
        return false;
#endif
    }

    // upper/REL, made (with the snapshot's modes) as far as it does not exist yet.
    sys::unique_fd upper_dir(const std::string& rel) {
        sys::unique_fd cur(::openat(upper_root_, ".", kDirFlags));
        if (!cur) throw sys::SysError("open", "upper", errno);
        std::string sofar;
        std::size_t pos = 0;
        while (pos < rel.size()) {
            std::size_t slash = rel.find('/', pos);
            if (slash == std::string::npos) slash = rel.size();
            const std::string name = rel.substr(pos, slash - pos);
            sofar = join(sofar, name);
            pos = slash + 1;
            mode_t mode = 0;
            if (::mkdirat(cur.get(), name.c_str(), 0700) == 0) {
                // The snapshot's mode, as open_up_staged leaves every one (owner rwx added,
                // the mode the command gave it recorded).
                const auto own = snap_modes_.find(sofar);
                struct stat st {};
                if (own != snap_modes_.end())
                    mode = own->second;
                else if (::fstatat(snap_root_, sofar.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
                    mode = st.st_mode & 07777;
            } else if (errno != EEXIST) {
                throw sys::SysError("mkdir", "upper/" + sofar, errno);
            }
            sys::unique_fd next(::openat(cur.get(), name.c_str(), kDirFlags));
            if (!next) throw sys::SysError("open", "upper/" + sofar, errno);
            if (mode != 0) fsops::set_staged_dir_mode(next.get(), mode, "upper/" + sofar);
            cur = std::move(next);
        }
        return cur;
    }

    const Snapshot& s_;
    int snap_root_, upper_root_;
    Whiteouts form_;
    std::uint64_t moved_ = 0;
    std::map<std::string, mode_t> snap_modes_;  // snapshot dirs open_own opened up: their modes
};

// The filesystem's idea of "now": the ctime of a file made now. That, not a clock read here,
// is what the ctimes of other changes compare with: same source, same granularity (the kernel
// hands out coarse or fine ctimes, but never one older than a ctime it already gave).
struct timespec fs_now(const std::string& path) {
    sys::unique_fd f(
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!f) throw sys::SysError("create", path, errno);
    struct stat st {};
    const int rc = ::fstat(f.get(), &st);
    const int err = errno;
    ::unlink(path.c_str());
    if (rc < 0) throw sys::SysError("stat", path, err);
    return ctime_of(st);
}

// The first filesystem time after `t`. Filesystems hand out coarse times -- one per clock tick
// -- so a file changed right after `t` can still get `t` itself; waiting for the tick to pass
// makes "before" and "after" exact. At most a tick (1-10 ms), once per copy.
struct timespec fs_after(const std::string& path, const struct timespec& t) {
    for (;;) {
        const struct timespec now = fs_now(path);
        if (before(t, now)) return now;
        const struct timespec pause {0, 100 * 1000};
        ::nanosleep(&pause, nullptr);
    }
}

std::string times_path(const std::string& dir) { return dir + ".times"; }

// The two times, next to the snapshot: a run that is killed (SIGKILL, a crash) leaves its work
// in the snapshot, and the next command that opens the session stages it from there.
// The directories left out follow, one a line: "o DEV INO" in the project, "p DEV INO" the
// copy's stand-in, "a DEV INO" a project directory above one; without them a resumed run
// would stage the missing content as deletions.
void save_times(const Snapshot& s) {
    std::string text = std::to_string(s.started.tv_sec) + " " +
                       std::to_string(s.started.tv_nsec) + " " + std::to_string(s.stamp.tv_sec) +
                       " " + std::to_string(s.stamp.tv_nsec) + "\n";
    for (const auto& [tag, ids] : {std::pair{'o', &s.left_out}, std::pair{'p', &s.placeholders},
                                   std::pair{'a', &s.holding}})
        for (const Identity& id : *ids)
            text += std::string(1, tag) + " " + std::to_string(id.dev) + " " +
                    std::to_string(id.ino) + "\n";
    // Whole or not at all: a run killed at the write left an empty file, which every later
    // command failed to parse (the session "broken"). Without the file the snapshot is one
    // whose command never ran (resume_snapshot).
    const std::string path = times_path(s.dir);
    const std::string tmp = path + ".tmp";
    sys::unique_fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                            0600));
    if (!f || ::write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw sys::SysError("write", tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw sys::SysError("rename", path, errno);
}

}  // namespace

namespace {

// The same walk as Copier::tree, counting instead of copying.
struct Counter : sys::WalkVisitor {
    CopyCost& c;
    const std::vector<Identity>& left_out;
    Counter(CopyCost& cost, const std::vector<Identity>& ids) : c(cost), left_out(ids) {}
    sys::WalkStep visit(const sys::WalkEntry& e) override {
        if (is_one_of(left_out, e.st)) {  // an empty directory in the copy
            ++c.dirs;
            return sys::WalkStep::over;
        }
        if (S_ISREG(e.st.st_mode)) {
            ++c.files;
            c.bytes += static_cast<std::uint64_t>(e.st.st_size);
        } else if (S_ISLNK(e.st.st_mode)) {
            ++c.links;
        } else if (S_ISDIR(e.st.st_mode)) {
            ++c.dirs;
        }
        return sys::WalkStep::into;
    }
};

}  // namespace

CopyCost snapshot_cost(const std::string& project, const std::vector<std::string>& leave_out) {
    const std::vector<Identity> ids = directories(leave_out);
    sys::unique_fd src(::open(project.c_str(), kDirFlags));
    if (!src) throw sys::SysError("open", project, errno);
    CopyCost c;
    Counter counter(c, ids);
    sys::walk_tree(src.get(), project, counter, {.sorted = true});
    return c;
}

Snapshot make_snapshot(const std::string& project, const std::string& dir,
                       const std::vector<std::string>& leave_out) {
    Snapshot s;
    s.project = project;
    s.dir = dir;
    s.left_out = directories(leave_out);
    // Whatever changes in the project from here on gets a ctime after `started`; what the copy
    // reads was there before, or is someone else's work (materialise, whiteouts).
    s.started = fs_now(dir + ".start");
    fs_after(dir + ".start", s.started);
    sys::unique_fd src(::open(project.c_str(), kDirFlags));
    if (!src) throw sys::SysError("open", project, errno);
    struct stat st {};
    if (::fstat(src.get(), &st) < 0) throw sys::SysError("stat", project, errno);
    if (::mkdir(dir.c_str(), 0700) < 0) throw sys::SysError("mkdir", dir, errno);
    sys::unique_fd dst(::open(dir.c_str(), kDirFlags));
    if (!dst) throw sys::SysError("open", dir, errno);
    // The copy itself, wherever the caller put it: a copy inside the project would copy
    // what it has copied so far, until the path is too long or the disk full.
    struct stat made {};
    if (::fstat(dst.get(), &made) < 0) throw sys::SysError("stat", dir, errno);
    s.left_out.push_back(identity_of(made));
    Copier c(s);
    c.tree(src.get(), dst.get());
    c.finish_dir(dst.get(), st, "");

    // Every entry the copy made has a ctime before the stamp, so that an entry with a later
    // one, or the same, was made or changed by the sandbox.
    s.stamp = fs_after(dir + ".stamp", fs_now(dir + ".stamp"));
    save_times(s);
    return s;
}

std::uint64_t materialise(const Snapshot& snap, const std::string& upper, Whiteouts form) {
    // The command can chmod the project's root too (the snapshot's root, inside): its entries
    // are moved out all the same. Its mode is not staged (overlay cannot stage it either).
    struct stat root {};
    if (::lstat(snap.dir.c_str(), &root) < 0) throw sys::SysError("stat", snap.dir, errno);
    if (S_ISDIR(root.st_mode)) fsops::give_owner_rwx(AT_FDCWD, snap.dir, root.st_mode, snap.dir);
    sys::unique_fd s(::open(snap.dir.c_str(), kDirFlags));
    if (!s) throw sys::SysError("open", snap.dir, errno);
    sys::unique_fd p(::open(snap.project.c_str(), kDirFlags));
    if (!p) throw sys::SysError("open", snap.project, errno);
    sys::unique_fd u(::open(upper.c_str(), kDirFlags));
    if (!u) throw sys::SysError("open", upper, errno);
    Materialiser m(snap, s.get(), u.get(), form);
    // The project root's own mode is not staged (overlay cannot stage it either).
    m.walk("", s.get(), p.get());
    // Below a directory moved whole, the command's modes are still there.
    open_up_staged(upper);
    return m.moved();
}

}  // namespace agentbox::stage

namespace agentbox::stage {

namespace {

// Where a staged snapshot goes to be removed (discard_snapshot).
std::string gone_path(const std::string& dir) { return dir + ".gone"; }

void remove_tree(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) return;
    sys::remove_contents(dir);
    if (::rmdir(dir.c_str()) < 0) throw sys::SysError("rmdir", dir, errno);
}

}  // namespace

bool resume_snapshot(const std::string& project, const std::string& dir, const std::string& upper,
                     Whiteouts form) {
    const std::string path = times_path(dir);
    sys::unique_fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!f) {
        if (errno != ENOENT) throw sys::SysError("open", path, errno);
        // Staged; its removal was cut short. What cannot be removed costs only space: never a
        // reason not to open the session.
        try {
            remove_tree(gone_path(dir));
        } catch (const sys::SysError&) {
        }
        return false;
    }
    struct stat st {};
    if (::lstat(dir.c_str(), &st) < 0) {
        if (errno != ENOENT) throw sys::SysError("stat", dir, errno);
        // Staged and moved out of the way, the times not yet gone (discard_snapshot).
        try {
            discard_snapshot(dir);
        } catch (const sys::SysError&) {
        }
        return false;
    }
    std::string text;
    if (const int err = sys::read_fd(f.get(), text, 1 << 16)) throw sys::SysError("read", path, err);
    Snapshot s;
    s.project = project;
    s.dir = dir;
    long long a = 0, b = 0, c = 0, d = 0;
    if (std::sscanf(text.c_str(), "%lld %lld %lld %lld", &a, &b, &c, &d) != 4)
        throw sys::SysError("parse", path, EINVAL);
    s.started = {static_cast<time_t>(a), static_cast<long>(b)};
    s.stamp = {static_cast<time_t>(c), static_cast<long>(d)};
    // The directories left out (save_times); a snapshot saved before there were any has none.
    for (std::size_t at = text.find('\n'); at != std::string::npos && at + 1 < text.size();
         at = text.find('\n', at + 1)) {
        char tag = 0;
        unsigned long long dev = 0, ino = 0;
        if (std::sscanf(text.c_str() + at + 1, "%c %llu %llu", &tag, &dev, &ino) != 3 ||
            (tag != 'o' && tag != 'p' && tag != 'a'))
            throw sys::SysError("parse", path, EINVAL);
        (tag == 'o' ? s.left_out : tag == 'p' ? s.placeholders : s.holding).push_back({dev, ino});
    }
    materialise(s, upper, form);
    discard_snapshot(dir);
    return true;
}

void open_up_staged(const std::string& upper) {
    // upper/ itself is the overlay's root: a chmod of the project's root inside lands on it.
    struct stat st {};
    if (::lstat(upper.c_str(), &st) < 0) throw sys::SysError("stat", upper, errno);
    fsops::give_owner_rwx(AT_FDCWD, upper, st.st_mode, upper);
    sys::unique_fd u(::open(upper.c_str(), kDirFlags));
    if (!u) throw sys::SysError("open", upper, errno);
    // Before the walk enters a directory: one without r or x could not be listed.
    struct OpenUp : sys::WalkVisitor {
        sys::WalkStep visit(const sys::WalkEntry& e) override {
            if (!S_ISDIR(e.st.st_mode)) {
                fsops::give_owner_read(e.dirfd, e.name, e.st.st_mode, e.path);
                return sys::WalkStep::over;
            }
            fsops::give_owner_rwx(e.dirfd, e.name, e.st.st_mode, e.path);
            return sys::WalkStep::into;
        }
        // What cannot be walked (deeper than the walk's bound, gone or swapped meanwhile) is
        // left as it is and the walk goes on: the rest of the tree must not stay shut for it,
        // and the review says what it then cannot read.
        void fail(const sys::SysError&) override {}
    } v;
    sys::walk_tree(u.get(), upper, v);
}

void discard_snapshot(const std::string& dir) {
    // While the saved times exist, the snapshot counts as work to stage, and materialise reads
    // every project entry missing from it as the command's deletion. A snapshot removed part
    // way (a kill, a failed unlink) would so stage deletions of files the command never
    // touched: it leaves its path in one rename, the times go, and only then is it removed.
    const std::string gone = gone_path(dir);
    remove_tree(gone);  // an earlier removal cut short
    if (::rename(dir.c_str(), gone.c_str()) < 0 && errno != ENOENT)
        throw sys::SysError("rename", dir, errno);
    if (::unlink(times_path(dir).c_str()) < 0 && errno != ENOENT)
        throw sys::SysError("unlink", times_path(dir), errno);
    remove_tree(gone);
}

}  // namespace agentbox::stage
