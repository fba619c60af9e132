// RAII for the supervisor's side of a launch, shared by the native and bwrap backends.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "sandbox/linux/syscalls.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

// Signals the supervisor handles itself while a sandbox runs (read from a signalfd). The
// previous mask is restored, and anything still pending is consumed, on every exit path.
class SignalBlock {
public:
    SignalBlock() {
        sigemptyset(&set_);
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH}) sigaddset(&set_, s);
        if (::sigprocmask(SIG_BLOCK, &set_, &old_) < 0)
            throw sys::SysError("sigprocmask", errno);
        fd_.reset(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) {
            int err = errno;
            ::sigprocmask(SIG_SETMASK, &old_, nullptr);
            throw sys::SysError("signalfd", err);
        }
    }
    ~SignalBlock() {
        struct signalfd_siginfo si;
        while (::read(fd_.get(), &si, sizeof si) > 0) {
        }
        ::sigprocmask(SIG_SETMASK, &old_, nullptr);
    }
    int fd() const { return fd_.get(); }
    // The mask from before: what a process we exec must start with.
    const sigset_t& old_mask() const { return old_; }

private:
    sigset_t set_{}, old_{};
    sys::unique_fd fd_;
};

// The two channels between the supervisor and the sandbox's processes (child.hpp): sync, a
// SOCK_SEQPACKET pair (descriptors and init's final record come to us), and report, a pipe
// (failure records; EOF once the command has exec'd).
struct Channels {
    sys::unique_fd sync_parent, sync_child, report_read, report_write;

    static Channels make() {
        Channels c;
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            throw sys::SysError("socketpair", errno);
        c.sync_parent.reset(sv[0]);
        c.sync_child.reset(sv[1]);
        if (::pipe2(sv, O_CLOEXEC) < 0) throw sys::SysError("pipe2", errno);
        c.report_read.reset(sv[0]);
        c.report_write.reset(sv[1]);
        return c;
    }
    // In the parent once the child exists: its ends must go, or a dead child's hang-up on
    // sync and the pipe's EOF could never be seen.
    void close_child_ends() {
        sync_child.reset();
        report_write.reset();
    }
};

// The one go protocol of both backends: an eventfd used as a semaphore, each count letting one
// waiting step of the sandbox on (child.hpp, wait_go): with v1 cgroups the first releases the
// sandbox's first process once it is in them; the next lets the command exec. An eventfd
// rather than a byte on the sync socket: a socket's wakeup tells the scheduler that the sender
// is about to sleep, which puts the woken process on the supervisor's CPU, to run after its
// work instead of beside it on an idle one.
class Go {
public:
    Go() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE)) {
        if (!fd_) throw sys::SysError("eventfd", errno);
    }
    int fd() const { return fd_.get(); }
    // One count: `what` names the step in the error ("write(go)").
    void let(const char* what) const {
        const std::uint64_t one = 1;
        if (::write(fd_.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one))
            throw sys::SysError(what, errno);
    }

private:
    sys::unique_fd fd_;
};

// The sandbox's first process (init, or bwrap's monitor), until it is reaped: on any early exit of the supervisor it is killed and waited for,
// so no sandbox outlives a failed launch.
class ChildGuard {
public:
    ChildGuard(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
    ~ChildGuard() {
        if (pid_ <= 0) return;
        sys_pidfd_send_signal(pidfd_.get(), SIGKILL);
        wait_exit();
    }
    void reaped() { pid_ = -1; }
    // The child has reported that nothing of the sandbox runs any more and is only exiting
    // (init's final record). wait_exit() reaps it now -- a cgroup can be removed only once it
    // is gone -- while forget() hands its pid to the caller of launch (Outcome::reap_later), so
    // that the namespaces' teardown overlaps with the run's review.
    void wait_exit() {
        int status;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    pid_t forget() { return std::exchange(pid_, -1); }
    int pidfd() const { return pidfd_.get(); }

private:
    pid_t pid_;
    sys::unique_fd pidfd_;
};

}  // namespace agentbox::sandbox::lnx
