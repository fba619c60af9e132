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

// One directory on the walk's stack.
struct Frame {
    unique_fd own;              // its descriptor while open (the root's is the caller's)
    int fd = -1;                // own.get(), the caller's for the root; -1 while closed
    dev_t dev = 0;              // its identity, kept when its descriptor is closed
    ino_t ino = 0;
    std::vector<DirEntry> entries;
    std::size_t next = 0;       // the next entry to visit
    std::size_t path_len = 0;   // its path is path_'s first path_len bytes
    std::string name;           // the entry of its parent it was reached by, for leave()
    struct stat st {};
};

class Walk {
public:
    Walk(WalkVisitor& v, const WalkOptions& o) : v_(v), o_(o) {}

    void run(int dfd, const std::string& root) {
        path_ = root;
        Frame top;
        top.fd = dfd;
        top.path_len = path_.size();
        list(top);
        stack_.push_back(std::move(top));
        while (!stack_.empty()) {
            const std::size_t at = stack_.size() - 1;
            if (stack_[at].next == stack_[at].entries.size()) {
                if (at == 0 || !up()) return;
                continue;
            }
            if (!step(at)) return;
        }
    }

private:
    int depth() const { return static_cast<int>(stack_.size()) - 1; }

    void list(Frame& f) {
        try {
            // A level the walk opened is read through its own descriptor (only *at calls
            // use it after); the root's is the caller's, whose offset stays where it was.
            f.entries = f.own ? read_dir_here(f.fd, path_) : read_dir(f.fd, path_);
        } catch (const SysError& e) {
            v_.fail(e);
            return;
        }
        if (o_.sorted)
            std::sort(f.entries.begin(), f.entries.end(),
                      [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    }

    // Visits the next entry of the directory at stack_[at]; false to end the walk.
    bool step(std::size_t at) {
        Frame& f = stack_[at];
        const DirEntry& d = f.entries[f.next++];
        path_.resize(f.path_len);
        if (!path_.empty()) path_ += '/';
        path_ += d.name;
        struct stat st {};
        const mode_t known = o_.stat ? 0 : type_mode(d.type);
        if (known != 0) {
            st.st_mode = known;
        } else if (::fstatat(f.fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            v_.fail(SysError("stat", path_, errno));
            return true;
        }
        const WalkStep how = v_.visit(WalkEntry{f.fd, d.name, path_, st, depth()});
        if (how == WalkStep::stop) return false;
        if (how != WalkStep::into || !S_ISDIR(st.st_mode)) return true;
        if (o_.max_depth != kNoDepthBound && depth() + 1 > o_.max_depth) {
            v_.fail(SysError("walk", path_, ELOOP));
            return true;
        }
        // O_NOFOLLOW | O_DIRECTORY: what was a directory at the lstat and is a symlink
        // now fails here (ELOOP, ENOTDIR) rather than being followed.
        Frame sub;
        sub.own.reset(::openat(f.fd, d.name.c_str(),
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.own) {
            v_.fail(SysError("open", path_, errno));
            return true;
        }
        sub.fd = sub.own.get();
        sub.path_len = path_.size();
        sub.name = d.name;
        sub.st = st;
        list(sub);
        stack_.push_back(std::move(sub));
        // The shallowest open level gives its descriptor back; the root's is the caller's.
        if (stack_.size() - open_from_ > static_cast<std::size_t>(std::max(o_.max_open, 1))) {
            Frame& old = stack_[open_from_++];
            struct stat id {};
            if (::fstat(old.fd, &id) != 0)
                throw SysError("stat", path_.substr(0, old.path_len), errno);
            old.dev = id.st_dev;
            old.ino = id.st_ino;
            old.own.reset();
            old.fd = -1;
        }
        return true;
    }

    // Done with the top directory: back to its parent, reopened when it was closed, and
    // leave(). False to end the walk (a reopen failed).
    bool up() {
        Frame done = std::move(stack_.back());
        stack_.pop_back();
        Frame& parent = stack_.back();
        const std::size_t at = stack_.size() - 1;
        if (at < open_from_) {
            if (at > 0 && !reopen(parent, done.fd)) return false;
            open_from_ = std::max<std::size_t>(at, 1);
        }
        path_.resize(done.path_len);
        v_.leave(WalkEntry{parent.fd, done.name, path_, done.st, depth()}, done.fd);
        return true;
    }

    bool reopen(Frame& f, int child) {
        f.own.reset(::openat(child, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct stat id {};
        int err = 0;
        if (!f.own || ::fstat(f.own.get(), &id) != 0)
            err = errno;
        else if (id.st_dev != f.dev || id.st_ino != f.ino)
            err = ESTALE;
        if (err != 0) {
            v_.fail(SysError("reopen", path_.substr(0, f.path_len), err));
            return false;
        }
        f.fd = f.own.get();
        return true;
    }

    WalkVisitor& v_;
    const WalkOptions& o_;
    std::vector<Frame> stack_;
    std::size_t open_from_ = 1;  // stack_[open_from_..] hold open descriptors (and [0])
    std::string path_;           // the path of what is being visited
};

}  // namespace

void walk_tree(int dfd, const std::string& root, WalkVisitor& v, const WalkOptions& o) {
    Walk(v, o).run(dfd, root);
}

}  // namespace agentbox::sys
