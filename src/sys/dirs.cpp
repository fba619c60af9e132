#include "sys/dirs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "sys/error.hpp"

namespace agentbox::sys {

void make_dirs(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) == 0) return;
    if (errno == ENOENT) {
        // A parent is missing: make it, then this one. Bounded by the path's depth.
        const std::size_t slash = path.find_last_of('/');
        if (slash != std::string::npos && slash > 0) make_dirs(path.substr(0, slash));
        if (::mkdir(path.c_str(), 0700) == 0) return;
    }
    if (errno != EEXIST) throw SysError("mkdir", path, errno);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw SysError("stat", path, errno);
    if (!S_ISDIR(st.st_mode)) throw SysError("mkdir", path, ENOTDIR);
}

std::vector<DirEntry> read_dir(int dfd, const std::string& shown) {
    // A fresh open description of the same directory: fdopendir would take over `dfd`, and a
    // dup would share its offset with the caller.
    const int fd = ::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw SysError("opendir", shown, errno);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        const int err = errno;
        ::close(fd);
        throw SysError("opendir", shown, err);
    }
    std::vector<DirEntry> out;
    errno = 0;
    while (const struct dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name != "." && name != "..") out.push_back({std::string(name), e->d_type});
        errno = 0;
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) throw SysError("readdir", shown, err);
    return out;
}

}  // namespace agentbox::sys
