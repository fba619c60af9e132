// Thin wrappers for the system calls glibc 2.36 does not wrap (openat2, pivot_root, clone3,
// pidfd_send_signal). Each returns -1 with errno set, like libc.
#pragma once

#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace agentbox::sandbox::lnx {

inline int sys_openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
    struct open_how how {};
    how.flags = flags;
    how.resolve = resolve;
    return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

inline int sys_pivot_root(const char* new_root, const char* put_old) {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

// clone3 without a stack: returns twice like fork(). *pidfd receives a pidfd (CLOEXEC).
inline pid_t sys_clone3(std::uint64_t flags, int* pidfd, int cgroup_fd) {
    struct clone_args args {};
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<std::uintptr_t>(pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
    }
    return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

inline int sys_pidfd_send_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace agentbox::sandbox::lnx
