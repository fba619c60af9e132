// The run's cgroups, for the limits the Plan enforces with cgroup v2 (a delegated subtree) or
// v1 (memory and pids controllers, root on a hybrid host). Supervisor side; throws SysError.
// The directories are removed on every exit path (destructor).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

// "4:memory:/a/b\n0::/c\n" -> "/a/b" for "memory", "/c" for "" (the v2 line).
std::string own_cgroup(const std::string& proc_self_cgroup, const std::string& controller);

// Makes `names` (memory, pids) available to the children of the delegated cgroup `parent`
// (+NAME in its cgroup.subtree_control). The processes in `parent` itself -- agentbox, the
// shell of a `systemd-run --scope` -- move into a leaf child first when the kernel requires
// it. Throws SysError naming the file.
void enable_controllers(const std::string& parent, const std::vector<std::string>& names);

class Cgroups {
public:
    Cgroups() = default;
    Cgroups(Cgroups&&) noexcept;
    Cgroups& operator=(Cgroups&&) = delete;
    Cgroups(const Cgroups&) = delete;
    ~Cgroups();

    // Creates and configures the cgroups for every limit with how cgroup1/cgroup2.
    static Cgroups create(const policy::Plan& plan);

    // cgroup v2 directory fd for clone3(CLONE_INTO_CGROUP); -1 when there is none.
    int clone_into() const { return v2_fd_.get(); }
    // Moves `pid` into the v1 cgroups (before it is released, so it never runs outside).
    void add(pid_t pid) const;
    // Whether add() has anything to do: v1 cgroups (v2 ones are entered by clone_into()).
    bool needs_add() const { return !v1_procs_.empty(); }
    // Whether any cgroup was made (and must be removed once the sandbox is gone).
    bool active() const { return !dirs_.empty(); }
    // Highest memory use of the run in bytes; 0 when no cgroup measures memory.
    std::uint64_t peak_memory() const;

private:
    std::vector<std::string> dirs_;   // created, removed in reverse order
    std::vector<std::string> v1_procs_;  // cgroup.procs files of the v1 cgroups
    std::string peak_file_;
    sys::unique_fd v2_fd_;
};

}  // namespace agentbox::sandbox::lnx
