#include "sandbox/linux/mount_api.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "sandbox/linux/mount_paths.hpp"
#include "sys/beneath.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {


int make_fs(const char* type, std::initializer_list<FsOption> options, unsigned attrs,
            const char* op, const std::string& path, StepError& e) {
    sys::unique_fd ctx(::fsopen(type, FSOPEN_CLOEXEC));
    if (!ctx) return fail(e, op, path);
    for (const auto& [key, value] : options) {
        int rc = value ? ::fsconfig(ctx.get(), FSCONFIG_SET_STRING, key, value, 0)
                       : ::fsconfig(ctx.get(), FSCONFIG_SET_FLAG, key, nullptr, 0);
        if (rc < 0) return fail(e, op, path);
    }
    if (::fsconfig(ctx.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
        return fail(e, op, path);
    int mfd = ::fsmount(ctx.get(), FSMOUNT_CLOEXEC, attrs);
    if (mfd < 0) return fail(e, op, path);
    return mfd;
}

int clone_tree(const std::string& host, bool recursive, unsigned attr_set, const char* op,
               const std::string& path, StepError& e) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0u);
    sys::unique_fd tree(::open_tree(AT_FDCWD, host.c_str(), flags));
    if (!tree) return fail(e, op, path);
    if (attr_set != 0) {
        struct mount_attr attr {};
        attr.attr_set = attr_set;
        unsigned at = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0u);
        if (::mount_setattr(tree.get(), "", at, &attr, sizeof attr) < 0)
            return fail(e, op, path);
    }
    return tree.release();
}

int attach(int mount_fd, int target_fd, const char* op, const std::string& path, StepError& e) {
    if (::move_mount(mount_fd, "", target_fd, "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return fail(e, op, path);
    return 0;
}

namespace {
// One component, beneath `dir`, never following a symlink (the last one included: O_NOFOLLOW
// with O_PATH yields the link itself, which the caller then rejects by type).
int open_component(int dir, const std::string& name) {
    return sys::open_beneath(dir, name.c_str(), O_PATH | O_NOFOLLOW);
}

// comps[first, count) beneath `start` (not taken).
int walk(int start, const std::vector<std::string>& comps, std::size_t first, std::size_t count,
         Want last, bool create, const char* op, const std::string& path, StepError& e) {
    sys::unique_fd cur;
    if (first == count) {  // nothing to walk: the start itself, which the caller opened
        cur.reset(::fcntl(start, F_DUPFD_CLOEXEC, 3));
        if (!cur) return fail(e, "dup", path);
        return cur.release();
    }
    for (std::size_t i = first; i < count; ++i) {
        const int dir = cur ? cur.get() : start;
        bool is_last = i + 1 == count;
        const std::string& c = comps[i];
        int fd = open_component(dir, c);
        if (fd < 0 && errno == ENOENT && create) {
            int rc;
            if (!is_last || last == Want::dir) {
                rc = ::mkdirat(dir, c.c_str(), 0755);
            } else {
                rc = ::openat(dir, c.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (rc >= 0) rc = ::close(rc);
            }
            if (rc < 0 && errno != EEXIST) return fail(e, op, path);
            fd = open_component(dir, c);
        }
        if (fd < 0) return fail(e, op, path);
        cur.reset(fd);
        struct stat st {};
        if (::fstat(cur.get(), &st) < 0) return fail(e, op, path);
        if (S_ISLNK(st.st_mode)) {
            errno = ELOOP;  // a symlink where we mount: refuse, whoever planted it
            return fail(e, op, path);
        }
        bool want_dir = !is_last || last == Want::dir;
        if (want_dir && !S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return fail(e, op, path);
        }
        if (!want_dir && S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return fail(e, op, path);
        }
    }
    return cur.release();
}

// The whole path in one openat2, when it is all there already: RESOLVE_NO_SYMLINKS refuses a
// symlink on the way as the walk does, O_NOFOLLOW returns a last one as itself (refused by
// type below), and a mount met on the way is crossed as the walk crosses it. One lookup and
// one fstat instead of an open, fstat and close per component. -1 for anything else (absent,
// to be created, or an error): the walk then does it component by component and names the
// error as it always has.
int open_existing(int root_fd, const std::vector<std::string>& comps, std::size_t count,
                  Want want) {
    std::string rel;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string& c = comps[i];
        if (!rel.empty()) rel += '/';
        rel += c;
    }
    const int dir = want == Want::dir || count == 0 ? O_DIRECTORY : 0;
    sys::unique_fd fd(sys::open_beneath(root_fd, rel.c_str(), O_PATH | O_NOFOLLOW | dir));
    if (!fd) return -1;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return -1;
    const bool ok = want == Want::dir ? S_ISDIR(st.st_mode)
                                      : !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode);
    if (ok) return fd.release();
    errno = EEXIST;  // there, but not what is wanted: the walk names it
    return -1;
}
}  // namespace

int open_target(int root_fd, const std::string& path, Want want, bool create, const char* op,
                StepError& e) {
    std::vector<std::string> comps;
    if (!path_components(path, comps)) {
        errno = EINVAL;
        return fail(e, op, path);
    }
    // One component: the walk is one lookup already.
    if (comps.size() > 1) {
        const int fd = open_existing(root_fd, comps, comps.size(), want);
        if (fd >= 0) return fd;
        // Absent, to be made: most often only its last component is (a mount point in the
        // new root's scratch tmpfs), so the walk starts at its parent when that is all there.
        if (create && errno == ENOENT) {
            sys::unique_fd parent(open_existing(root_fd, comps, comps.size() - 1, Want::dir));
            if (parent)
                return walk(parent.get(), comps, comps.size() - 1, comps.size(), want, create,
                            op, path, e);
        }
    }
    return walk(root_fd, comps, 0, comps.size(), want, create, op, path, e);
}

int open_parent(int root_fd, const std::string& path, std::string* name, const char* op,
                StepError& e) {
    std::vector<std::string> comps;
    if (!path_components(path, comps) || comps.empty()) {
        errno = EINVAL;
        return fail(e, op, path);
    }
    *name = comps.back();
    return walk(root_fd, comps, 0, comps.size() - 1, Want::dir, true, op, path, e);
}

}  // namespace agentbox::sandbox::lnx
