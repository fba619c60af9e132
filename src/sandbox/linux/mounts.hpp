// The Plan's mount list, performed in order beneath the new root (see rootfs.hpp for where
// this sits). Runs in init, in the new pid namespace, so that procfs is ours.
#pragma once

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/linux/hardening.hpp"
#include "sandbox/linux/rootfs.hpp"

namespace agentbox::sandbox::lnx {

int build_root(const policy::Plan& plan, const StageDirs& stage, const RootFds& fds,
               StepError& e);

// A minimal /dev at `target` (devfs.cpp).
int mount_dev(int root_fd, const std::string& target, StepError& e);

}  // namespace agentbox::sandbox::lnx
