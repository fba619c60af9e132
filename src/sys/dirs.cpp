#include "sys/dirs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <utility>

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

DirStream::DirStream(int dfd, std::string shown) : shown_(std::move(shown)) {
    // A fresh open description of the same directory: fdopendir would take over `dfd`, and a
    // dup would share its offset with the caller.
    const int fd = ::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw SysError("opendir", shown_, errno);
    dir_ = ::fdopendir(fd);
    if (dir_ == nullptr) {
        const int err = errno;
        ::close(fd);
        throw SysError("opendir", shown_, err);
    }
}

DirStream::~DirStream() { ::closedir(dir_); }

bool DirStream::next(std::string_view& name, unsigned char& type) {
    for (;;) {
        errno = 0;  // readdir's end and its failure differ only in errno
        const struct dirent* e = ::readdir(dir_);
        if (e == nullptr) {
            if (errno != 0) throw SysError("readdir", shown_, errno);
            return false;
        }
        name = e->d_name;
        if (name == "." || name == "..") continue;
        type = e->d_type;
        return true;
    }
}

std::vector<DirEntry> read_dir(int dfd, const std::string& shown) {
    DirStream d(dfd, shown);
    std::vector<DirEntry> out;
    std::string_view name;
    unsigned char type = DT_UNKNOWN;
    while (d.next(name, type)) out.push_back({std::string(name), type});
    return out;
}

bool has_entries(int dfd, const std::string& shown) {
    DirStream d(dfd, shown);
    std::string_view name;
    unsigned char type = DT_UNKNOWN;
    return d.next(name, type);
}

}  // namespace agentbox::sys
