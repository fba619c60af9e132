// Privileges: the command starts with no capabilities and can never regain any, neither from
// exec (no_new_privs, securebits) nor from its user namespace. Runs in the sandbox's processes
// (init and the command) inside their user namespace; never throws. Raw syscalls, no libcap.
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// Root gets no capabilities from exec, setuid transitions do not touch them, keep-caps is off,
// ambient ones cannot be raised; and each of those is locked so nothing can undo it.
constexpr unsigned long kSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

int capget_self(__user_cap_data_struct (&data)[2]) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    return static_cast<int>(::syscall(SYS_capget, &hdr, data));
}

bool bounding_set_empty() {
    for (unsigned long cap = 0; cap < 64; ++cap) {
        const int r = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0) return true;  // EINVAL: past CAP_LAST_CAP
        if (r == 1) return false;
    }
    return true;
}

// Every capability number the kernel knows, found by probing until EINVAL rather than
// reading /proc/sys/kernel/cap_last_cap: this runs after pivot_root, and does not need /proc.
// Dropping needs CAP_SETPCAP, even for a capability already gone. With it (init and the
// native command, which hold every capability of their user namespace) each number is
// dropped straight away: one call each. Without it (a process bubblewrap stripped before, or
// one that dropped before and calls this again) the rest are read first and only those
// still there dropped, which then fails as it must.
int drop_bounding_set(StepError& e) {
    unsigned long cap = 0;
    for (; cap < 64; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL) return 0;  // past CAP_LAST_CAP (EPERM comes first without SETPCAP)
        if (errno == EPERM) break;
        return fail(e, "prctl(PR_CAPBSET_DROP)", errno);
    }
    for (; cap < 64; ++cap) {
        const int r = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0) {
            if (errno == EINVAL) return 0;
            return fail(e, "prctl(PR_CAPBSET_READ)", errno);
        }
        if (r == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return fail(e, "prctl(PR_CAPBSET_DROP)", errno);
    }
    return 0;
}

int lock_securebits(StepError& e) {
    const int current = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (current < 0) return fail(e, "prctl(PR_GET_SECUREBITS)", errno);
    if ((static_cast<unsigned long>(current) & kSecurebits) == kSecurebits) return 0;
    if (::prctl(PR_SET_SECUREBITS, kSecurebits, 0, 0, 0) == 0) return 0;
    const int err = errno;
    // Without CAP_SETPCAP (a process bubblewrap already stripped) the bits cannot be set, but
    // they would change nothing there: with the bounding set empty, exec cannot grant any
    // capability, to root or to a setuid file.
    __user_cap_data_struct data[2] = {};
    if (err == EPERM && capget_self(data) == 0 &&
        !(data[CAP_SETPCAP / 32].effective & (1u << (CAP_SETPCAP % 32))) && bounding_set_empty())
        return 0;
    return fail(e, "prctl(PR_SET_SECUREBITS)", err);
}

}  // namespace

int drop_capabilities(StepError& e) {
    // Order matters: the bounding set and securebits need CAP_SETPCAP, which capset() below
    // takes away.
    if (drop_bounding_set(e) < 0) return -1;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return fail(e, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
    if (lock_securebits(e) < 0) return -1;

    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[2] = {};
    if (::syscall(SYS_capset, &hdr, none) < 0) return fail(e, "capset", errno);

    // Fail closed: check that the kernel now reports nothing left.
    __user_cap_data_struct now[2] = {};
    if (capget_self(now) < 0) return fail(e, "capget", errno);
    for (const auto& d : now)
        if (d.effective || d.permitted || d.inheritable)
            return fail(e, "capset: capabilities remain", EPERM);
    return 0;
}

int set_no_new_privs(StepError& e) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail(e, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
    return 0;
}

}  // namespace agentbox::sandbox::lnx
