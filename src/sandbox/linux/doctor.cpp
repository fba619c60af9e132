// `agentbox doctor`: one line per feature the sandbox relies on, what was found, and the exact
// command or boot option that fixes it when it is missing. Reads a few sysctls to name the
// actual cause, and runs bubblewrap --version (the only place agentbox probes bwrap).
#include <fcntl.h>
#include <linux/magic.h>
#include <spawn.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "sandbox/choose.hpp"
#include "sandbox/linux/hardening.hpp"
#include "sandbox/linux/landlock_audit.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace agentbox::sandbox::lnx {

namespace {

// First line of a small file, or "" when it cannot be read.
std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

const char* const kPersist = " (add it to /etc/sysctl.d/ to keep it after a reboot)";

std::string userns_fix() {
    if (read_line("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1")
        return std::string("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0") + kPersist +
               ", or an AppArmor profile granting \"userns,\" to agentbox";
    if (read_line("/proc/sys/kernel/unprivileged_userns_clone") == "0")
        return std::string("sysctl -w kernel.unprivileged_userns_clone=1") + kPersist;
    if (read_line("/proc/sys/user/max_user_namespaces") == "0")
        return std::string("sysctl -w user.max_user_namespaces=15000") + kPersist;
    return "a kernel with CONFIG_USER_NS=y; inside a container, allow unshare(CLONE_NEWUSER) "
           "in its seccomp profile, or use --backend bwrap with a setuid bubblewrap";
}

// What each Landlock ABI adds, and the kernel that brought it.
struct LandlockAbi {
    const char* adds;
    const char* kernel;
};
constexpr LandlockAbi kLandlockAbis[] = {
    {"filesystem access control", "5.13"},
    {"rename and link across directories", "5.19"},
    {"truncate", "6.2"},
    {"TCP bind and connect", "6.7"},
    {"ioctl on device files", "6.10"},
    {"signal and abstract unix socket scoping", "6.12"},
    {"audit logging of denials", "6.15"},
};
constexpr int kNewestLandlockAbi = static_cast<int>(std::size(kLandlockAbis));

Feature landlock_feature(int abi) {
    Feature f{"Landlock", abi >= 1, "", "", false};
    if (abi < 1) {
        f.detail = "not available (profiles with landlock = \"require\" cannot run)";
        // The running LSM list, when securityfs is mounted, so the fix is the exact option.
        std::string lsm = read_line("/sys/kernel/security/lsm");
        lsm = lsm.empty() ? "landlock,lockdown,yama,integrity,apparmor,bpf" : lsm + ",landlock";
        f.fix = "boot with lsm=" + lsm + " (kernel " + kLandlockAbis[0].kernel +
                "+ with CONFIG_SECURITY_LANDLOCK=y)";
        return f;
    }
    f.detail = "ABI " + std::to_string(abi) + ":";
    for (int i = 0; i < abi && i < kNewestLandlockAbi; ++i)
        f.detail += std::string(i ? "; " : " ") + kLandlockAbis[i].adds;
    if (abi < kNewestLandlockAbi)
        f.detail += std::string(" (ABI ") + std::to_string(abi + 1) + " adds " +
                    kLandlockAbis[abi].adds + ", Linux " + kLandlockAbis[abi].kernel + ")";
    return f;
}

bool unified_only() {
    struct statfs s {};
    return ::statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

Feature cgroup2_feature(const policy::HostFacts& facts) {
    Feature f{"cgroup v2 delegation", !facts.cgroup2_delegated.empty(), "", "", false};
    if (f.ok) {
        f.detail = "memory and pids limits in " + facts.cgroup2_delegated;
        return f;
    }
    // The way that works without root: agentbox inside a cgroup v2 subtree delegated to the
    // user, which it uses for each run (cgroup.cpp).
    const std::string delegate =
        "systemd-run --user --scope -p Delegate=yes agentbox run ..., or agentbox inside any "
        "cgroup v2 directory whose cgroup.procs and cgroup.subtree_control you own";
    if (!unified_only()) {
        f.detail = "memory and pids controllers are on cgroup v1 here (hybrid hierarchy), so "
                   "no delegated cgroup v2 subtree can have them";
        f.fix = "boot with systemd.unified_cgroup_hierarchy=1, then " + delegate +
                "; or run as root to use cgroup v1";
    } else {
        f.detail = "agentbox is not in a writable cgroup with the memory and pids controllers";
        f.fix = delegate;
    }
    return f;
}

Feature cgroup1_feature(const policy::HostFacts& facts) {
    Feature f{"cgroup v1 memory/pids (as root)", facts.cgroup1_memory && facts.cgroup1_pids, "", "",
              false};
    auto yes = [](bool b) { return b ? "yes" : "no"; };
    f.detail = std::string("memory: ") + yes(facts.cgroup1_memory) +
               ", pids: " + yes(facts.cgroup1_pids) + " under " + facts.cgroup1_root;
    if (!f.ok)
        f.fix = facts.uid != 0 ? "only used as root; unprivileged runs need cgroup v2 delegation"
                               : "mount the memory and pids controllers under " +
                                     facts.cgroup1_root + ", or use cgroup v2";
    return f;
}

// The one path --backend bwrap uses: never PATH, which the project could influence.
std::string find_bwrap() {
    return ::access(kBwrapPath, X_OK) == 0 ? std::string(kBwrapPath) : std::string();
}

// What `bwrap ARG` prints (`--version`: "bubblewrap 0.8.0"). Empty when it does not run.
std::string bwrap_says(const std::string& bwrap, const char* what) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return {};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char arg0[] = "bwrap";
    char* argv[] = {arg0, const_cast<char*>(what), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, bwrap.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    std::string out;
    if (rc == 0) {
        char buf[256];
        ssize_t n;
        while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0) out.append(buf, static_cast<std::size_t>(n));
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out.clear();
    }
    ::close(fds[0]);
    return std::string(util::trim(out));
}

Feature bwrap_feature() {
    Feature f{"bubblewrap", false, "", "apt install bubblewrap (or your distribution's package)",
              false};
    const std::string bwrap = find_bwrap();
    if (bwrap.empty()) {
        f.detail = std::string("not at ") + kBwrapPath +
                   " (needed for --backend bwrap, and by auto without user namespaces)";
        return f;
    }
    const std::string version = bwrap_says(bwrap, "--version");
    if (version.empty()) {
        f.detail = bwrap + " does not run";
        return f;
    }
    f.ok = true;
    f.fix.clear();
    f.detail = version + " at " + bwrap;
    // Overlay mounts (--overlay) arrived in bubblewrap 0.11.0: asked of its help, as a run
    // asks (bwrap/launch.cpp, probe_overlay), not read from the version.
    f.detail += sandbox::lists_overlay(bwrap_says(bwrap, "--help"))
                    ? " (with --overlay: writes are staged in an overlay)"
                    : " (no --overlay, before 0.11: writes are staged by copying the project)";
    return f;
}

}  // namespace

std::vector<Feature> doctor(const policy::HostFacts& facts) {
    std::vector<Feature> out;

    Feature userns{"user namespaces", facts.userns, "", "", true};
    userns.detail = facts.userns ? "available" : "cannot create a user namespace";
    if (!facts.userns) userns.fix = userns_fix();
    out.push_back(userns);

    Feature overlay{"overlayfs in a user namespace", facts.overlay_userxattr, "", "", true};
    overlay.detail = facts.overlay_userxattr ? "overlay with userxattr mounts"
                                             : "overlay with userxattr does not mount";
    if (!facts.overlay_userxattr)
        overlay.fix = facts.userns ? "Linux 5.11+ with CONFIG_OVERLAY_FS (modprobe overlay); "
                                     "kernel " +
                                         facts.kernel + " refused it"
                                   : "needs user namespaces first (see above)";
    out.push_back(overlay);

    Feature filter{"seccomp filter", facts.seccomp, "", "", true};
    filter.detail = facts.seccomp ? "available" : "not available";
    if (!facts.seccomp) filter.fix = "a kernel with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y";
    out.push_back(filter);

    Feature notif{"seccomp user notification", facts.seccomp_user_notif, "", "", false};
    notif.detail = facts.seccomp_user_notif ? "denied syscalls are logged"
                                            : "denied syscalls fail with EPERM but are not logged";
    if (!facts.seccomp_user_notif) notif.fix = "Linux 5.0+ (5.9+ recommended)";
    out.push_back(notif);

    out.push_back(landlock_feature(facts.landlock_abi));
    if (facts.landlock_abi >= 1) {
        // Denied accesses fail either way; what varies is whether the log can show them.
        Feature seen{"Landlock denials logged", false, "", "", false};
        if (facts.landlock_abi < 7) {
            seen.detail = "not logged: Landlock ABI 7 (Linux 6.15) reports denials to audit";
            seen.fix = "Linux 6.15+";
        } else {
            const LandlockAuditStatus st = landlock_audit_status();
            seen.ok = st.observable;
            seen.detail = st.detail;
            seen.fix = st.fix;
        }
        out.push_back(seen);
    }

    // Mode proxy needs only what the sandbox needs anyway (its own network namespace); what
    // varies is how hard a tool that ignores the proxy variables is stopped.
    Feature proxy{"network proxy", facts.userns, "", "", false};
    if (!facts.userns) proxy.fix = "needs user namespaces first (see above)";
    proxy.detail = !facts.userns ? "no network namespace without user namespaces"
                   : facts.landlock_abi >= 4
                       ? "127.0.0.1:3128 inside; other TCP connects are refused by Landlock too"
                       : "127.0.0.1:3128 inside; other connects fail in the empty network "
                         "namespace (no Landlock ABI 4 second layer)";
    out.push_back(proxy);
    // network.capture (DESIGN.md §6): the supervisor makes every connect() of the sandbox
    // (seccomp user notification), so it can turn one to an outside address into one to the
    // proxy; the DNS answers come from a socket in the sandbox's own namespace.
    Feature capture{"network capture", facts.userns && facts.seccomp_user_notif, "", "", false};
    capture.detail = capture.ok ? "tools that ignore the proxy variables reach allowed hosts by "
                                  "name (DNS at 127.0.0.1:53 inside, TCP connects captured into "
                                  "the proxy)"
                                : "tools that ignore the proxy variables cannot connect at all; "
                                  "a profile with network.capture = true is refused";
    if (!capture.ok)
        capture.fix = !facts.userns ? "needs user namespaces first (see above)"
                                    : "seccomp user notification: Linux 5.9+";
    out.push_back(capture);
    out.push_back(cgroup2_feature(facts));
    out.push_back(cgroup1_feature(facts));
    out.push_back(bwrap_feature());
    return out;
}

}  // namespace agentbox::sandbox::lnx
