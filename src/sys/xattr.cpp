#include "sys/xattr.hpp"

#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>

namespace agentbox::sys {

ssize_t fd_get_xattr(int fd, const char* name, void* value, std::size_t size) {
#if defined(__linux__)
    return ::fgetxattr(fd, name, value, size);
#elif defined(__APPLE__)
    return ::fgetxattr(fd, name, value, size, 0, 0);
#else
    (void)fd;
    (void)name;
    (void)value;
    (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

ssize_t fd_list_xattrs(int fd, char* list, std::size_t size) {
#if defined(__linux__)
    return ::flistxattr(fd, list, size);
#elif defined(__APPLE__)
    return ::flistxattr(fd, list, size, 0);
#else
    (void)fd;
    (void)list;
    (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

int fd_set_xattr(int fd, const char* name, const void* value, std::size_t size, int flags) {
#if defined(__linux__)
    return ::fsetxattr(fd, name, value, size, flags);
#elif defined(__APPLE__)
    return ::fsetxattr(fd, name, value, size, 0, flags);  // the same XATTR_CREATE/REPLACE
#else
    (void)fd;
    (void)name;
    (void)value;
    (void)size;
    (void)flags;
    errno = ENOTSUP;
    return -1;
#endif
}

int fd_remove_xattr(int fd, const char* name) {
#if defined(__linux__)
    return ::fremovexattr(fd, name);
#elif defined(__APPLE__)
    return ::fremovexattr(fd, name, 0);
#else
    (void)fd;
    (void)name;
    errno = ENOTSUP;
    return -1;
#endif
}

bool xattr_listed(std::string_view list, std::string_view name) {
    for (std::size_t at = 0; at < list.size();) {
        const std::size_t end = std::min(list.find('\0', at), list.size());
        if (list.substr(at, end - at) == name) return true;
        at = end + 1;
    }
    return false;
}

}  // namespace agentbox::sys
