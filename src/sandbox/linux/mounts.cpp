#include "sandbox/linux/mounts.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <span>
#include <string>
#include <utility>
#include <vector>

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

// A directory of the project on the way to a masked path, as the masks' layer holds it: its
// mode exactly (mkdir's is cut by the umask) and its owner where init's user namespace maps
// it (else init's own), as the merged directory shows them.
int copy_dir(int layer_dir, const std::string& name, const struct stat& st,
             const std::string& target, StepError& e) {
    if (::mkdirat(layer_dir, name.c_str(), 0700) < 0) {
        if (errno == EEXIST) return 0;  // made for another mask
        return fail(e, "mkdir(masks)", target);
    }
    (void)::fchownat(layer_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    if (::fchmodat(layer_dir, name.c_str(), st.st_mode & 07777, 0) < 0)
        return fail(e, "chmod(masks)", target);
    return 0;
}

// The masked paths under the staged project that the live lower layer does not hold, as
// whiteouts (character devices 0/0, which anyone may make since Linux 5.8) in a layer of their
// own: a tmpfs made in init's mount namespace, which the overlay stacks read-only between the
// upper layer and the project. A file the host creates there during the run stays hidden
// (issue 18 #3), and inside the path simply does not exist: no unreadable stand-in for `ls`,
// `git add -A` or `tar` to trip over. Not in the upper layer, which is the command's: writing
// the path replaced a whiteout there, and removing it then left none, as no lower layer held
// the name. A lower whiteout stays: a removal finds the name still absent below (note 86).
// Not a directory on the host: one inside the project (the session store, when the project is
// the home) is a lower layer inside another, which overlayfs refuses (note 88). The
// directories on the way are copies of the project's (copy_dir), merged with them; the upper
// layer holds none, so a mode the host changes during the run is no staged change. A path that
// exists below is masked by mount_mask_file as usual; one below a component that is not a
// directory there, or cannot be looked into, is not hidden (a directory made here would show
// where the project has none). `layer` receives the layer's mount, none when nothing is to be
// hidden (no layer for nothing). -1 when it cannot be made: the path would be left unhidden,
// so the run fails.
int make_masks_layer(const policy::Plan& plan, const std::string& lower, sys::unique_fd& layer,
                     StepError& e) {
    const char* op = "mount(masks)";
    const int open_dir = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    sys::unique_fd low_root(::open(lower.c_str(), open_dir));
    if (!low_root) return fail(e, op, plan.project);
    std::vector<std::pair<std::string, struct stat>> dirs;  // the way, below the project
    for (const Mount& m : plan.mounts) {
        if (m.kind != MountKind::mask_file || !under_overlay(plan, m)) continue;
        // Walk the project first: the layer gets only what hides an absent path.
        std::string_view rel = below_project(plan, m);
        sys::unique_fd low(::fcntl(low_root.get(), F_DUPFD_CLOEXEC, 3));
        if (!low) return fail(e, "dup", m.target);
        dirs.clear();
        bool absent = false;
        for (;;) {
            const size_t slash = rel.find('/');
            std::string name(rel.substr(0, slash));
            struct stat st {};
            const bool there = ::fstatat(low.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
            if (slash == std::string_view::npos) {
                absent = !there && errno == ENOENT;
                dirs.emplace_back(std::move(name), st);
                break;
            }
            rel.remove_prefix(slash + 1);
            if (!there || !S_ISDIR(st.st_mode)) break;
            low.reset(::openat(low.get(), name.c_str(), open_dir));
            if (!low) break;
            dirs.emplace_back(std::move(name), st);
        }
        if (!absent) continue;
        if (!layer) {
            layer.reset(make_fs("tmpfs", {{"mode", "0755"}},
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, op,
                                m.target, e));
            if (!layer) return -1;
        }
        sys::unique_fd up(::fcntl(layer.get(), F_DUPFD_CLOEXEC, 3));
        if (!up) return fail(e, "dup", m.target);
        for (size_t i = 0; i + 1 < dirs.size(); ++i) {
            if (copy_dir(up.get(), dirs[i].first, dirs[i].second, m.target, e) < 0) return -1;
            up.reset(::openat(up.get(), dirs[i].first.c_str(), open_dir));
            if (!up) return fail(e, "open(masks)", m.target);
        }
        if (::mknodat(up.get(), dirs.back().first.c_str(), S_IFCHR | 0000, 0) < 0 &&
            errno != EEXIST)
            return fail(e, "mknod(whiteout)", m.target);
    }
    return 0;
}

bool same_filesystem(const std::string& a, const std::string& b) {
    struct stat sa {};
    struct stat sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
}

int mount_overlay(int root_fd, const policy::Plan& plan, const Mount& m, const StageDirs& stage,
                  StepError& e) {
    const char* op = "mount(overlay)";
    if (stage.upper.empty() || stage.work.empty()) {
        errno = EINVAL;
        return fail(e, op, m.target);
    }
    const std::string lower = host_path(m.source);
    const std::string upper = host_path(stage.upper);
    const std::string work = host_path(stage.work);
    sys::unique_fd layer;
    if (make_masks_layer(plan, lower, layer, e) < 0) return -1;
    // overlayfs takes a layer by path: the masks' one is attached in the build directory
    // while the overlay is made, and detached right after, the overlay holding a clone of its
    // own; the tmpfs goes with the overlay.
    const std::string masks(kMasksLayer);
    if (layer) {
        const std::string rel = masks.substr(1);
        if (::mkdirat(root_fd, rel.c_str(), 0700) < 0) return fail(e, "mkdir(masks)", m.target);
        sys::unique_fd at(
            ::openat(root_fd, rel.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!at) return fail(e, "open(masks)", m.target);
        if (attach(layer.get(), at.get(), "mount(masks)", m.target, e) < 0) return -1;
    }
    // A layer on another filesystem makes the overlay number inodes per layer: directories
    // would get numbers of its own, changed once evicted, and files another st_dev than
    // theirs. With xino the project's and upper/'s numbers stay when they share a filesystem,
    // as without the layer; only the layer's own directories get numbers of their own (note
    // 88). When they do not, the overlay spans filesystems already and numbers as it did.
    const bool xino = layer && same_filesystem(lower, upper);
    auto overlay = [&](FsOption top, FsOption project) {
        FsOption opts[] = {top,
                           project,
                           {"upperdir", upper.c_str()},
                           {"workdir", work.c_str()},
                           {"userxattr", nullptr},
                           {"volatile", nullptr},
                           {"xino", "on"}};
        std::span<const FsOption> all(opts);
        if (!xino) all = all.first(all.size() - 1);
        if (!top.first) all = all.subspan(1);
        return make_fs("overlay", all, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, op, m.target, e);
    };
    // Topmost lower layer first.
    int fd = overlay({layer ? "lowerdir+" : nullptr, masks.c_str()}, {"lowerdir+", lower.c_str()});
    if (fd < 0 && e.err == EINVAL) {
        std::string legacy = overlay_escape(lower);
        if (layer) legacy = overlay_escape(masks) + ":" + legacy;
        fd = overlay({nullptr, nullptr}, {"lowerdir", legacy.c_str()});
    }
    sys::unique_fd ovl(fd);
    if (layer) {
        const bool gone = ::umount2(masks.c_str(), MNT_DETACH) == 0 &&
                          ::unlinkat(root_fd, masks.substr(1).c_str(), AT_REMOVEDIR) == 0;
        // The overlay's own error first; a layer left in the build directory fails
        // leave_host's removal of it in any case.
        if (!gone && ovl) return fail(e, "umount2(masks)", m.target);
    }
    if (!ovl) return -1;
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
// skipped: under the staged project, make_masks_layer has whited it out.
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

}  // namespace agentbox::sandbox::lnx
