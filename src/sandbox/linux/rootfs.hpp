// The new root's life cycle, in the child after clone (init, in its own user and mount
// namespaces). Three steps, in this order:
//   enter_base()    host tree moved to /oldroot under a scratch tmpfs; new root at /newroot
//   build_root()    (mounts.hpp) the Plan's mounts, targets under /newroot
//   enter_newroot() pivot into /newroot, detach the host tree, make "/" read-only
#pragma once

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

struct RootFds {
    int newroot = -1;  // the new root tmpfs (fsmount fd): every target is resolved beneath it
    int empty_file = -1;  // O_PATH of an empty mode-0000 file on the scratch tmpfs (mask_file)
};

int enter_base(RootFds& fds, StepError& e);
int enter_newroot(StepError& e);

}  // namespace agentbox::sandbox::lnx
