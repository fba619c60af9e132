#include "sys/dirs.hpp"

#include <sys/stat.h>

#include <cerrno>

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

}  // namespace agentbox::sys
