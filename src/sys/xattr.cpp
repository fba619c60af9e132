#include "sys/xattr.hpp"

#include <sys/xattr.h>

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

}  // namespace agentbox::sys
