// The new root's life cycle, in the child after clone (init, in its own user and mount
// namespaces). Three steps, in this order:
//   enter_base()   a scratch tmpfs becomes "/", the host tree moved under it (kBuildDir)
//   build_root()   (mounts.hpp) the Plan's mounts, targets beneath that same root
//   leave_host()   detach the host tree, remove kBuildDir, make "/" read-only
// The scratch tmpfs is the sandbox's root itself: one pivot_root, one unmount (of the host
// tree), nothing stacked to detach afterwards.
#pragma once

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

struct RootFds {
    int newroot = -1;  // the root tmpfs (fsmount fd): every target is resolved beneath it
    int empty_file = -1;  // O_PATH of an empty mode-0000 file in kBuildDir (mask_file)
};

int enter_base(RootFds& fds, StepError& e);
int leave_host(StepError& e);

}  // namespace agentbox::sandbox::lnx
