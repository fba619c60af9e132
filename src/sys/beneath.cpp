#include "sys/beneath.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

namespace agentbox::sys {

#ifdef __linux__

int open_beneath(int dirfd, const char* rel, int flags, Beneath how) {
    struct open_how oh {};
    oh.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
    oh.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    if (how == Beneath::same_mount) oh.resolve |= RESOLVE_NO_XDEV;
    const char* path = rel[0] == '\0' ? "." : rel;
    for (;;) {
        const long fd = ::syscall(SYS_openat2, dirfd, path, &oh, sizeof oh);
        if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
    }
}

#else

int open_beneath(int dirfd, const char* rel, int flags, Beneath how) {
    return open_beneath_walk(dirfd, rel, flags, how);
}

#endif

// Without openat2 (macOS): one component at a time, each opened with O_NOFOLLOW beneath the
// directory opened before it, so that the walk neither follows a symlink (ELOOP, as
// RESOLVE_NO_SYMLINKS) nor climbs out with ".." or an absolute path (EXDEV, as RESOLVE_BENEATH).
// A component swapped for a symlink between two steps is refused the same way: each step
// opens what is there now, without following it.
int open_beneath_walk(int dirfd, const char* rel, int flags, Beneath how) {
    if (rel[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    struct stat top {};
    if (how == Beneath::same_mount && ::fstat(dirfd, &top) < 0) return -1;
    int cur = dirfd;  // owned once it is not dirfd
    const auto drop = [&] {
        if (cur != dirfd) {
            const int saved = errno;
            ::close(cur);
            errno = saved;
        }
    };
    const char* p = rel;
    for (;;) {
        while (*p == '/') ++p;
        const char* end = std::strchr(p, '/');
        const std::size_t len = end ? static_cast<std::size_t>(end - p) : std::strlen(p);
        const char* rest = end;
        while (rest && *rest == '/') ++rest;
        const bool last = rest == nullptr || *rest == '\0';
        char name[NAME_MAX + 1];
        if (len > NAME_MAX) {
            drop();
            errno = ENAMETOOLONG;
            return -1;
        }
        std::memcpy(name, len ? p : ".", len ? len : 1);
        name[len ? len : 1] = '\0';
        if (std::strcmp(name, "..") == 0) {
            drop();
            errno = EXDEV;
            return -1;
        }
        const int f = last ? (flags | O_NOFOLLOW | O_CLOEXEC)
                           : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        const int next = ::openat(cur, name, f);
        drop();
        if (next < 0) return -1;
        struct stat st {};
        if (how == Beneath::same_mount && (::fstat(next, &st) < 0 || st.st_dev != top.st_dev)) {
            ::close(next);
            errno = EXDEV;
            return -1;
        }
        cur = next;
        if (last) return cur;
        p = rest;
    }
}

}  // namespace agentbox::sys
