#include "stage/fsops.hpp"

#include <fcntl.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/xattr.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "sys/beneath.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/io.hpp"
#include "sys/remove.hpp"
#include "sys/rename.hpp"
#include "sys/stat_times.hpp"
#include "sys/walk.hpp"
#include "sys/xattr.hpp"
#include "util/strings.hpp"

namespace agentbox::stage::fsops {

using sys::SysError;
using sys::unique_fd;

namespace {

// What a file's owner may set on it without privilege: user xattrs and POSIX ACLs. Other
// namespaces (security.*, trusted.*) need capabilities no sandbox has.
bool owner_settable(std::string_view name) {
    return name.starts_with("user.") || name.starts_with("system.posix_acl_");
}

// The owner-settable xattrs of the open file, name to value; none where the filesystem has no
// xattrs. One call when there are none, the common case.
std::map<std::string, std::string> owner_xattrs(int fd, const std::string& shown) {
    std::map<std::string, std::string> out;
    std::string list(256, '\0');
    ssize_t n = sys::fd_list_xattrs(fd, list.data(), list.size());
    while (n < 0 && errno == ERANGE) {
        const ssize_t want = sys::fd_list_xattrs(fd, nullptr, 0);
        if (want < 0) break;
        list.resize(static_cast<std::size_t>(want) + 1);
        n = sys::fd_list_xattrs(fd, list.data(), list.size());
    }
    if (n < 0) {
        if (errno == ENOTSUP) return out;
        throw SysError("listxattr", shown, errno);
    }
    list.resize(static_cast<std::size_t>(n));
    for (std::size_t at = 0; at < list.size();) {
        const std::string name(list.c_str() + at);
        at += name.size() + 1;
        if (!owner_settable(name)) continue;
        std::string value;
        ssize_t v = -1;
        for (;;) {  // sized, then read: again if it grew in between (ERANGE)
            v = sys::fd_get_xattr(fd, name.c_str(), nullptr, 0);
            if (v < 0) break;
            value.resize(static_cast<std::size_t>(v));
            v = sys::fd_get_xattr(fd, name.c_str(), value.data(), value.size());
            if (v >= 0 || errno != ERANGE) break;
        }
        if (v < 0) {
            if (errno == ENODATA) continue;  // removed meanwhile
            throw SysError("getxattr " + name, shown, errno);
        }
        value.resize(static_cast<std::size_t>(v));
        out.emplace(name, std::move(value));
    }
    return out;
}

// Gives the open file (or directory), lstat'ed at `st`, exactly the owner-settable xattrs
// `want`, where it has `have`; its mode is left as it was.
void set_owner_xattrs(int fd, const struct stat& st, const std::map<std::string, std::string>& have,
                      const std::map<std::string, std::string>& want, const std::string& shown) {
    if (have == want) return;
    // Changing a user xattr takes write permission on the file, which its owner may lack.
    const mode_t mode = st.st_mode & 07777;
    if ((mode & S_IWUSR) == 0 && ::fchmod(fd, mode | S_IWUSR) != 0)
        throw SysError("chmod", shown, errno);
    for (const auto& [name, value] : have) {
        const auto it = want.find(name);
        if ((it == want.end() || it->second != value) &&
            sys::fd_remove_xattr(fd, name.c_str()) != 0 && errno != ENODATA)
            throw SysError("removexattr " + name, shown, errno);
    }
    for (const auto& [name, value] : want) {
        const auto it = have.find(name);
        if ((it == have.end() || it->second != value) &&
            sys::fd_set_xattr(fd, name.c_str(), value.data(), value.size(), 0) != 0)
            throw SysError("setxattr " + name, shown, errno);
    }
    // An ACL written or removed rewrites the group bits: the mode goes back to what it was.
    if (::fchmod(fd, mode) != 0) throw SysError("chmod", shown, errno);
}

// A copy made where a rename cannot go (another filesystem) gets what the rename would
// have carried that its owner may set: the source's user xattrs and ACLs, and no others
// (an ACL inherited from the destination's default one included).
void copy_owner_xattrs(int src, int dst, const std::string& shown) {
    struct stat st {};
    if (::fstat(dst, &st) != 0) throw SysError("stat", shown, errno);
    set_owner_xattrs(dst, st, owner_xattrs(dst, shown), owner_xattrs(src, shown), shown);
}

// Create `dname` in `ddir` as a copy of `sname`, not a directory (which must not exist at the
// destination).
void copy_leaf(int sdir, const std::string& sname, int ddir, const std::string& dname,
               const struct stat& st, const std::string& shown) {
    if (S_ISREG(st.st_mode)) {
        unique_fd in(::openat(sdir, sname.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
        if (!in) throw SysError("open", shown, errno);
        unique_fd out(::openat(ddir, dname.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                                        O_CLOEXEC, 0600));
        if (!out) throw SysError("create", shown, errno);
        sys::copy_data(in.get(), out.get(), shown);
        copy_owner_xattrs(in.get(), out.get(), shown);
        if (::fchmod(out.get(), st.st_mode & 01777) != 0) throw SysError("chmod", shown, errno);
        const struct timespec times[2] = {sys::atime_of(st), sys::mtime_of(st)};
        ::futimens(out.get(), times);
        if (::fsync(out.get()) != 0) throw SysError("fsync", shown, errno);
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
        const ssize_t n = ::readlinkat(sdir, sname.c_str(), target.data(), target.size());
        if (n < 0) throw SysError("readlink", shown, errno);
        target.resize(static_cast<std::size_t>(n));
        if (::symlinkat(target.c_str(), ddir, dname.c_str()) != 0)
            throw SysError("symlink", shown, errno);
    } else if (S_ISFIFO(st.st_mode)) {
        if (::mkfifoat(ddir, dname.c_str(), st.st_mode & 0777) != 0)
            throw SysError("mkfifo", shown, errno);
    } else {
        // Device nodes and sockets cannot be recreated by an unprivileged copy.
        throw SysError("copy", shown, ENOTSUP);
    }
}

// A directory's copy is made 0700, and given its mode once its entries are in.
unique_fd make_dir_copy(int ddir, const std::string& dname, const std::string& shown) {
    if (::mkdirat(ddir, dname.c_str(), 0700) != 0) throw SysError("mkdir", shown, errno);
    unique_fd dst(::openat(ddir, dname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dst) throw SysError("open", shown, errno);
    return dst;
}

void finish_dir_copy(int src, int dst, const std::string& shown) {
    struct stat st {};
    if (::fstat(src, &st) != 0) throw SysError("stat", shown, errno);
    copy_owner_xattrs(src, dst, shown);
    ::fchmod(dst, st.st_mode & 01777);
    if (::fsync(dst) != 0) throw SysError("fsync", shown, errno);
}

// The copy of a tree: each directory of the walk made as it is entered, finished as it is left.
class TreeCopy : public sys::WalkVisitor {
public:
    explicit TreeCopy(int root) : root_(root) {}
    sys::WalkStep visit(const sys::WalkEntry& e) override {
        const int d = dst_.empty() ? root_ : dst_.back().get();
        if (!S_ISDIR(e.st.st_mode)) {
            copy_leaf(e.dirfd, e.name, d, e.name, e.st, e.path);
            return sys::WalkStep::over;
        }
        dst_.push_back(make_dir_copy(d, e.name, e.path));
        return sys::WalkStep::into;
    }
    void leave(const sys::WalkEntry& e, int fd) override {
        finish_dir_copy(fd, dst_.back().get(), e.path);
        dst_.pop_back();
    }

private:
    const int root_;
    std::vector<unique_fd> dst_;  // the copies of the directories the walk is in
};

// Create `dname` in `ddir` as a copy of `sname` (which must not exist at the destination).
void copy_one(int sdir, const std::string& sname, int ddir, const std::string& dname,
              const struct stat& st, const std::string& shown) {
    if (!S_ISDIR(st.st_mode)) return copy_leaf(sdir, sname, ddir, dname, st, shown);
    unique_fd src(::openat(sdir, sname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!src) throw SysError("open", shown, errno);
    const unique_fd dst = make_dir_copy(ddir, dname, shown);
    TreeCopy copy(dst.get());
    sys::walk_tree(src.get(), shown, copy);
    finish_dir_copy(src.get(), dst.get(), shown);
}

}  // namespace

sys::unique_fd open_dir_beneath(int root, const std::string& rel, const std::string& shown) {
    unique_fd fd(sys::open_beneath(root, rel.c_str(), kDirHandle));
    if (!fd) throw SysError("openat2", shown, errno);
    return fd;
}

sys::unique_fd make_dirs_beneath(int root, const std::string& rel, const std::string& shown) {
    unique_fd fd(sys::open_beneath(root, rel.c_str(), kDirHandle));
    if (fd) return fd;
    if (errno != ENOENT) throw SysError("openat2", shown, errno);
    unique_fd cur(::fcntl(root, F_DUPFD_CLOEXEC, 0));
    for (const auto& part : util::split(rel, '/')) {
        if (part.empty()) continue;
        if (::mkdirat(cur.get(), part.c_str(), 0700) != 0 && errno != EEXIST)
            throw SysError("mkdir", shown, errno);
        unique_fd next(sys::open_beneath(cur.get(), part.c_str(), kDirHandle));
        if (!next) throw SysError("openat2", shown, errno);
        cur = std::move(next);
    }
    return cur;
}

bool exists_at(int dirfd, const std::string& name, struct stat* st) {
    struct stat tmp {};
    if (::fstatat(dirfd, name.c_str(), st != nullptr ? st : &tmp, AT_SYMLINK_NOFOLLOW) == 0)
        return true;
    if (errno == ENOENT) return false;
    throw SysError("stat", name, errno);
}

namespace {

bool give_owner(int dirfd, const std::string& name, mode_t mode, mode_t add,
                const std::string& shown) {
    if ((mode & add) == add) return false;
    // AT_SYMLINK_NOFOLLOW: the inode at `name` itself (Linux: through an O_PATH descriptor),
    // never what a symlink swapped in since the lstat points at.
    if (::fchmodat(dirfd, name.c_str(), (mode & 07777) | add, AT_SYMLINK_NOFOLLOW) == 0)
        return true;
    if (errno == EOPNOTSUPP || errno == ENOENT) return false;
    throw sys::SysError("chmod", shown, errno);
}

// The record is for the review's eyes only (no directory mode lands): where it cannot be
// written (no user xattrs, a full disk) the review shows the mode as it is, owner rwx added,
// and nothing stops.
void record_mode(int fd, mode_t mode) {
    char text[8];
    const int n = std::snprintf(text, sizeof text, "%o", static_cast<unsigned>(mode & 07777));
    (void)sys::fd_set_xattr(fd, kModeXattr, text, static_cast<std::size_t>(n), 0);
}

}  // namespace

bool give_owner_rwx(int dirfd, const std::string& name, mode_t mode, const std::string& shown) {
    if (!S_ISDIR(mode) || !give_owner(dirfd, name, mode, S_IRWXU, shown)) return false;
    // Opened again for the record (an O_PATH descriptor takes no xattr): gone or replaced
    // since, there is nothing to record.
    unique_fd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (d) record_mode(d.get(), mode);
    return true;
}

void set_staged_dir_mode(int fd, mode_t mode, const std::string& shown) {
    if (::fchmod(fd, (mode & 07777) | S_IRWXU) != 0) throw SysError("chmod", shown, errno);
    if ((mode & S_IRWXU) != S_IRWXU) {
        record_mode(fd, mode);
        return;
    }
    // A record left by a failed removal is trusted only where it matches (staged_dir_mode).
    (void)sys::fd_remove_xattr(fd, kModeXattr);
}

mode_t staged_dir_mode(int fd, mode_t st_mode, std::string_view listed) {
    if (!sys::xattr_listed(listed, kModeXattr)) return st_mode;
    char text[8] = {};
    const ssize_t n = sys::fd_get_xattr(fd, kModeXattr, text, sizeof text - 1);
    if (n <= 0) return st_mode;
    unsigned m = 0;
    for (ssize_t i = 0; i < n; ++i) {
        if (text[i] < '0' || text[i] > '7') return st_mode;
        m = m * 8 + static_cast<unsigned>(text[i] - '0');
    }
    if (m > 07777 || ((m | S_IRWXU) != (st_mode & 07777))) return st_mode;
    return (st_mode & S_IFMT) | static_cast<mode_t>(m);
}

bool give_owner_read(int dirfd, const std::string& name, mode_t mode, const std::string& shown) {
    return S_ISREG(mode) && give_owner(dirfd, name, mode, S_IRUSR, shown);
}

bool is_temp_name(std::string_view name) { return name.starts_with(kTempPrefix); }

namespace {

void fsync_fd_dir(int dir, const std::string& shown) {
#ifdef __linux__
    // O_PATH descriptors cannot be fsynced: reopen the same inode.
    const std::string proc = "/proc/self/fd/" + std::to_string(dir);
    unique_fd fd(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw SysError("open", shown, errno);
    if (::fsync(fd.get()) != 0) throw SysError("fsync", shown, errno);
#else
    // kDirHandle is a read-only open there (fsops.hpp).
    if (::fsync(dir) != 0) throw SysError("fsync", shown, errno);
#endif
}

void rename_noreplace(int sdir, const std::string& sname, int ddir, const std::string& dname,
                      const std::string& shown) {
    if (sys::rename_noreplace(sdir, sname.c_str(), ddir, dname.c_str()) != 0)
        throw SysError("rename", shown, errno);
}

}  // namespace

bool move_at(int sdir, const std::string& sname, int ddir, const std::string& dname,
             const MoveNames& names, const std::string& shown) {
    if (exists_at(sdir, names.old)) {
        // A cross-filesystem move was cut short after its copy was complete.
        if (exists_at(ddir, names.tmp)) {
            rename_noreplace(ddir, names.tmp, ddir, dname, shown);
            fsync_fd_dir(ddir, shown);
        } else if (!exists_at(ddir, dname)) {
            // The copy is gone (removed by hand): the source is still whole, start again.
            rename_noreplace(sdir, names.old, sdir, sname, shown);
            return move_at(sdir, sname, ddir, dname, names, shown);
        }
        sys::remove_at(sdir, names.old, shown);
        return true;
    }
    if (!exists_at(sdir, sname)) {
        // Nothing to move; a copy begun before a crash is only a leftover.
        sys::remove_at(ddir, names.tmp, shown);
        return false;
    }
    if (sys::rename_noreplace(sdir, sname.c_str(), ddir, dname.c_str()) == 0) return true;
    if (errno != EXDEV) throw SysError("rename", shown, errno);
    struct stat st {};
    if (::fstatat(sdir, sname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw SysError("stat", shown, errno);
    if (exists_at(ddir, dname)) throw SysError("rename", shown, EEXIST);
    sys::remove_at(ddir, names.tmp, shown);  // a partial copy from before a crash
    try {
        copy_one(sdir, sname, ddir, names.tmp, st, shown);
        fsync_fd_dir(ddir, shown);
    } catch (...) {
        // A half-written copy (a full disk) must not be left behind.
        try {
            sys::remove_at(ddir, names.tmp, shown);
        } catch (...) {
        }
        throw;
    }
    // From here on the copy is whole: the source goes out of the way first, so that no crash
    // leaves the entry under both names (which would read as two different entries).
    rename_noreplace(sdir, sname, sdir, names.old, shown);
    fsync_fd_dir(sdir, shown);
    rename_noreplace(ddir, names.tmp, ddir, dname, shown);
    fsync_fd_dir(ddir, shown);
    sys::remove_at(sdir, names.old, shown);
    return true;
}

void unshare_at(int dir, const std::string& name, const std::string& tmp, const std::string& shown) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw SysError("stat", shown, errno);
    sys::remove_at(dir, tmp, shown);
    try {
        copy_one(dir, name, dir, tmp, st, shown);
        // Over the linked name in one step: a crash leaves either the link or the copy, both
        // the same content.
        if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0)
            throw SysError("rename", shown, errno);
    } catch (...) {
        try {
            sys::remove_at(dir, tmp, shown);
        } catch (...) {
        }
        throw;
    }
}

namespace {

unique_fd open_regular(int dir, const std::string& name, struct stat& st) {
    unique_fd fd(::openat(dir, name.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) fd.reset();
    return fd;
}

}  // namespace

void keep_original_xattrs(int sdir, const std::string& sname, int odir, const std::string& oname,
                          const std::string& shown) {
#ifdef __linux__
    // A new file with no xattr at all, the common case: one call instead of an open, a stat
    // and a close (l-: a symlink's own list, which a user xattr cannot be on).
    if (odir < 0) {
        const std::string at = "/proc/self/fd/" + std::to_string(sdir) + "/" + sname;
        if (::llistxattr(at.c_str(), nullptr, 0) == 0) return;
    }
#endif
    struct stat st {}, ost {};
    const unique_fd f = open_regular(sdir, sname, st);
    if (!f) return;
    const auto staged = owner_xattrs(f.get(), shown);
    std::map<std::string, std::string> original;
    if (odir >= 0)
        if (const unique_fd o = open_regular(odir, oname, ost))
            original = owner_xattrs(o.get(), shown);
    set_owner_xattrs(f.get(), st, staged, original, shown);
}

void fsync_dir(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw SysError("open", path, errno);
    if (::fsync(fd.get()) != 0) throw SysError("fsync", path, errno);
}

void write_file_atomic(const std::string& path, const std::string& data) {
    const std::string tmp = path + ".tmp";
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) throw SysError("unlink", tmp, errno);
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw SysError("open", tmp, errno);
    sys::write_all(fd.get(), data, tmp);
    if (::fsync(fd.get()) != 0) throw SysError("fsync", tmp, errno);
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw SysError("rename", path, errno);
    fsync_dir(split_parent(path).first.empty() ? "/" : split_parent(path).first);
}

}  // namespace agentbox::stage::fsops
