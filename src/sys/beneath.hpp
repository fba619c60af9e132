// Opening a path beneath a directory the sandbox could reach (a session's upper/, the project,
// a path inside the new root): openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS, so no "..", absolute path or symlink on the way -- planted by the
// command, or swapped in between a check and the open -- can lead outside it. The one place
// agentbox spells these flags (DESIGN.md §5).
#pragma once

namespace agentbox::sys {

// How far the resolution may go below the directory.
enum class Beneath {
    tree,        // anywhere beneath it
    same_mount,  // and not across a mount point (RESOLVE_NO_XDEV): for a tree agentbox
                 // mounted itself, where a mount on top of it is not the tree
};

// `rel` ("" = the directory itself) opened beneath `dirfd` with `flags` (O_CLOEXEC is always
// added). Retries EAGAIN, the kernel's answer when a rename or mount raced the lookup.
// Returns the descriptor, or -1 with errno set, like openat(2): no allocation, no exception,
// so that the child may call it after clone.
int open_beneath(int dirfd, const char* rel, int flags, Beneath how = Beneath::tree);

// The same without openat2, what open_beneath is where the kernel has none (macOS): one
// component at a time with O_NOFOLLOW, ".." and absolute paths refused (EXDEV), symlinks
// refused (ELOOP). Built everywhere so that Linux tests it too.
int open_beneath_walk(int dirfd, const char* rel, int flags, Beneath how = Beneath::tree);

}  // namespace agentbox::sys
