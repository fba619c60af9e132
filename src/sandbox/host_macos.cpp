// sandbox/host.hpp everywhere but Linux (the macOS build; on Linux, ctest cross.macos compiles
// and links it with Linux poisoned): the Seatbelt backend's host. Plain POSIX, so that the
// check on Linux links what a Mac links; the Linux build itself uses host_linux.cpp.
//
// macOS has none of the Linux mechanisms the Plan's compile asks about (user namespaces,
// overlayfs, seccomp, Landlock, cgroups): the facts say so, and the rules that need them are
// the Seatbelt backend's to refuse (macos/seatbelt.cpp, seatbelt_weakenings).
#ifndef __linux__

#include <sys/utsname.h>
#include <unistd.h>

#include <stdexcept>

#include "sandbox/fs_posix.hpp"
#include "sandbox/host.hpp"
#include "sandbox/macos/seatbelt_run.hpp"

namespace agentbox::sandbox {

policy::HostFacts probe_host(const std::string& /*cache_dir: nothing slow to remember*/) {
    policy::HostFacts f = posix::fs_facts();
    struct utsname u {};
    if (::uname(&u) == 0) f.kernel = std::string(u.sysname) + " " + u.release;
    f.userns = false;
    f.overlay_userxattr = false;
    f.seccomp = false;
    f.seccomp_user_notif = false;
    f.landlock_abi = 0;
    f.cgroup2_delegated.clear();
    f.cgroup1_memory = f.cgroup1_pids = false;
    return f;
}

policy::HostFacts probe_host() { return probe_host(std::string()); }

policy::HostFacts fs_facts() { return posix::fs_facts(); }

std::vector<Feature> doctor(const policy::HostFacts& facts) {
    std::vector<Feature> out;
    Feature exec{"sandbox-exec", ::access(macos::kSandboxExec, X_OK) == 0,
                 macos::kSandboxExec, "", true};
    if (!exec.ok) {
        exec.detail = std::string(macos::kSandboxExec) + " is missing or not executable";
        exec.fix = "agentbox's macOS backend runs commands under Seatbelt through it; it ships "
                   "with every macOS release";
    }
    out.push_back(std::move(exec));
    out.push_back({"kernel", !facts.kernel.empty(), facts.kernel, "", false});
    // What Seatbelt cannot do, said here once; `run` names each rule it affects.
    out.push_back({"system call filters", false,
                   "none: Seatbelt filters operations, not system calls (process.seccomp rules "
                   "are refused)",
                   "", false});
    out.push_back({"memory and process limits", false,
                   "none: no cgroups, and RLIMIT_AS/RLIMIT_NPROC do not mean the same on macOS "
                   "(limits.memory and limits.pids are refused)",
                   "", false});
    return out;
}

bool die_with_parent(std::string& unsupported) {
    // No PR_SET_PDEATHSIG: the kqueue watch (EVFILT_PROC, NOTE_EXIT) that would stand in for
    // it is not written yet. Said at every run rather than refused: it is how the run ends,
    // not a rule of the sandbox.
    unsupported = "--die-with-parent: not on macOS yet (no PR_SET_PDEATHSIG): if the process "
                  "that started agentbox dies, the run goes on";
    return true;
}

void check_syscall_names(const policy::Plan& /*plan*/) {
    // No filter is built from the names here: the Seatbelt backend refuses every system call
    // rule as a weakening instead (seatbelt_weakenings), so there is nothing to resolve.
}

Prepared filter_record(const policy::Plan& /*plan*/) { return {}; }

int helper_main(int /*argc*/, char** /*argv*/) { return -1; }

bool bwrap_overlay() { return false; }

std::vector<std::string> platform_backends() { return {"seatbelt"}; }

std::string auto_backend(const policy::HostFacts& /*facts*/) { return "seatbelt"; }

std::unique_ptr<Backend> make_platform_backend(const std::string& name) {
    if (name == "seatbelt") return make_seatbelt();
    throw std::invalid_argument("backend \"" + name + "\" runs on Linux only; this system's "
                                "is \"seatbelt\"");
}

}  // namespace agentbox::sandbox

#endif  // !__linux__
