#include "stage/whiteout.hpp"

#include <fcntl.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/sysmacros.h>  // makedev
#endif

#include <cerrno>

#include "stage/fsops.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/walk.hpp"
#include "sys/xattr.hpp"

namespace agentbox::stage {

namespace {

// The value the portable form carries. Only the name is checked: the value says what it is to
// someone reading the xattrs by hand.
constexpr char kMark[] = "deleted";

// The empty regular file `name` in `dirfd`, opened to read its xattrs; invalid when it is
// anything else (O_NONBLOCK: a fifo swapped in cannot hang the open).
sys::unique_fd open_empty_file(int dirfd, const std::string& name, const struct stat& st) {
    if (!S_ISREG(st.st_mode) || st.st_size != 0) return {};
    return sys::unique_fd(
        ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
}

bool carries_mark(int fd) {
    char v[sizeof kMark];
    return sys::fd_get_xattr(fd, kWhiteoutXattr, v, sizeof v) >= 0 || errno == ERANGE;
}

}  // namespace

const char* staged_name(Staged s) {
    switch (s) {
        case Staged::overlay: return "overlay";
        case Staged::copy: return "copy";
        case Staged::none: return "none";
    }
    return "overlay";
}

Whiteouts whiteouts_for(Staged s) {
    return s == Staged::copy ? Whiteouts::portable : Whiteouts::device;
}

bool is_whiteout(Whiteouts form, int dirfd, const std::string& name, const struct stat& st) {
    if (form == Whiteouts::device) {
        // A device node is never honoured in a copy session (the other branch), so a copy
        // session's upper/ needs no mknod, which macOS allows only to root.
        return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
    }
    const sys::unique_fd f = open_empty_file(dirfd, name, st);
    return f && carries_mark(f.get());
}

void make_whiteout(Whiteouts form, int dirfd, const std::string& name, const std::string& shown) {
    if (form == Whiteouts::device) {
#ifdef __linux__
        // Needs no privilege since Linux 5.8.
        if (::mknodat(dirfd, name.c_str(), S_IFCHR | 0000, ::makedev(0, 0)) < 0)
            throw sys::SysError("mknod(whiteout)", shown, errno);
        return;
#else
        // Only overlay sessions use it, and there are none here.
        throw sys::SysError("mknod(whiteout)", shown, ENOTSUP);
#endif
    }
    // Writable by its owner: setting a user xattr takes write permission on the file itself
    // (not on the descriptor), which only root can do without.
    sys::unique_fd f(::openat(dirfd, name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) throw sys::SysError("create(whiteout)", shown, errno);
    if (sys::fd_set_xattr(f.get(), kWhiteoutXattr, kMark, sizeof kMark - 1, 0) < 0) {
        // Not left as an empty file: it would be staged as one, replacing the project's.
        const int err = errno;
        ::unlinkat(dirfd, name.c_str(), 0);
        throw sys::SysError("setxattr(whiteout)", shown, err);
    }
}

namespace {

void disarm_file(int dirfd, const std::string& name, const struct stat& st,
                 const std::string& shown) {
    const sys::unique_fd f = open_empty_file(dirfd, name, st);
    if (!f || !carries_mark(f.get())) return;
    if (sys::fd_remove_xattr(f.get(), kWhiteoutXattr) == 0 || errno == sys::kNoXattr) return;
    // Removing a user xattr takes write permission on the file: a command that made its file
    // read-only gets it back as it left it, unmarked.
    const int err = errno;
    if (err != EACCES && err != EPERM) throw sys::SysError("removexattr", shown, err);
    if (::fchmod(f.get(), (st.st_mode & 07777) | S_IWUSR) < 0)
        throw sys::SysError("removexattr", shown, err);
    const bool removed = sys::fd_remove_xattr(f.get(), kWhiteoutXattr) == 0 || errno == sys::kNoXattr;
    const int again = errno;
    if (::fchmod(f.get(), st.st_mode & 07777) < 0) throw sys::SysError("chmod", shown, errno);
    if (!removed) throw sys::SysError("removexattr", shown, again);
}

}  // namespace

void disarm_whiteouts(int dirfd, const std::string& name, const std::string& shown) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        throw sys::SysError("stat", shown, errno);
    if (!S_ISDIR(st.st_mode)) {
        disarm_file(dirfd, name, st, shown);
        return;
    }
    sys::unique_fd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) throw sys::SysError("open", shown, errno);
    struct Disarm : sys::WalkVisitor {
        sys::WalkStep visit(const sys::WalkEntry& e) override {
            if (S_ISREG(e.st.st_mode)) disarm_file(e.dirfd, e.name, e.st, e.path);
            // A directory the command made unreadable is opened up (its owner's rwx) to be
            // searched: left closed, a mark below it would not be found -- and upper/'s
            // directories get their owner's rwx anyway (snapshot.hpp, open_up_staged).
            if (S_ISDIR(e.st.st_mode)) fsops::give_owner_rwx(e.dirfd, e.name, e.st.st_mode, e.path);
            return sys::WalkStep::into;
        }
    } v;
    // As deep as the command made the tree: a mark left armed below a bound would read as a
    // deletion (design note 74).
    sys::walk_tree(d.get(), shown, v, {.max_depth = sys::kNoDepthBound});
}

}  // namespace agentbox::stage
