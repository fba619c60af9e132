#include "sys/remove.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/walk.hpp"

namespace agentbox::sys {

namespace {

enum class Pass { remove, open_up };

// Pass::remove removes everything below the walk's root; Pass::open_up only gives the owner
// rwx on every directory and rw on every regular file below it. By the entries' types: no
// lstat per entry.
class Clear : public WalkVisitor {
public:
    explicit Clear(Pass how) : remove_(how == Pass::remove) {}
    WalkStep visit(const WalkEntry& e) override {
        if (S_ISDIR(e.st.st_mode)) {
            // Make it listable: only ever on a directory entry of ours, never through a link.
            ::fchmodat(e.dirfd, e.name.c_str(), 0700, 0);
            return WalkStep::into;
        }
        if (!remove_) {
            if (S_ISREG(e.st.st_mode)) ::fchmodat(e.dirfd, e.name.c_str(), 0600, 0);
        } else if (::unlinkat(e.dirfd, e.name.c_str(), 0) != 0) {
            throw SysError("unlink", e.path, errno);
        }
        return WalkStep::over;
    }
    void leave(const WalkEntry& e, int) override {
        if (remove_ && ::unlinkat(e.dirfd, e.name.c_str(), AT_REMOVEDIR) != 0)
            throw SysError("rmdir", e.path, errno);
    }
private:
    const bool remove_;
};

void clear_dir(int fd, const std::string& path, Pass how) {
    Clear c(how);
    // As deep as the tree goes, like rm -rf: what a sandboxed command staged is removed
    // however deep it made it (design note 74); the walk's descriptors stay bounded.
    walk_tree(fd, path, c, {.max_depth = kNoDepthBound, .stat = false});
}

// Everything inside `dir`, which may be missing.
void walk_inside(const std::string& dir, Pass how) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return;
        throw SysError("open", dir, errno);
    }
    clear_dir(fd.get(), dir, how);
}

}  // namespace

void remove_contents(const std::string& dir) { walk_inside(dir, Pass::remove); }

void open_up(const std::string& dir) { walk_inside(dir, Pass::open_up); }

void remove_at(int dirfd, const std::string& name, const std::string& shown) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return;
        throw SysError("stat", shown, errno);
    }
    if (S_ISDIR(st.st_mode)) {
        ::fchmodat(dirfd, name.c_str(), (st.st_mode & 07777) | 0700, 0);
        unique_fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) throw SysError("open", shown, errno);
        clear_dir(sub.get(), shown, Pass::remove);
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
            throw SysError("rmdir", shown, errno);
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
        throw SysError("unlink", shown, errno);
    }
}

}  // namespace agentbox::sys
