#include "sys/io.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace agentbox::sys {

int write_full(int fd, std::string_view data, std::size_t* written) {
    std::size_t done = 0;
    int err = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (written != nullptr) *written = done;
    return err;
}

void write_all(int fd, std::string_view data, const std::string& shown) {
    if (const int err = write_full(fd, data); err != 0) throw SysError("write", shown, err);
}

void copy_data(int in, int out, const std::string& shown) {
#ifdef __linux__
    for (;;) {
        const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n > 0) continue;
        if (n == 0) return;
        if (errno == EINTR) continue;
        // Not between these two files (another filesystem, a pipe, an old kernel): by hand.
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            throw SysError("copy_file_range", shown, errno);
        break;
    }
#endif
    char buf[1 << 16];
    for (;;) {
        const ssize_t r = ::read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw SysError("read", shown, errno);
        if (r == 0) return;
        write_all(out, std::string_view(buf, static_cast<std::size_t>(r)), shown);
    }
}

namespace {

// read_file's loop; `opened` says whether an error came from open(2) or from read(2). With
// `own`, a file that is not read_own_file's is EPERM.
int read_into(const std::string& path, std::string& out, std::size_t limit, int flags,
              bool& opened, bool own = false) {
    out.clear();
    const unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | flags));
    opened = static_cast<bool>(fd);
    if (!fd) return errno;
    if (own) {
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)
            return EPERM;
    }
    return read_fd(fd.get(), out, limit);
}

}  // namespace

int read_fd(int fd, std::string& out, std::size_t limit) {
    out.clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return 0;
        if (out.size() + static_cast<std::size_t>(n) > limit) return EFBIG;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

int read_file(const std::string& path, std::string& out, std::size_t limit, int flags) {
    bool opened = false;
    return read_into(path, out, limit, flags, opened);
}

bool read_own_file(const std::string& path, std::string& out, std::size_t limit) {
    bool opened = false;
    // O_NONBLOCK: a fifo planted there must not hang the open.
    return read_into(path, out, limit, O_NOFOLLOW | O_NONBLOCK, opened, /*own=*/true) == 0;
}

bool replace_own_file(const std::string& path, std::string_view data) {
    // One temporary per file, reused: a writer killed between its creation and the rename
    // (a run's probe, filter or walk cache written on the way to the sandbox) leaves that one
    // file for the next writer to take over, where a fresh random name each time left one
    // more file in the cache per kill, for ever. Writers take turns by its flock; one that
    // finds it held leaves the write to the holder (a cache: only slower). Never O_TRUNC
    // before the lock: that would cut another writer's file.
    const std::string tmp = path + ".tmp";
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                        0600));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
    // Still the file of that name: a writer that held the lock before us renamed the one we
    // opened into place.
    struct stat mine {}, named {};
    if (::fstat(fd.get(), &mine) != 0 || ::lstat(tmp.c_str(), &named) != 0 ||
        mine.st_ino != named.st_ino || mine.st_dev != named.st_dev || !S_ISREG(mine.st_mode) ||
        mine.st_uid != ::geteuid())
        return false;
    bool ok = ::fchmod(fd.get(), 0600) == 0 && ::ftruncate(fd.get(), 0) == 0 &&
              write_full(fd.get(), data) == 0;
    if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) return true;  // unlocked by the close
    ::unlink(tmp.c_str());
    return false;
}

std::string read_file(const std::string& path, int flags) {
    std::string out;
    bool opened = false;
    if (const int err = read_into(path, out, out.max_size(), flags, opened); err != 0)
        throw SysError(opened ? "read" : "open", path, err);
    return out;
}

void sync_fs(int fd, const std::string& shown) {
#ifdef __linux__
    if (::syncfs(fd) != 0) throw SysError("syncfs", shown, errno);
#else
    (void)fd;
    (void)shown;
    ::sync();
#endif
}

}  // namespace agentbox::sys
