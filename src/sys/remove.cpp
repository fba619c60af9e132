#include "sys/remove.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace agentbox::sys {

namespace {

enum class Walk { remove, open_up };

// Walk::remove removes everything under fd; Walk::open_up only gives the owner rwx on every
// directory and rw on every regular file under it.
void clear_dir(int fd, const std::string& path, int depth, Walk how) {
    const bool remove = how == Walk::remove;
    // Bounded: a path deeper than this is not something agentbox created.
    if (depth > 4096) throw SysError("remove", path, ELOOP);
    for (const auto& [name, type] : read_dir(fd, path)) {
        const bool is_dir = type == DT_DIR, is_file = type == DT_REG;
        const std::string child = path + "/" + name;
        if (is_dir) {
            // Make it listable: only ever on a directory entry of ours, never through a link.
            ::fchmodat(fd, name.c_str(), 0700, 0);
            unique_fd sub(::openat(fd, name.c_str(),
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) throw SysError("open", child, errno);
            clear_dir(sub.get(), child, depth + 1, how);
            if (remove && ::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0)
                throw SysError("rmdir", child, errno);
        } else if (!remove) {
            if (is_file) ::fchmodat(fd, name.c_str(), 0600, 0);
        } else if (::unlinkat(fd, name.c_str(), 0) != 0) {
            throw SysError("unlink", child, errno);
        }
    }
}

// Everything inside `dir`, which may be missing.
void walk_inside(const std::string& dir, Walk how) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return;
        throw SysError("open", dir, errno);
    }
    clear_dir(fd.get(), dir, 0, how);
}

}  // namespace

void remove_contents(const std::string& dir) { walk_inside(dir, Walk::remove); }

void open_up(const std::string& dir) { walk_inside(dir, Walk::open_up); }

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
        clear_dir(sub.get(), shown, 0, Walk::remove);
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
            throw SysError("rmdir", shown, errno);
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
        throw SysError("unlink", shown, errno);
    }
}

}  // namespace agentbox::sys
