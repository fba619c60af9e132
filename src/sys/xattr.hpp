// Extended attributes of an open file, in the Linux form, wherever the system spells them
// otherwise (macOS: two more arguments, position and options). -1 with errno as the system
// call; ENOTSUP where the system has none.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <string_view>

namespace agentbox::sys {

// "No such attribute": ENODATA on Linux, ENOATTR on macOS.
#ifdef ENOATTR
inline constexpr int kNoXattr = ENOATTR;
#else
inline constexpr int kNoXattr = ENODATA;
#endif

ssize_t fd_get_xattr(int fd, const char* name, void* value, std::size_t size);
ssize_t fd_list_xattrs(int fd, char* list, std::size_t size);
// 0 or -1 with errno; `flags` as Linux's (0, XATTR_CREATE, XATTR_REPLACE).
int fd_set_xattr(int fd, const char* name, const void* value, std::size_t size, int flags);
int fd_remove_xattr(int fd, const char* name);
// Whether `name` is one of the NUL-separated names of `list`, as fd_list_xattrs fills it.
bool xattr_listed(std::string_view list, std::string_view name);

}  // namespace agentbox::sys
