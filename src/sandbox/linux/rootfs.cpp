#include "sandbox/linux/rootfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/linux/mount_api.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

namespace {
int fail(StepError& e, const char* op, const char* path) {
    e.op = op;
    e.path = path;
    e.err = errno;
    return -1;
}

// Any existing directory works as the place to attach the scratch tmpfs: pivot_root moves the
// tmpfs to "/" and so uncovers that directory again under /oldroot. /tmp always exists.
constexpr const char* kScratch = "/tmp";
}  // namespace

int enter_base(RootFds& fds, StepError& e) {
    // Our mount namespace is a copy of the host's; make every mount private first so that
    // nothing we mount or unmount propagates back to the host (or in from it).
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        return fail(e, "mount(MS_REC|MS_PRIVATE)", "/");

    sys::unique_fd scratch(make_fs("tmpfs", {{"mode", "0755"}},
                                   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                   "mount(tmpfs)", kScratch, e));
    if (!scratch) return -1;
    if (::move_mount(scratch.get(), "", AT_FDCWD, kScratch, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return fail(e, "move_mount(scratch tmpfs)", kScratch);
    if (::mkdirat(scratch.get(), "oldroot", 0700) < 0) return fail(e, "mkdir", "/oldroot");
    if (::mkdirat(scratch.get(), "newroot", 0755) < 0) return fail(e, "mkdir", "/newroot");
    int f = ::openat(scratch.get(), "empty", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (f < 0) return fail(e, "create", "/empty");
    ::close(f);

    // Enter the scratch tmpfs with the host tree at /oldroot: from here on every host path is
    // reached through /oldroot, and every target is created on mounts we made ourselves.
    if (::fchdir(scratch.get()) < 0) return fail(e, "chdir", kScratch);
    if (sys_pivot_root(".", "oldroot") < 0) return fail(e, "pivot_root", kScratch);
    if (::chdir("/") < 0) return fail(e, "chdir", "/");

    fds.empty_file = ::open("/empty", O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (fds.empty_file < 0) return fail(e, "open", "/empty");

    // The new root is its own tmpfs so that it can be made read-only on its own at the end.
    sys::unique_fd root(make_fs("tmpfs", {{"mode", "0755"}},
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "mount(tmpfs)", "/", e));
    if (!root) return -1;
    if (::move_mount(root.get(), "", AT_FDCWD, "/newroot", MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return fail(e, "move_mount(new root)", "/");
    fds.newroot = root.release();
    return 0;
}

int enter_newroot(StepError& e) {
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then
    // removes the scratch tmpfs and, with it, every path to the host tree.
    if (::chdir("/newroot") < 0) return fail(e, "chdir", "/");
    if (sys_pivot_root(".", ".") < 0) return fail(e, "pivot_root", "/");
    if (::umount2(".", MNT_DETACH) < 0) return fail(e, "umount2(old root)", "/");
    if (::chdir("/") < 0) return fail(e, "chdir", "/");
    // The command must not create files next to /usr: the root tmpfs becomes read-only. Only
    // that one mount, not the writable mounts below it.
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
        return fail(e, "mount_setattr(ro)", "/");
    return 0;
}

}  // namespace agentbox::sandbox::lnx
