#include "profile/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace agentbox::profile {

int read_small_file(const std::string& path, std::size_t limit, std::string& out) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before the
    // type check below could refuse it.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return errno;
    int err = 0;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        err = errno;
    } else if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
    } else {
        out.clear();
        char buf[16384];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) continue;
                err = errno;
                break;
            }
            if (n == 0) break;
            // Checked while reading, not from st_size: the file may grow meanwhile.
            if (out.size() + static_cast<std::size_t>(n) > limit) {
                err = EFBIG;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return err;
}

}  // namespace agentbox::profile
