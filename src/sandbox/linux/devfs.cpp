// A minimal /dev: a tmpfs with the host's harmless character devices bound in, a private
// devpts instance, a shm tmpfs and the usual symlinks; then the tmpfs itself goes read-only
// so the command cannot create device nodes or files there (the shm and pts mounts stay
// writable).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/linux/mount_api.hpp"
#include "sandbox/linux/mount_paths.hpp"
#include "sandbox/linux/mounts.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

namespace {

constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

struct Link {
    const char* name;
    const char* target;
};
constexpr Link kLinks[] = {{"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"},
                           {"stdout", "/proc/self/fd/1"},   {"stderr", "/proc/self/fd/2"},
                           {"ptmx", "pts/ptmx"}};

// Bind the host's device node onto an empty file in our /dev. The bind keeps the host mount's
// flags (devtmpfs is not nodev), which is what lets the node work inside a user namespace;
// nosuid and noexec are added to all of them at once at the end (mount_dev).
int bind_device(int dev_fd, const std::string& dir, const char* name, StepError& e) {
    std::string path = dir + "/" + name;
    std::string host = host_path("/dev/" + std::string(name));
    sys::unique_fd tree(clone_tree(host, false, 0, "mount(bind dev)", path, e));
    if (!tree) return -1;
    // Made here, in our own empty tmpfs (O_EXCL): the descriptor that made it is the target.
    sys::unique_fd target(
        ::openat(dev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (!target) return fail(e, "create", path);
    return attach(tree.get(), target.get(), "mount(bind dev)", path, e);
}

int mount_sub(int dev_fd, const std::string& dir, const char* name, int fs_fd, StepError& e) {
    std::string path = dir + "/" + name;
    if (::mkdirat(dev_fd, name, 0755) < 0) return fail(e, "mkdir", path);
    sys::unique_fd target(::openat(dev_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!target) return fail(e, "open", path);
    return attach(fs_fd, target.get(), "mount", path, e);
}

}  // namespace

int mount_dev(int root_fd, const std::string& target, StepError& e) {
    sys::unique_fd dev(make_fs("tmpfs", {{"mode", "0755"}},
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                               "mount(tmpfs)", target, e));
    if (!dev) return -1;
    {
        sys::unique_fd at(open_target(root_fd, target, Want::dir, true, "mount(dev)", e));
        if (!at) return -1;
        if (attach(dev.get(), at.get(), "mount(dev)", target, e) < 0) return -1;
    }
    // From here `dev` is the root of the attached tmpfs: entries are created relative to it.
    for (const char* name : kDevices)
        if (bind_device(dev.get(), target, name, e) < 0) return -1;

    // A new devpts instance: the command's ptys are not the host's, and ptmx opens ours.
    sys::unique_fd pts(make_fs("devpts", {{"newinstance", nullptr}, {"ptmxmode", "0666"},
                                          {"mode", "0620"}},
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "mount(devpts)",
                               target + "/pts", e));
    if (!pts || mount_sub(dev.get(), target, "pts", pts.get(), e) < 0) return -1;

    sys::unique_fd shm(make_fs("tmpfs", {},  // 1777, tmpfs' own default
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                               "mount(tmpfs)", target + "/shm", e));
    if (!shm || mount_sub(dev.get(), target, "shm", shm.get(), e) < 0) return -1;

    for (const Link& l : kLinks)
        if (::symlinkat(l.target, dev.get(), l.name) < 0)
            return fail(e, "symlink", target + "/" + l.name);

    // nosuid and noexec on every mount of /dev: the device binds get them here, one call for
    // all six (pts and shm have them already, and the tmpfs itself). Added, never removed:
    // the devices keep their dev.
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    if (::mount_setattr(dev.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        return fail(e, "mount_setattr(nosuid,noexec)", target);
    // Then the tmpfs alone goes read-only: no device node or file can be made in /dev, while
    // the devices, pts and shm stay writable.
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(dev.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        return fail(e, "mount_setattr(ro)", target);
    return 0;
}

}  // namespace agentbox::sandbox::lnx
