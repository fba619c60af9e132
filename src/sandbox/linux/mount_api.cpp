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


int make_fs(const char* type, std::span<const FsOption> options, unsigned attrs, const char* op,
            const std::string& path, StepError& e) {
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
// with O_PATH yields the link itself, which the caller then rejects by type). With
// O_DIRECTORY for a directory: the open itself then refuses a link or a file (ENOTDIR), and
// a success needs no fstat to know what it opened.
int open_component(int dir, const std::string& name, bool want_dir) {
    return sys::open_beneath(dir, name.c_str(), O_PATH | O_NOFOLLOW | (want_dir ? O_DIRECTORY : 0));
}

// What is at `name` beneath `dir`, when a directory was wanted and the open said ENOTDIR: a
// symlink where we mount is refused as such (ELOOP), whoever planted it, anything else as
// not a directory. The error path only.
int name_not_dir(int dir, const std::string& name, const char* op, const std::string& path,
                 StepError& e) {
    sys::unique_fd fd(open_component(dir, name, false));
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISLNK(st.st_mode)) return fail(e, op, path, ELOOP);
    return fail(e, op, path, ENOTDIR);
}

// comps[first, count) beneath `start` (not taken). `absent`: comps[first] is known not to
// exist (a lookup just said so), so it is made without looking first; so is every component
// after one this walk made.
int walk(int start, const std::vector<std::string>& comps, std::size_t first, std::size_t count,
         Want last, bool create, bool absent, const char* op, const std::string& path,
         StepError& e) {
    sys::unique_fd cur;
    if (first == count) {  // nothing to walk: the start itself, which the caller opened
        cur.reset(::fcntl(start, F_DUPFD_CLOEXEC, 3));
        if (!cur) return fail(e, "dup", path);
        return cur.release();
    }
    for (std::size_t i = first; i < count; ++i) {
        const int dir = cur ? cur.get() : start;
        const bool is_last = i + 1 == count;
        const bool want_dir = !is_last || last == Want::dir;
        const std::string& c = comps[i];
        int fd = absent ? -1 : open_component(dir, c, want_dir);
        if (absent) errno = ENOENT;
        absent = false;
        if (fd < 0 && errno == ENOENT && create) {
            if (want_dir) {
                if (::mkdirat(dir, c.c_str(), 0755) == 0) absent = true;  // so is all below it
                else if (errno != EEXIST) return fail(e, op, path);
            } else {
                // A file of our own, just made (O_EXCL: nothing was there, not even a link):
                // the descriptor that made it is the target, no second open needed.
                fd = ::openat(dir, c.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              0644);
                if (fd >= 0) return fd;
                if (errno != EEXIST) return fail(e, op, path);
            }
            // Made by us, or (EEXIST) by someone else meanwhile: checked like anything found.
            fd = open_component(dir, c, want_dir);
        }
        if (fd < 0) {
            if (errno == ENOTDIR && want_dir) return name_not_dir(dir, c, op, path, e);
            return fail(e, op, path);
        }
        cur.reset(fd);
        if (want_dir) continue;  // O_DIRECTORY made sure of it
        struct stat st {};
        if (::fstat(cur.get(), &st) < 0) return fail(e, op, path);
        if (S_ISLNK(st.st_mode)) {
            errno = ELOOP;  // a symlink where we mount: refuse, whoever planted it
            return fail(e, op, path);
        }
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return fail(e, op, path);
        }
    }
    return cur.release();
}

// The whole path in one openat2, when it is all there already: RESOLVE_NO_SYMLINKS refuses a
// symlink on the way as the walk does, O_NOFOLLOW returns a last one as itself (refused by
// type below), and a mount met on the way is crossed as the walk crosses it. One lookup (and
// for a file one fstat) instead of an open per component. -1 for anything else (absent, to
// be created, or an error): the walk then does it component by component and names the
// error as it always has.
int open_existing(int root_fd, const std::vector<std::string>& comps, std::size_t count,
                  Want want) {
    std::string rel;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string& c = comps[i];
        if (!rel.empty()) rel += '/';
        rel += c;
    }
    const bool dir = want == Want::dir || count == 0;
    sys::unique_fd fd(sys::open_beneath(root_fd, rel.c_str(),
                                        O_PATH | O_NOFOLLOW | (dir ? O_DIRECTORY : 0)));
    if (!fd) return -1;
    if (dir) return fd.release();  // O_DIRECTORY made sure of it
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return -1;
    if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) return fd.release();
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
    // One component: the walk is one lookup already (and, made, no lookup before the mkdir).
    if (comps.size() > 1) {
        const int fd = open_existing(root_fd, comps, comps.size(), want);
        if (fd >= 0) return fd;
        // Absent, to be made: most often only its last component is (a mount point in the
        // new root's tmpfs), so the walk starts at its parent when that is all there, and
        // makes the last one without looking for it again.
        if (create && errno == ENOENT) {
            sys::unique_fd parent(open_existing(root_fd, comps, comps.size() - 1, Want::dir));
            if (parent)
                return walk(parent.get(), comps, comps.size() - 1, comps.size(), want, create,
                            true, op, path, e);
        }
    }
    return walk(root_fd, comps, 0, comps.size(), want, create, false, op, path, e);
}

int open_parent(int root_fd, const std::string& path, std::string* name, const char* op,
                StepError& e) {
    std::vector<std::string> comps;
    if (!path_components(path, comps) || comps.empty()) {
        errno = EINVAL;
        return fail(e, op, path);
    }
    *name = comps.back();
    return walk(root_fd, comps, 0, comps.size() - 1, Want::dir, true, false, op, path, e);
}

}  // namespace agentbox::sandbox::lnx
