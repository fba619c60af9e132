// connect() from inside the sandbox, made by the supervisor (issue 18 #8). Landlock has no
// right for connecting to a pathname unix socket, and a read-only mount does not stop it, so
// the seccomp filter sends every connect() here. The supervisor reads the address once, takes
// the caller's socket (pidfd_getfd: the same open file description), resolves a socket path in
// the caller's root, and connects the socket itself to the inode it checked (through
// /proc/self/fd/N of an O_PATH handle), so bytes the sandbox changes after the check are never
// used. A pathname socket is connectable when it is the sandbox's own (its filesystem is
// mounted nowhere on the host: the sandbox's tmpfs mounts, the staged project's overlay) or
// when it is the socket file a write grant names (named_sockets); any other is refused with EACCES and
// logged. Other addresses and families are connected as given, by the same code, so that no
// check can be raced — except, with a Capture (capture.hpp), a TCP connect to an address
// outside the sandbox: decided as a CONNECT to it, refused or made to the proxy instead.
#pragma once

#include <linux/seccomp.h>
#include <sys/socket.h>

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "policy/plan.hpp"
#include "sys/fd.hpp"
#include "sandbox/linux/capture.hpp"

namespace agentbox::sandbox::lnx {

struct InetTarget;

// The socket files that write grants name, by identity (device, inode), opened without
// following a link (the plan's paths are resolved already). Taken before the command may run
// and kept for the run: a grant names the socket its mount shows the sandbox, never what the
// host path leads to at a later connect (a link, or another socket renamed there, by whoever
// can write the host's directory: another session's command with a grant of it).
using SocketIds = std::vector<std::pair<dev_t, ino_t>>;
SocketIds named_sockets(const policy::Plan& plan);

class ConnectGate {
public:
    ConnectGate(const policy::Plan& plan, SocketIds named);
    ~ConnectGate();  // ends connects still waiting (shutdown, a signal) and joins the workers
    ConnectGate(const ConnectGate&) = delete;
    ConnectGate& operator=(const ConnectGate&) = delete;

    // A refusal to log: the socket path (the sandbox's bytes) and why. Not answered yet: the
    // caller reads what it logs of the process while it waits, then answers with `err`.
    struct Refusal {
        int err = 0;
        std::string socket;
        std::string why;
        // Instead of the above, a captured connect the plan refused: the fields of its
        // "decision" event.
        std::vector<std::pair<std::string, std::string>> decision;
    };
    // From now on TCP connects out of the sandbox are captured (network mode proxy).
    void set_capture(Capture* c) { capture_ = c; }
    // Answer one connect notification on `listener` (the same one at every call). Returns a
    // refusal to log, if any, unanswered; every other outcome (the connect's own result) is
    // answered here, as if made by the kernel for the caller.
    Refusal handle(int listener, const struct seccomp_notif& req);

private:
    // A connect that may wait (a blocking stream socket), made by a worker thread.
    struct Job {
        std::uint64_t id = 0;
        int sock = -1;   // our copy of the caller's socket; shut down to end a waiting connect
        int inode = -1;  // the checked socket file (O_PATH) that `addr` names, or -1
        std::vector<std::uint8_t> addr;
    };
    void work();
    // Hand `j` to an idle worker, or a new one: false when kMaxWorkers are all busy.
    bool dispatch(Job& j);  // copies `j` (its descriptors pass) only when it returns true
    // The caller's socket `fd`, through a pidfd for thread `tid`: ours, or -1 with errno.
    int take_socket(std::uint32_t tid, int fd);
    // A TCP connect to `t`, outside the sandbox: 0 with `to` set to the proxy listener (the
    // proxy told what it is for), or the errno to answer, `r` saying what to log.
    int capture(int sock, const InetTarget& t, struct sockaddr_storage& to,
                socklen_t& to_len, Refusal& r);

    // A mount table (a mountinfo file kept open), read again only when it changed.
    struct Mounts {
        sys::unique_fd fd;
        bool read = false;  // dev_of holds the table as last read (not empty)
        std::unordered_map<std::uint64_t, std::string> dev_of;  // mount id -> "major:minor"
        void refresh();
    };

    SocketIds named_;  // the sockets write grants name (named_sockets)
    bool refuse_abstract_ = false;
    Capture* capture_ = nullptr;

    // Pidfds of the threads that connected (PIDFD_THREAD): a pidfd names one task forever, so
    // one kept for a tid that has since exited fails (ESRCH), never reaches the task that got
    // the number next. Bounded; emptied when full.
    std::unordered_map<std::uint32_t, int> pidfds_;

    // Whether a socket's filesystem is the sandbox's own is read from two mount tables, kept
    // rather than read at every connect: the callers' (by mount namespace) and ours.
    std::map<std::pair<dev_t, ino_t>, Mounts> mounts_;
    Mounts own_mounts_;

    // The workers: threads kept waiting for the next blocking connect, so that one costs a
    // wake-up, not a thread's creation and end.
    int listener_ = -1;  // our own copy of the listener, for the workers' answers
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> jobs_;
    // The sockets of the connects under way (closed under mu_), and their workers' threads.
    std::map<int, pthread_t> connecting_;
    std::size_t idle_ = 0;
    bool stop_ = false;
    std::atomic<bool> giving_up_{false};  // stop_, read by a worker without the lock
    std::vector<std::thread> workers_;
};

}  // namespace agentbox::sandbox::lnx
