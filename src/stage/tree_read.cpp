#include "stage/tree_read.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "stage/fsops.hpp"
#include "sys/beneath.hpp"
#include "sys/error.hpp"
#include "sys/walk.hpp"
#include "util/paths.hpp"

namespace agentbox::stage::detail {

namespace {

using sys::unique_fd;

}  // namespace

Tree::Tree(std::string root) : root_(std::move(root)) {
    fd_ = unique_fd(::open(root_.c_str(), fsops::kDirHandle | O_CLOEXEC));
    if (!fd_) throw sys::SysError("open", root_, errno);
}

unique_fd Tree::open_dir(const std::string& rel, bool readable) const {
    const int flags = O_NOFOLLOW | (readable ? O_RDONLY | O_DIRECTORY : fsops::kDirHandle);
    unique_fd fd(sys::open_beneath(fd_.get(), rel.c_str(), flags));
    if (!fd) throw sys::SysError("open", shown(rel), errno);
    return fd;
}

bool Tree::lstat(const std::string& rel, struct ::stat& st) const {
    const auto [parent, name] = util::split_parent(rel);
    const unique_fd dir = open_dir(parent);
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno == ENOENT) return false;
    throw sys::SysError("stat", shown(rel), errno);
}

unique_fd Tree::open_file(const std::string& rel) const {
    // O_NONBLOCK: should a fifo be swapped in after the type was checked, open must not hang.
    unique_fd fd(
        sys::open_beneath(fd_.get(), rel.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd) throw sys::SysError("open", shown(rel), errno);
    struct ::stat st {};
    if (::fstat(fd.get(), &st) != 0) throw sys::SysError("stat", shown(rel), errno);
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error("\"" + shown(rel) + "\" is not a regular file any more");
    return fd;
}

std::string Tree::read_link(const std::string& rel) const {
    const auto [parent, name] = util::split_parent(rel);
    const unique_fd dir = open_dir(parent);
    std::string buf(256, '\0');
    for (;;) {
        const ssize_t n = ::readlinkat(dir.get(), name.c_str(), buf.data(), buf.size());
        if (n < 0) throw sys::SysError("readlink", shown(rel), errno);
        if (static_cast<std::size_t>(n) < buf.size()) {
            buf.resize(static_cast<std::size_t>(n));
            return buf;
        }
        buf.resize(buf.size() * 2);
    }
}

std::string Tree::read(const std::string& rel, mode_t mode, std::uint64_t limit) const {
    if (S_ISLNK(mode)) {
        std::string t = read_link(rel);
        if (t.size() > limit) t.resize(limit);
        return t;
    }
    if (!S_ISREG(mode)) return {};
    const unique_fd fd = open_file(rel);
    return read_fd(fd.get(), shown(rel), limit);
}

std::vector<std::pair<std::string, mode_t>> Tree::walk(const std::string& rel, bool dirs) const {
    // An entry that went away meanwhile is left out; any other failure is an error, named
    // by its path in the tree.
    struct Collect : sys::WalkVisitor {
        const Tree& tree;
        const bool dirs;
        std::vector<std::pair<std::string, mode_t>> out;
        Collect(const Tree& of, bool with_dirs) : tree(of), dirs(with_dirs) {}
        sys::WalkStep visit(const sys::WalkEntry& e) override {
            const bool dir = S_ISDIR(e.st.st_mode);
            if (!dir || dirs) out.emplace_back(e.path, e.st.st_mode);
            return sys::WalkStep::into;
        }
        void fail(const sys::SysError& err) override {
            if (err.op() == "stat" && err.err() == ENOENT) return;
            throw sys::SysError(err.op(), tree.shown(err.path()), err.err());
        }
    } c(*this, dirs);
    const unique_fd dir = open_dir(rel, true);
    sys::walk_tree(dir.get(), rel, c);
    // Directory order is not byte order across levels ("a.b" < "a/x" but "a" is listed first).
    std::sort(c.out.begin(), c.out.end());
    return std::move(c.out);
}

std::string read_fd(int fd, const std::string& shown, std::uint64_t limit) {
    std::string out;
    char buf[65536];
    while (out.size() < limit) {
        const std::uint64_t want = std::min<std::uint64_t>(sizeof buf, limit - out.size());
        const ssize_t n = ::read(fd, buf, static_cast<std::size_t>(want));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw sys::SysError("read", shown, errno);
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

}  // namespace agentbox::stage::detail
