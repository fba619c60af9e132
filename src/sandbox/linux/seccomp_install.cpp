// Loading the compiled filter: the last step before execve in the command's process (the
// filter may deny the prctl and landlock calls of the steps before it). Never throws.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

int install_seccomp(const std::uint8_t* bpf, std::size_t size, int* listener, StepError& e) {
    // The kernel would also accept a filter from a process holding CAP_SYS_ADMIN, but then an
    // exec of a setuid binary could run with it; the sandbox always sets no_new_privs first.
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return fail(e, "seccomp: no_new_privs is not set (set_no_new_privs must come first)",
                    EPERM);
    if (size == 0 || size % sizeof(sock_filter) != 0 || size / sizeof(sock_filter) > BPF_MAXINSNS)
        return fail(e, "seccomp: the compiled filter is not a BPF program", EINVAL);

    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(size / sizeof(sock_filter));
    // The kernel only reads the program. Both sources -- a vector's storage from operator new,
    // SharedFilter's page past an 8-byte length -- are aligned for sock_filter.
    prog.filter = static_cast<sock_filter*>(static_cast<void*>(const_cast<std::uint8_t*>(bpf)));

    // TSYNC: every thread gets the filter or none does. With a listener the kernel returns the
    // notify fd, so a sync failure must be reported as ESRCH instead of as a thread id.
    unsigned long flags = SECCOMP_FILTER_FLAG_TSYNC;
    if (listener) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    const long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (rc < 0) return fail(e, "seccomp(SECCOMP_SET_MODE_FILTER)", errno);
    if (listener) {
        *listener = static_cast<int>(rc);
        return 0;
    }
    if (rc != 0)  // the id of a thread that could not be synchronized
        return fail(e, "seccomp(SECCOMP_FILTER_FLAG_TSYNC): a thread could not be synchronized",
                    ESRCH);
    return 0;
}

}  // namespace agentbox::sandbox::lnx
