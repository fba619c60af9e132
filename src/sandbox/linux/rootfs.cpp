#include "sandbox/linux/rootfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "sandbox/linux/mount_api.hpp"
#include "sandbox/linux/mount_paths.hpp"
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
// tmpfs to "/" and so uncovers that directory again under kOldRoot. /tmp always exists.
constexpr const char* kScratch = "/tmp";

// kBuildDir, kOldRoot and the empty file, relative to the scratch tmpfs and as absolute paths
// once it is "/". The names in error messages say what the directory is rather than spell
// its control character.
const std::string kBuildRel(kBuildDir.substr(1));
const std::string kHostRel = std::string(kOldRoot.substr(1));
const std::string kEmptyRel = kBuildRel + "/empty";
constexpr const char* kBuildName = "/(build directory)";
constexpr const char* kHostName = "/(build directory)/host";
constexpr const char* kEmptyName = "/(build directory)/empty";
}  // namespace

int enter_base(RootFds& fds, StepError& e) {
    // Our mount namespace is a copy of the host's; make every mount private first so that
    // nothing we mount or unmount propagates back to the host (or in from it).
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        return fail(e, "mount(MS_REC|MS_PRIVATE)", "/");

    // The sandbox's root: made read-only once built (leave_host).
    sys::unique_fd root(make_fs("tmpfs", {{"mode", "0755"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                                "mount(tmpfs)", "/", e));
    if (!root) return -1;
    if (::move_mount(root.get(), "", AT_FDCWD, kScratch, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return fail(e, "move_mount(root tmpfs)", kScratch);
    if (::mkdirat(root.get(), kBuildRel.c_str(), 0700) < 0) return fail(e, "mkdir", kBuildName);
    if (::mkdirat(root.get(), kHostRel.c_str(), 0700) < 0) return fail(e, "mkdir", kHostName);
    // Created before any Plan target exists: nothing can be in its way.
    int f = ::openat(root.get(), kEmptyRel.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (f < 0) return fail(e, "create", kEmptyName);
    ::close(f);

    // Enter the tmpfs with the host tree at kOldRoot: from here on every host path is reached
    // through kOldRoot, and every target is created on mounts we made ourselves.
    if (::fchdir(root.get()) < 0) return fail(e, "chdir", kScratch);
    if (sys_pivot_root(".", kHostRel.c_str()) < 0) return fail(e, "pivot_root", kScratch);
    if (::chdir("/") < 0) return fail(e, "chdir", "/");

    fds.empty_file = ::openat(root.get(), kEmptyRel.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (fds.empty_file < 0) return fail(e, "open", kEmptyName);
    fds.newroot = root.release();
    return 0;
}

int leave_host(StepError& e) {
    // The host tree goes, all of it: MNT_DETACH takes the mounts below it too (and any still
    // in use, as a file the command could never reach). The kernel waits here for an RCU grace
    // period before it frees them (namespace_unlock), the one wait of the build.
    const std::string host(kOldRoot);
    if (::umount2(host.c_str(), MNT_DETACH) < 0) return fail(e, "umount2(old root)", kHostName);
    // Nothing of the build is left in the root: the masks keep their file (a mount holds it),
    // not its name.
    if (::rmdir(host.c_str()) < 0) return fail(e, "rmdir", kHostName);
    if (::unlink(std::string(kBuildDir).append("/empty").c_str()) < 0)
        return fail(e, "unlink", kEmptyName);
    if (::rmdir(std::string(kBuildDir).c_str()) < 0) return fail(e, "rmdir", kBuildName);
    // The command must not create files next to /usr: the root tmpfs becomes read-only. Only
    // that one mount, not the writable mounts below it.
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
        return fail(e, "mount_setattr(ro)", "/");
    return 0;
}

}  // namespace agentbox::sandbox::lnx
