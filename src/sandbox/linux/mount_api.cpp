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

int walk(int root_fd, const std::vector<std::string>& comps, std::size_t count, Want last,
         bool create, const char* op, const std::string& path, StepError& e) {
    sys::unique_fd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 3));
    if (!cur) return fail(e, "dup", path);
    for (std::size_t i = 0; i < count; ++i) {
        bool is_last = i + 1 == count;
        const std::string& c = comps[i];
        int fd = open_component(cur.get(), c);
        if (fd < 0 && errno == ENOENT && create) {
            int rc;
            if (!is_last || last == Want::dir) {
                rc = ::mkdirat(cur.get(), c.c_str(), 0755);
            } else {
                rc = ::openat(cur.get(), c.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (rc >= 0) rc = ::close(rc);
            }
            if (rc < 0 && errno != EEXIST) return fail(e, op, path);
            fd = open_component(cur.get(), c);
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
}  // namespace

int open_target(int root_fd, const std::string& path, Want want, bool create, const char* op,
                StepError& e) {
    std::vector<std::string> comps;
    if (!path_components(path, comps)) {
        errno = EINVAL;
        return fail(e, op, path);
    }
    return walk(root_fd, comps, comps.size(), want, create, op, path, e);
}

int open_parent(int root_fd, const std::string& path, std::string* name, const char* op,
                StepError& e) {
    std::vector<std::string> comps;
    if (!path_components(path, comps) || comps.empty()) {
        errno = EINVAL;
        return fail(e, op, path);
    }
    *name = comps.back();
    return walk(root_fd, comps, comps.size() - 1, Want::dir, true, op, path, e);
}

}  // namespace agentbox::sandbox::lnx
