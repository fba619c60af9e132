#include "sys/dirs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>  // SYS_getdents64
#endif

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace agentbox::sys {

void make_dirs(const std::string& path) {
    // Nearly every call finds the directory there (the state, config and cache directories,
    // the sessions directory, every run): one stat, not a failing mkdir and then the stat.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    if (::mkdir(path.c_str(), 0700) == 0) return;
    if (errno == ENOENT) {
        // A parent is missing: make it, then this one. Bounded by the path's depth.
        const std::size_t slash = path.find_last_of('/');
        if (slash != std::string::npos && slash > 0) make_dirs(path.substr(0, slash));
        if (::mkdir(path.c_str(), 0700) == 0) return;
    }
    if (errno != EEXIST) throw SysError("mkdir", path, errno);
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

std::vector<DirEntry> read_dir_here(int dfd, const std::string& shown) {
    // getdents64 into a buffer of its own, as large as glibc's DIR's: no fdopendir (its fstat
    // and two fcntl calls a directory) and no 32 KiB heap block whose pages fault in.
    alignas(8) char buf[32768];
    DentReader r(dfd, buf, sizeof buf);
    std::vector<DirEntry> out;
    std::string_view name;
    unsigned char type = DT_UNKNOWN;
    while (r.next(name, type)) out.push_back({std::string(name), type});
    if (r.error() != 0) throw SysError("readdir", shown, r.error());
    return out;
}

std::vector<DirEntry> read_dir(int dfd, const std::string& shown) {
    // A fresh open description: a dup would share the caller's offset.
    const unique_fd fd(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw SysError("opendir", shown, errno);
    return read_dir_here(fd.get(), shown);
}

DentReader::DentReader(int dfd, char* buf, std::size_t size) : fd_(dfd), buf_(buf), size_(size) {
#ifndef __linux__
    const int dup = ::fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        err_ = errno;
        return;
    }
    dir_ = ::fdopendir(dup);
    if (dir_ == nullptr) {
        err_ = errno;
        ::close(dup);
    }
#endif
}

DentReader::~DentReader() {
    if (dir_ != nullptr) ::closedir(dir_);
}

bool DentReader::next(std::string_view& name, unsigned char& type) {
    while (err_ == 0) {
#ifdef __linux__
        if (at_ >= have_) {
            const long n = ::syscall(SYS_getdents64, fd_, buf_, size_);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) err_ = errno;
            if (n <= 0) return false;
            have_ = n;
            at_ = 0;
        }
        // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name
        unsigned short reclen = 0;
        std::memcpy(&reclen, buf_ + at_ + 16, sizeof reclen);
        type = static_cast<unsigned char>(buf_[at_ + 18]);
        name = buf_ + at_ + 19;
        at_ += reclen;
#else
        errno = 0;  // readdir's end and its failure differ only in errno
        const struct dirent* e = ::readdir(dir_);
        if (e == nullptr) {
            err_ = errno;
            return false;
        }
        name = e->d_name;
        type = e->d_type;
#endif
        if (name != "." && name != "..") return true;
    }
    return false;
}

bool has_entries_here(int dfd, const std::string& shown) {
    alignas(8) char buf[1024];
    DentReader r(dfd, buf, sizeof buf);
    std::string_view name;
    unsigned char type = DT_UNKNOWN;
    if (r.next(name, type)) return true;
    if (r.error() != 0) throw SysError("readdir", shown, r.error());
    return false;
}

bool has_entries(int dfd, const std::string& shown) {
    // A fresh open description: a dup would share the caller's offset.
    const unique_fd fd(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw SysError("opendir", shown, errno);
    return has_entries_here(fd.get(), shown);
}

}  // namespace agentbox::sys
