#include "sys/walk.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "sys/dirs.hpp"
#include "sys/fd.hpp"

namespace agentbox::sys {

namespace {

mode_t type_mode(unsigned char type) {
    switch (type) {
        case DT_DIR: return S_IFDIR;
        case DT_REG: return S_IFREG;
        case DT_LNK: return S_IFLNK;
        case DT_FIFO: return S_IFIFO;
        case DT_SOCK: return S_IFSOCK;
        case DT_CHR: return S_IFCHR;
        case DT_BLK: return S_IFBLK;
        default: return 0;
    }
}

class Walk {
public:
    Walk(WalkVisitor& v, const WalkOptions& o) : v_(v), o_(o) {}

    // Lists the directory open at `dfd`, `path` of the walk at level `depth`, and visits its
    // entries. Bounded by max_depth: the recursion is as deep as the tree allows.
    void dir(int dfd, const std::string& path, int depth) {
        std::vector<DirEntry> entries;
        try {
            entries = read_dir(dfd, path);
        } catch (const SysError& e) {
            v_.fail(e);
            return;
        }
        if (o_.sorted)
            std::sort(entries.begin(), entries.end(),
                      [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        for (const DirEntry& d : entries) {
            const std::string child = path.empty() ? d.name : path + "/" + d.name;
            struct stat st {};
            const mode_t known = o_.stat ? 0 : type_mode(d.type);
            if (known != 0) {
                st.st_mode = known;
            } else if (::fstatat(dfd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                v_.fail(SysError("stat", child, errno));
                continue;
            }
            const WalkEntry e{dfd, d.name, child, st, depth};
            const WalkStep step = v_.visit(e);
            if (step == WalkStep::stop) {
                stopped_ = true;
                return;
            }
            if (step != WalkStep::into || !S_ISDIR(st.st_mode)) continue;
            if (depth + 1 > o_.max_depth) {
                v_.fail(SysError("walk", child, ELOOP));
                continue;
            }
            // O_NOFOLLOW | O_DIRECTORY: what was a directory at the lstat and is a symlink
            // now fails here (ELOOP, ENOTDIR) rather than being followed.
            const unique_fd sub(
                ::openat(dfd, d.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) {
                v_.fail(SysError("open", child, errno));
                continue;
            }
            dir(sub.get(), child, depth + 1);
            if (stopped_) return;
            v_.leave(e, sub.get());
        }
    }

private:
    WalkVisitor& v_;
    const WalkOptions& o_;
    bool stopped_ = false;
};

}  // namespace

void walk_tree(int dfd, const std::string& root, WalkVisitor& v, const WalkOptions& o) {
    Walk(v, o).dir(dfd, root, 0);
}

}  // namespace agentbox::sys
