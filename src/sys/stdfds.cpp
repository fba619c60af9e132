#include "sys/stdfds.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "sys/error.hpp"

namespace agentbox::sys {

void ensure_std_fds() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        // open() returns the lowest free number, which is `fd` since the lower ones are open.
        int got = open("/dev/null", O_RDWR);
        if (got < 0) throw SysError("open", "/dev/null", errno);
        if (got != fd) {
            close(got);
            throw SysError("reopen standard descriptor", "/dev/null", EBADF);
        }
    }
}

}  // namespace agentbox::sys
