// The last steps in the command's process before execve, and the host probe.
// These run in a child after clone(): they never throw; each returns 0 or fills a StepError
// naming the operation, the path (if any) and errno, and returns -1.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::lnx {

struct StepError {
    const char* op = "";
    std::string path;
    int err = 0;
};

// Records a failed step in `e`, for `return fail(e, ...)`: -1.
inline int fail(StepError& e, const char* op, const std::string& path, int err = errno) {
    e.op = op;
    e.path = path;
    e.err = err;
    return -1;
}
inline int fail(StepError& e, const char* op, int err) { return fail(e, op, std::string(), err); }

// Landlock ruleset from the plan (paths are sandbox paths, after pivot_root). With mode
// best_effort and no kernel support this is a no-op; with require it fails. Sets
// *enforced_abi to the ABI actually enforced (0 = none).
int apply_landlock(const policy::LandlockPlan& plan, int* enforced_abi, StepError& e);

// Drop every capability: bounding set, ambient, inheritable, permitted, effective; lock
// securebits (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, NO_CAP_AMBIENT_RAISE, all locked).
int drop_capabilities(StepError& e);

// prctl(PR_SET_NO_NEW_PRIVS).
int set_no_new_privs(StepError& e);

// Load a compiled BPF program (seccomp::compile) with TSYNC. When `listener` is non-null the
// filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER and *listener receives the notify fd.
int install_seccomp(const std::uint8_t* bpf, std::size_t size, int* listener, StepError& e);
inline int install_seccomp(const std::vector<std::uint8_t>& bpf, int* listener, StepError& e) {
    return install_seccomp(bpf.data(), bpf.size(), listener, e);
}

// What this kernel and system can enforce. Real syscalls: probes in short-lived children.
policy::HostFacts probe_host();
// The same, but the namespace probe (a child creating a user and mount namespace and an
// overlay: the one slow part) is remembered in `cache_dir` for this boot, uid and set of
// user-namespace sysctls. A stale answer cannot weaken a sandbox: the real clone and mounts
// still fail closed. `agentbox doctor` always probes afresh.
policy::HostFacts probe_host(const std::string& cache_dir);
// PR_SET_PDEATHSIG(SIGKILL) on agentbox itself, checking that the parent did not die just
// before: agentbox, and with it the sandbox, ends when the process that started it does.
// The staged work stays in the session. False when the kernel refuses the prctl.
bool die_with_parent();

// Only the filesystem queries (kind, realpath, readlink, glob), without any probe: what
// `agentbox explain` needs to resolve paths as the kernel will.
policy::HostFacts fs_facts();

// One line per feature for `agentbox doctor`.
struct Feature {
    std::string name;    // "user namespaces"
    bool ok = false;
    std::string detail;  // what was found ("Landlock ABI 7")
    std::string fix;     // the exact fix when missing
    bool required = false;  // the native backend cannot run without it
};
std::vector<Feature> doctor(const policy::HostFacts& facts);

}  // namespace agentbox::sandbox::lnx
