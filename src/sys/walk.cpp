#include "sys/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

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

// One tree's descriptor of a directory on the walk's stack.
struct Side {
    unique_fd own;   // while open (the root's is the caller's)
    int fd = -1;     // own.get(), the caller's for the root; -1 while closed, or absent
    dev_t dev = 0;   // its identity, kept while its descriptor is closed
    ino_t ino = 0;
};

// One directory on the walk's stack.
struct Frame {
    Side main, twin;
    bool twinned = false;       // the twin has this directory (twin.fd is -1 while closed)
    std::vector<DirEntry> entries;
    std::size_t next = 0;       // the next entry to visit
    std::size_t path_len = 0;   // its path is path_'s first path_len bytes
    std::string name;           // the entry of its parent it was reached by, for leave()
    struct stat st {};
};

class Walk {
public:
    Walk(WalkVisitor& v, const WalkOptions& o) : v_(v), o_(o) {}

    void run(int dfd, int twin_dfd, const std::string& root, const std::string& twin_root) {
        path_ = root;
        root_len_ = root.size();
        twin_root_ = twin_root;
        Frame top;
        top.main.fd = dfd;
        top.twin.fd = twin_dfd;
        top.twinned = twin_dfd >= 0;
        top.path_len = path_.size();
        list(top, o_.consume_root);
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

    // The directory's entries: the caller's root through a fresh open description of it
    // (its offset is the caller's) unless it is the walk's to consume, every other through the
    // walk's own descriptor, which the reading consumes -- an open, a stat and a close fewer a
    // directory.
    void list(Frame& f, bool own) {
        try {
            f.entries = own ? read_dir_here(f.main.fd, path_) : read_dir(f.main.fd, path_);
        } catch (const SysError& e) {
            f.entries.clear();
            v_.fail(e);
            return;
        }
        if (o_.sorted)
            std::sort(f.entries.begin(), f.entries.end(),
                      [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    }

    // The twin's path of the first `len` bytes of path_, for errors.
    std::string twin_path(std::size_t len) const {
        // Below a root "", path_ is "a/b"; below any other, "root/a/b".
        const std::string_view rel = std::string_view(path_).substr(0, len).substr(root_len_);
        std::string out = twin_root_;
        if (root_len_ == 0 && !rel.empty() && !out.empty()) out += '/';
        out += rel;
        return out;
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
        } else if (::fstatat(f.main.fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            v_.fail(SysError("stat", path_, errno));
            return true;
        }
        const WalkEntry e{f.main.fd, d.name, path_, st, depth(), f.twin.fd};
        const WalkStep how = v_.visit(e);
        if (how == WalkStep::stop) return false;
        if ((how != WalkStep::into && how != WalkStep::into_both) || !S_ISDIR(st.st_mode))
            return true;
        if (o_.max_depth != kNoDepthBound && depth() + 1 > o_.max_depth) {
            v_.fail(SysError("walk", path_, ELOOP));
            return true;
        }
        // O_NOFOLLOW | O_DIRECTORY: what was a directory at the lstat and is a symlink
        // now fails here (ELOOP, ENOTDIR) rather than being followed.
        constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        Frame sub;
        sub.main.own.reset(::openat(f.main.fd, d.name.c_str(), kFlags));
        if (!sub.main.own) {
            v_.fail(SysError("open", path_, errno));
            return true;
        }
        sub.main.fd = sub.main.own.get();
        if (how == WalkStep::into_both && f.twinned) {
            sub.twin.own.reset(::openat(f.twin.fd, d.name.c_str(), kFlags));
            if (!sub.twin.own) {
                v_.fail(SysError("open", twin_path(path_.size()), errno));
                return true;
            }
            sub.twin.fd = sub.twin.own.get();
            sub.twinned = true;
        }
        sub.path_len = path_.size();
        sub.name = d.name;
        sub.st = st;
        list(sub, true);
        stack_.push_back(std::move(sub));
        v_.enter(e, WalkDir{stack_.back().main.fd, stack_.back().twin.fd, stack_.back().entries});
        // The shallowest open level gives its descriptors back; the root's are the caller's.
        if (stack_.size() - open_from_ > open_levels()) {
            Frame& old = stack_[open_from_];
            close(old.main, old.path_len, false);
            // The twin's too, unless its child (the next level) has none to reopen it through.
            if (old.twinned && stack_[open_from_ + 1].twinned) close(old.twin, old.path_len, true);
            ++open_from_;
        }
        return true;
    }

    // How many levels the walk keeps open (WalkOptions::max_open, open_share).
    std::size_t open_levels() {
        if (open_levels_ != 0) return open_levels_;
        const auto floor = static_cast<std::size_t>(std::max(o_.max_open, 1));
        if (stack_.size() - open_from_ <= floor) return floor;  // the limit not read yet
        open_levels_ = floor;
        struct rlimit rl {};
        if (o_.open_share > 0 && ::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            const rlim_t sides = stack_.front().twinned ? 2 : 1;
            const rlim_t room = std::min<rlim_t>(rl.rlim_cur, 1u << 16) / o_.open_share / sides;
            open_levels_ = std::max(floor, static_cast<std::size_t>(room));
        }
        return open_levels_;
    }

    void close(Side& s, std::size_t path_len, bool twin) {
        struct stat id {};
        if (::fstat(s.fd, &id) != 0)
            throw SysError("stat", twin ? twin_path(path_len) : path_.substr(0, path_len), errno);
        s.dev = id.st_dev;
        s.ino = id.st_ino;
        s.own.reset();
        s.fd = -1;
    }

    // Done with the top directory: back to its parent, reopened when it was closed, and
    // leave(). False to end the walk (a reopen failed).
    bool up() {
        Frame done = std::move(stack_.back());
        stack_.pop_back();
        Frame& parent = stack_.back();
        const std::size_t at = stack_.size() - 1;
        if (at < open_from_) {
            if (at > 0 && !reopen(parent, done)) return false;
            open_from_ = std::max<std::size_t>(at, 1);
        }
        path_.resize(done.path_len);
        v_.leave(WalkEntry{parent.main.fd, done.name, path_, done.st, depth(), parent.twin.fd},
                 done.main.fd);
        return true;
    }

    bool reopen(Frame& f, const Frame& child) {
        if (f.main.fd < 0 && !reopen(f.main, child.main.fd, path_.substr(0, f.path_len)))
            return false;
        // A twin closed only where its child had one (step()).
        if (f.twinned && f.twin.fd < 0 && !reopen(f.twin, child.twin.fd, twin_path(f.path_len)))
            return false;
        return true;
    }

    bool reopen(Side& s, int child, const std::string& shown) {
        s.own.reset(::openat(child, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct stat id {};
        int err = 0;
        if (!s.own || ::fstat(s.own.get(), &id) != 0)
            err = errno;
        else if (id.st_dev != s.dev || id.st_ino != s.ino)
            err = ESTALE;
        if (err != 0) {
            v_.fail(SysError("reopen", shown, err));
            return false;
        }
        s.fd = s.own.get();
        return true;
    }

    WalkVisitor& v_;
    const WalkOptions& o_;
    std::vector<Frame> stack_;
    std::size_t open_levels_ = 0;  // open_levels(), once known
    std::size_t open_from_ = 1;  // stack_[open_from_..] hold open descriptors (and [0])
    std::string path_;           // the path of what is being visited
    std::size_t root_len_ = 0;   // the root's part of it
    std::string twin_root_;
};

}  // namespace

void walk_tree(int dfd, const std::string& root, WalkVisitor& v, const WalkOptions& o) {
    Walk(v, o).run(dfd, -1, root, "");
}

void walk_trees(int dfd, int twin_dfd, const std::string& root, const std::string& twin_root,
                WalkVisitor& v, const WalkOptions& o) {
    Walk(v, o).run(dfd, twin_dfd, root, twin_root);
}

}  // namespace agentbox::sys
