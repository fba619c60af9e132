// The steps of policy::compile() that are large enough for a file of their own. Internal to
// the policy module; each fills its part of the Plan from the shared filesystem rule list.
#pragma once

#include <vector>

#include "policy/fsrules.hpp"
#include "policy/plan.hpp"
#include "profile/model.hpp"

namespace agentbox::policy {

// plan.mounts (ordered), plan.staging, plan.cwd, plan.state and plan.state_keys, and their
// notes and weakenings. Needs plan.project, plan.home, plan.protect; reads inv.cwd and
// fs.state_review. Throws std::invalid_argument for a project that is not a directory, a
// writable path inside a read-only project, or a state file that cannot be one.
void plan_mounts(Plan& plan, const std::vector<FsRule>& rules, const Invocation& inv,
                 const HostFacts& host, const profile::Filesystem& fs);

// Keeps agentbox's own directories (inv.own_dirs) out of reach of every mount in plan.mounts:
// a grant at or below one is refused (std::invalid_argument naming both paths); a writable
// grant above one is narrowed, each directory between the grant and the own directory bound
// over itself so that it is a mount point the sandbox cannot rename, remove or replace, and
// the own directory itself masked. Each narrowing is a note in the Plan.
void guard_own_dirs(Plan& plan, const std::vector<FsRule>& rules, const Invocation& inv,
                    const HostFacts& host);

// Keeps every mount under a writable grant (a mask, a read-only bind) where it is: each
// directory between the grant and the mount is bound over itself (read-write, only
// immovable), so that the command cannot move the mount away by renaming a directory above
// it and make the denied or read-only path its own on the host. Each is a note in the Plan.
// After guard_own_dirs, whose masks it pins too.
void pin_nested_mounts(Plan& plan);

// plan.landlock from plan.mounts and plan.exec_allow.
void plan_landlock(Plan& plan, const std::vector<FsRule>& rules, const profile::Profile& profile,
                   const HostFacts& host);

// [secrets] and network.request: each secret's stand-in in the environment, the hosts to
// intercept (a secret's hosts, and every host a request rule names), and the CA bundle mounted
// and named by the variables TLS clients read. Refused outside mode "proxy".
void plan_secrets(Plan& plan, const profile::Profile& profile, const Invocation& inv);

}  // namespace agentbox::policy
