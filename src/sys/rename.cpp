#include "sys/rename.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat, renameat2 (glibc), renameatx_np (macOS)

#include <cerrno>

namespace agentbox::sys {

int rename_noreplace(int from_dir, const char* from, int to_dir, const char* to) {
#if defined(__linux__)
    return ::renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE);
#elif defined(__APPLE__)
    const int rc = ::renameatx_np(from_dir, from, to_dir, to, RENAME_EXCL);
    if (rc != 0 && errno == ENOTSUP) errno = EINVAL;  // as Linux says it
    return rc;
#else
    (void)from_dir;
    (void)from;
    (void)to_dir;
    (void)to;
    errno = EINVAL;
    return -1;
#endif
}

}  // namespace agentbox::sys
