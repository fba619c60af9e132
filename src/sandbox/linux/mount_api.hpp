// Child-side building blocks over the new mount API (fsopen/fsmount/open_tree/move_mount/
// mount_setattr). Every mount is created detached and then attached onto an O_PATH fd of its
// target that was opened without following symlinks, so nothing planted in a tree mounted
// earlier can redirect a later mount (runc CVE-2021-30465). Never throw: these run after clone.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <utility>

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

using FsOption = std::pair<const char*, const char*>;  // value nullptr = a flag option

// A new detached mount of filesystem `type`; `attrs` are MOUNT_ATTR_* flags. Returns the
// mount fd (CLOEXEC) or -1 with e = {op, path, errno}.
int make_fs(const char* type, std::span<const FsOption> options, unsigned attrs, const char* op,
            const std::string& path, StepError& e);
inline int make_fs(const char* type, std::initializer_list<FsOption> options, unsigned attrs,
                   const char* op, const std::string& path, StepError& e) {
    return make_fs(type, std::span<const FsOption>(options.begin(), options.size()), attrs, op,
                   path, e);
}

// A detached recursive copy of `host` (a path in the current tree) with `attr_set` added to
// every mount in it. Locked flags of the source (ro, nodev, noexec...) are kept, because
// attributes are only ever added here. Returns the tree fd or -1.
int clone_tree(const std::string& host, bool recursive, unsigned attr_set, const char* op,
               const std::string& path, StepError& e);

// Attach a detached mount onto the target fd. Returns 0 or -1.
int attach(int mount_fd, int target_fd, const char* op, const std::string& path, StepError& e);

enum class Want { dir, file };

// Open `path` (absolute, in the new root) beneath `root_fd` as an O_PATH fd, refusing every
// symlink on the way (ELOOP) and creating missing directories (0755) and, for Want::file, an
// empty last component (0644). Returns the fd or -1.
int open_target(int root_fd, const std::string& path, Want want, bool create, const char* op,
                StepError& e);

// Open the parent directory of `path` (created as needed) and return it; *name receives the
// last component. For symlinks and other entries created by name.
int open_parent(int root_fd, const std::string& path, std::string* name, const char* op,
                StepError& e);

}  // namespace agentbox::sandbox::lnx
