#include "sandbox/linux/mounts.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/linux/mount_api.hpp"
#include "sandbox/linux/mount_paths.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

using policy::Mount;
using policy::MountKind;

namespace {

// bind_ro / bind_rw: a recursive clone of the host path, so that what is mounted below it on
// the host stays visible as it is; nosuid,nodev are added, never removed.
int mount_bind(int root_fd, const Mount& m, bool ro, StepError& e) {
    const char* op = ro ? "mount(bind ro)" : "mount(bind rw)";
    unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (ro ? MOUNT_ATTR_RDONLY : 0u);
    sys::unique_fd tree(clone_tree(host_path(m.source), true, attrs, op, m.source, e));
    if (!tree) return -1;
    struct stat st {};
    if (::fstat(tree.get(), &st) < 0) return fail(e, op, m.source);
    Want want = S_ISDIR(st.st_mode) ? Want::dir : Want::file;
    sys::unique_fd target(open_target(root_fd, m.target, want, true, op, e));
    if (!target) return -1;
    return attach(tree.get(), target.get(), op, m.target, e);
}

// The project: an overlay whose upper layer is the session's, so writes are staged and the
// project itself is never written. Layers are passed one key at a time ("lowerdir+", Linux
// 6.8), which needs no escaping; older kernels get the escaped legacy option.
//
// `volatile`: without it, the overlay's unmount -- when the sandbox's last process exits --
// runs syncfs on the upper layer's whole filesystem (the user's home, with whatever else is
// dirty there) and the run waits for it: 10-20 ms on a busy disk, even when the command wrote
// nothing. Staged work is made durable where it matters instead: `run` syncs the upper layer
// before it reports changes as staged, and commit syncs it before applying (DESIGN notes in
// docs/design-notes.md). A volatile overlay marks its work dir, and the kernel then refuses
// that work dir to any later mount; every run has a fresh session, hence a fresh work dir.
bool under_overlay(const policy::Plan& plan, const Mount& m) {
    return plan.staging == policy::Staging::overlay && m.target != plan.project &&
           m.target.size() > plan.project.size() && m.target.starts_with(plan.project) &&
           (plan.project == "/" || m.target[plan.project.size()] == '/');
}

std::string_view below_project(const policy::Plan& plan, const Mount& m) {
    std::string_view rel(m.target);
    rel.remove_prefix(plan.project == "/" ? 1 : plan.project.size() + 1);
    return rel;
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == 0; }

// A masked path under the staged project that the live lower layer does not hold: a
// whiteout (character device 0/0, which anyone may make since Linux 5.8) in the upper layer,
// made before the overlay is mounted. The upper layer wins, so a file the host creates there
// during the run stays hidden (issue 18 #3), and inside the path simply does not exist: no
// unreadable stand-in for `ls`, `git add -A` or `tar` to trip over. The directories on the
// way are made in the upper layer with the lower one's modes (the overlay merges them).
// A path that exists below is masked by mount_mask_file as usual. Best effort per path: a
// component that is not a directory below cannot hold the file either.
void hide_absent_masks(const policy::Plan& plan, const std::string& lower,
                       const std::string& upper) {
    sys::unique_fd low_root(::open(lower.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    sys::unique_fd up_root(::open(upper.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!low_root || !up_root) return;
    for (const Mount& m : plan.mounts) {
        if (m.kind != MountKind::mask_file || !under_overlay(plan, m)) continue;
        std::string_view rel = below_project(plan, m);
        sys::unique_fd low(::dup(low_root.get()));
        sys::unique_fd up(::dup(up_root.get()));
        bool ok = low && up;
        while (ok) {
            const size_t slash = rel.find('/');
            const std::string name(rel.substr(0, slash));
            struct stat st {};
            if (slash == std::string_view::npos) {
                if (::fstatat(low.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 &&
                    errno == ENOENT)
                    ::mknodat(up.get(), name.c_str(), S_IFCHR | 0000, 0);
                break;
            }
            rel.remove_prefix(slash + 1);
            if (::fstatat(low.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                !S_ISDIR(st.st_mode))
                break;
            const int open_dir = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
            sys::unique_fd next_low(::openat(low.get(), name.c_str(), open_dir));
            if (::mkdirat(up.get(), name.c_str(), st.st_mode & 07777) < 0 && errno != EEXIST)
                break;
            sys::unique_fd next_up(::openat(up.get(), name.c_str(), open_dir));
            ok = next_low && next_up;
            low = std::move(next_low);
            up = std::move(next_up);
        }
    }
}

int mount_overlay(int root_fd, const policy::Plan& plan, const Mount& m, const StageDirs& stage,
                  StepError& e) {
    const char* op = "mount(overlay)";
    if (stage.upper.empty() || stage.work.empty()) {
        errno = EINVAL;
        return fail(e, op, m.target);
    }
    std::string lower = host_path(m.source);
    std::string upper = host_path(stage.upper);
    std::string work = host_path(stage.work);
    hide_absent_masks(plan, lower, upper);
    unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    int fd = make_fs("overlay",
                     {{"lowerdir+", lower.c_str()}, {"upperdir", upper.c_str()},
                      {"workdir", work.c_str()}, {"userxattr", nullptr},
                      {"volatile", nullptr}},
                     attrs, op, m.target, e);
    if (fd < 0 && e.err == EINVAL) {
        std::string legacy = overlay_escape(lower);
        fd = make_fs("overlay",
                     {{"lowerdir", legacy.c_str()}, {"upperdir", upper.c_str()},
                      {"workdir", work.c_str()}, {"userxattr", nullptr},
                      {"volatile", nullptr}},
                     attrs, op, m.target, e);
    }
    if (fd < 0) return -1;
    sys::unique_fd ovl(fd);
    sys::unique_fd target(open_target(root_fd, m.target, Want::dir, true, op, e));
    if (!target) return -1;
    return attach(ovl.get(), target.get(), op, m.target, e);
}

// The session's home directory, holding the copies of the agent state files (Plan::state):
// an ordinary read-write bind, so that the agent creates and renames files in it as in any
// directory; the run saves the copies back afterwards (cli/run_state.cpp).
int mount_state_home(int root_fd, const Mount& m, const StageDirs& stage, StepError& e) {
    if (stage.home.empty()) {
        errno = EINVAL;
        return fail(e, "mount(state home)", m.target);
    }
    Mount bind = m;
    bind.source = stage.home;
    return mount_bind(root_fd, bind, false, e);
}

int mount_tmpfs(int root_fd, const Mount& m, const std::string& home, StepError& e) {
    const char* op = "mount(tmpfs)";
    // 1777 is tmpfs' own default mode: no option to set it.
    const char* mode = tmpfs_mode(m.target, home);
    const unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    sys::unique_fd fs(std::string_view(mode) == "1777"
                          ? make_fs("tmpfs", {}, attrs, op, m.target, e)
                          : make_fs("tmpfs", {{"mode", mode}}, attrs, op, m.target, e));
    if (!fs) return -1;
    sys::unique_fd target(open_target(root_fd, m.target, Want::dir, true, op, e));
    if (!target) return -1;
    return attach(fs.get(), target.get(), op, m.target, e);
}

// A procfs of our own pid namespace (we are its PID 1), with /proc/sys read-only: in a user
// namespace some sysctls (net.*) are writable by its root, and nothing in a sandbox needs to.
int mount_proc(int root_fd, const Mount& m, StepError& e) {
    const char* op = "mount(proc)";
    sys::unique_fd fs(make_fs("proc", {},
                              MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, op,
                              m.target, e));
    if (!fs) return -1;
    sys::unique_fd target(open_target(root_fd, m.target, Want::dir, true, op, e));
    if (!target) return -1;
    if (attach(fs.get(), target.get(), op, m.target, e) < 0) return -1;

    std::string sys_path = m.target + "/sys";
    sys::unique_fd sys_dir(::openat(fs.get(), "sys", O_PATH | O_CLOEXEC | O_NOFOLLOW));
    if (!sys_dir) return fail(e, "open", sys_path);
    sys::unique_fd ro(::open_tree(sys_dir.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                         AT_EMPTY_PATH | AT_RECURSIVE));
    if (!ro) return fail(e, "open_tree", sys_path);
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (::mount_setattr(ro.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        return fail(e, "mount_setattr(ro)", sys_path);
    return attach(ro.get(), sys_dir.get(), "mount(bind ro)", sys_path, e);
}

// A denied path that does not exist in the new root has nothing to hide: a file the command
// creates there later is its own (and the commit rules see it). Only ENOENT is forgiven; a
// symlink in the way (ELOOP) still fails the run.
bool absent(const StepError& e) { return e.err == ENOENT; }

// A denied directory: an empty read-only tmpfs over it, so it reads as empty.
int mount_mask_dir(int root_fd, const Mount& m, StepError& e) {
    const char* op = "mount(mask)";
    // The target first: a mount made and then dropped unattached (an absent target) is
    // dissolved on close, which waits for an RCU grace period (~1 ms).
    sys::unique_fd target(open_target(root_fd, m.target, Want::dir, false, op, e));
    if (!target) return absent(e) ? 0 : -1;
    sys::unique_fd fs(make_fs("tmpfs", {{"mode", "0755"}},
                              MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                  MOUNT_ATTR_NOEXEC,
                              op, m.target, e));
    if (!fs) return -1;
    return attach(fs.get(), target.get(), op, m.target, e);
}

// A denied file: an empty mode-0000 file bound read-only over it. Not /dev/null, which
// accepts writes and so would hide that a write was attempted. One that does not exist is
// skipped: under the staged project, hide_absent_masks has put a whiteout there.
int mount_mask_file(int root_fd, const Mount& m, int empty_file, StepError& e) {
    const char* op = "mount(mask)";
    // The target first, as for a directory: no mount to dissolve when it is absent.
    sys::unique_fd target(open_target(root_fd, m.target, Want::file, false, op, e));
    if (!target) return absent(e) ? 0 : -1;
    sys::unique_fd tree(::open_tree(empty_file, "",
                                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
    if (!tree) return fail(e, "open_tree", m.target);
    struct mount_attr attr {};
    attr.attr_set =
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        return fail(e, "mount_setattr(ro)", m.target);
    return attach(tree.get(), target.get(), op, m.target, e);
}

int make_symlink(int root_fd, const Mount& m, StepError& e) {
    // In the root itself (/bin -> usr/bin): the root's descriptor is the parent's.
    const std::string_view target(m.target);
    if (target.size() > 1 && target.rfind('/') == 0) {
        const std::string name(target.substr(1));
        if (::symlinkat(m.source.c_str(), root_fd, name.c_str()) < 0)
            return fail(e, "symlink", m.target);
        return 0;
    }
    std::string name;
    sys::unique_fd parent(open_parent(root_fd, m.target, &name, "symlink", e));
    if (!parent) return -1;
    if (::symlinkat(m.source.c_str(), parent.get(), name.c_str()) < 0)
        return fail(e, "symlink", m.target);
    return 0;
}

int make_dir(int root_fd, const Mount& m, StepError& e) {
    sys::unique_fd dir(open_target(root_fd, m.target, Want::dir, true, "mkdir", e));
    return dir ? 0 : -1;
}

}  // namespace

int build_root(const policy::Plan& plan, const StageDirs& stage, const RootFds& fds,
               StepError& e) {
    // The build directory holds the host's tree until leave_host: no target may lead into it
    // (a profile path cannot name it; a placeholder's value could, in theory).
    for (const Mount& m : plan.mounts)
        if (in_build_dir(m.target)) return fail(e, "mount", m.target, EEXIST);
    for (const Mount& m : plan.mounts) {
        int rc = -1;
        switch (m.kind) {
            case MountKind::bind_ro: rc = mount_bind(fds.newroot, m, true, e); break;
            case MountKind::bind_rw: rc = mount_bind(fds.newroot, m, false, e); break;
            case MountKind::overlay: rc = mount_overlay(fds.newroot, plan, m, stage, e); break;
            case MountKind::tmpfs: rc = mount_tmpfs(fds.newroot, m, plan.home, e); break;
            case MountKind::proc: rc = mount_proc(fds.newroot, m, e); break;
            case MountKind::dev: rc = mount_dev(fds.newroot, m.target, e); break;
            case MountKind::mask_dir: rc = mount_mask_dir(fds.newroot, m, e); break;
            case MountKind::mask_file:
                rc = mount_mask_file(fds.newroot, m, fds.empty_file, e);
                break;
            case MountKind::symlink: rc = make_symlink(fds.newroot, m, e); break;
            case MountKind::dir: rc = make_dir(fds.newroot, m, e); break;
            case MountKind::state_home: rc = mount_state_home(fds.newroot, m, stage, e); break;
        }
        if (rc < 0) return -1;
    }
    return 0;
}

void remove_mask_placeholders(const policy::Plan& plan, const std::string& upper) {
    if (upper.empty()) return;
    for (const Mount& m : plan.mounts) {
        if (m.kind != MountKind::mask_file || !under_overlay(plan, m)) continue;
        // A whiteout at a masked path is hide_absent_masks' (the command could make one there
        // only by deleting a file it could not see); an empty regular file is the placeholder
        // of an older agentbox. Neither is a change of the command's.
        const std::string p = upper + "/" + std::string(below_project(plan, m));
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0 &&
            (is_whiteout(st) || (S_ISREG(st.st_mode) && st.st_size == 0)))
            ::unlink(p.c_str());
    }
}

}  // namespace agentbox::sandbox::lnx
