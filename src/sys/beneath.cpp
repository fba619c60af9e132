#include "sys/beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace agentbox::sys {

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

}  // namespace agentbox::sys
