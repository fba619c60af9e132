#include "sandbox/linux/unix_connect.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <system_error>

#include "net/proxy.hpp"
#include "policy/hostrules.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "sys/fd.hpp"
#include "sys/unix_addr.hpp"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

namespace agentbox::sandbox::lnx {

namespace {

// More connects waiting on threads than this (a blocking connect to a full backlog or an
// unanswering host) are refused with EAGAIN rather than given more threads.
constexpr std::size_t kMaxWorkers = 64;
// Pidfds kept for the threads that connect: more live threads than this connecting in turn
// cost a pidfd_open each, as every connect did before.
constexpr std::size_t kMaxPidfds = 256;
// Mount namespaces whose tables are kept: the sandbox has one; more cost a read each.
constexpr std::size_t kMaxMountNs = 8;
constexpr std::size_t kMaxAddr = 128;  // sizeof(struct sockaddr_storage), the kernel's limit

void answer(int listener, std::uint64_t id, int err) {
    struct seccomp_notif_resp resp {};
    resp.id = id;
    resp.error = err == 0 ? 0 : -err;
    resp.val = 0;
    // ENOENT: the caller is gone (killed, or interrupted by a signal: it calls again).
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

// The notification is still pending: its pid is still the process that made the call, so
// what was opened under /proc/PID before this is that process's.
bool still_valid(int listener, std::uint64_t id) {
    return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

std::string proc_path(std::uint32_t pid, const char* what) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/%s", pid, what);
    return path;
}

int open_proc(std::uint32_t pid, const char* what, int flags) {
    return ::open(proc_path(pid, what).c_str(), flags | O_CLOEXEC);
}

std::string read_all(int fd) {
    std::string s;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        s.append(buf, static_cast<std::size_t>(n));
    }
    return s;
}

}  // namespace

// The table of `fd` (a mountinfo file), read now if it changed since the last read: a
// mountinfo file polls POLLPRI once its namespace's mounts changed after the last poll (or
// its open), so a poll before the read misses nothing that the read does not already show.
void ConnectGate::Mounts::refresh() {
    if (read) {
        struct pollfd p {fd.get(), POLLPRI, 0};
        if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLPRI | POLLERR))) return;
    }
    dev_of.clear();
    // A table that cannot be read is empty, and read again at the next connect. Every
    // namespace has a root mount: an empty table is a failed read, never "mounted nowhere".
    read = false;
    if (::lseek(fd.get(), 0, SEEK_SET) < 0) return;
    std::istringstream in(read_all(fd.get()));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::uint64_t id = 0;
        std::string parent, dev;  // fields 1-3: mount id, parent id, "major:minor"
        if (f >> id >> parent >> dev) dev_of.emplace(id, dev);
    }
    read = !dev_of.empty();
}

namespace {

// `len` bytes at `addr` in process `pid`: 0, EFAULT (not all mapped), or another errno.
// process_vm_readv needs no descriptor, so nothing is opened per connect; /proc/PID/mem where
// it is refused (both ask for the same ptrace access, but a kernel may lack the syscall).
int read_caller(std::uint32_t pid, std::uint64_t addr, std::uint8_t* out, std::size_t len) {
    struct iovec local {out, len};
    struct iovec remote {reinterpret_cast<void*>(static_cast<std::uintptr_t>(addr)), len};
    ssize_t n = ::process_vm_readv(static_cast<pid_t>(pid), &local, 1, &remote, 1, 0);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        sys::unique_fd mem(open_proc(pid, "mem", O_RDONLY));
        if (!mem) return errno;
        n = ::pread(mem.get(), out, len, static_cast<off_t>(addr));
        if (n < 0 && errno == EIO) errno = EFAULT;
    }
    if (n < 0) return errno;
    return static_cast<std::size_t>(n) == len ? 0 : EFAULT;
}

// A pidfd for the calling thread (req.pid is a thread id: connect is often called from a
// thread that is not the leader). PIDFD_THREAD (Linux 6.9) takes any thread, and
// pidfd_getfd then reads that thread's descriptor table; before it, the thread group's
// leader, whose table the threads share unless one unshared it. `keep`: the pidfd is for
// the task numbered `tid` itself (not its leader), so it may be kept for that number.
int open_pidfd(std::uint32_t tid, bool& keep) {
    constexpr unsigned kPidfdThread = O_EXCL;
    keep = true;
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, kPidfdThread));
    if (fd >= 0 || errno != EINVAL) return fd;
    fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, 0));
    if (fd >= 0 || errno != EINVAL) return fd;
    keep = false;
    sys::unique_fd status(open_proc(tid, "status", O_RDONLY));
    if (!status) return -1;
    const std::string text = read_all(status.get());
    const auto at = text.find("\nTgid:");
    if (at == std::string::npos) return -1;
    const long tgid = std::strtol(text.c_str() + at + 6, nullptr, 10);
    return tgid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, tgid, 0)) : -1;
}

}  // namespace

// A TCP connect's destination, for capture: the address as the log and policy write it (an IP
// literal, "[v6]" bracketed), its port, and IPv4 (also v4-mapped) in host byte order.
struct InetTarget {
    bool valid = false, loopback = false, v6 = false;
    std::optional<std::uint32_t> v4;
    std::string literal;
    std::uint16_t port = 0;
};

namespace {

InetTarget inet_target(const std::uint8_t* addr, std::size_t len, int domain) {
    InetTarget t;
    sa_family_t family = 0;
    if (len < sizeof family) return t;
    std::memcpy(&family, addr, sizeof family);
    char text[INET6_ADDRSTRLEN] = {};
    if (domain == AF_INET && family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in {};
        std::memcpy(&in, addr, sizeof in);
        t.v4 = ntohl(in.sin_addr.s_addr);
        t.port = ntohs(in.sin_port);
    } else if (domain == AF_INET6 && family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6 {};
        std::memcpy(&in6, addr, sizeof in6);
        t.port = ntohs(in6.sin6_port);
        t.v6 = true;
        if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
            std::uint32_t v;
            std::memcpy(&v, in6.sin6_addr.s6_addr + 12, sizeof v);
            t.v4 = ntohl(v);
        } else {
            t.loopback = IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
            ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
            t.literal = std::string("[") + text + "]";
        }
    } else {
        return t;  // the kernel's to refuse (EINVAL, EAFNOSUPPORT), as for any connect
    }
    if (t.v4) {
        t.loopback = (*t.v4 >> 24) == 127;
        const std::uint32_t n = htonl(*t.v4);
        ::inet_ntop(AF_INET, &n, text, sizeof text);
        t.literal = text;
    }
    // Port 0 is not a connect the kernel makes (ECONNREFUSED): left to it.
    t.valid = t.port != 0;
    return t;
}

// The connect itself, on our copy of the caller's socket: 0 or an errno. Interrupted, it is
// made again, unless `give_up` says the gate is ending (EINTR then).
int connect_as(int sock, const void* addr, socklen_t len, const std::atomic<bool>* give_up) {
    for (;;) {
        if (::connect(sock, static_cast<const struct sockaddr*>(addr), len) == 0) return 0;
        if (errno != EINTR || (give_up && give_up->load())) return errno;
    }
}

// A unix connect waiting for room in a listener's queue waits on the listener, and shutdown()
// of the connecting socket does not wake it (TCP's does): a host socket that never accepts
// would hold the gate's end, and the run's, for as long as its listener lives. Such a wait is
// interrupted by this signal, sent to the worker by the gate's end: handled, without
// SA_RESTART, by a handler that does nothing, and unblocked in the workers only.
int wake_signal() { return SIGRTMIN; }

void on_wake(int) {}

void handle_wake_signal() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = on_wake;
        sigemptyset(&sa.sa_mask);
        ::sigaction(wake_signal(), &sa, nullptr);
    });
}

}  // namespace

SocketIds named_sockets(const policy::Plan& plan) {
    SocketIds ids;
    for (const auto& m : plan.mounts) {
        if (m.kind != policy::MountKind::bind_rw) continue;
        // A link anywhere on the path (ELOOP) names nothing: the plan resolved the grant's
        // links when it was made, so one found now was put there since.
        sys::unique_fd f(sys_openat2(AT_FDCWD, m.source.c_str(), O_PATH | O_CLOEXEC,
                                     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
        struct stat st {};
        if (f && ::fstat(f.get(), &st) == 0 && S_ISSOCK(st.st_mode))
            ids.emplace_back(st.st_dev, st.st_ino);
    }
    return ids;
}

ConnectGate::ConnectGate(const policy::Plan& plan, SocketIds named) : named_(std::move(named)) {
    // With the host's network namespace, abstract names are the host's, and Landlock's scope
    // keeps the command from them only when the command connects itself; a connect the
    // supervisor makes is not scoped. Refused, then, rather than let through unscoped.
    refuse_abstract_ =
        plan.net.mode == profile::NetMode::host && plan.landlock.scope_abstract_unix;
}

ConnectGate::~ConnectGate() {
    std::unique_lock<std::mutex> lk(mu_);
    stop_ = true;
    giving_up_ = true;
    for (const auto& [s, thread] : connecting_) ::shutdown(s, SHUT_RDWR);
    cv_.notify_all();
    // What shutdown() did not end (a unix connect waiting on a full queue) the signal does;
    // sent again until each is out, since one sent just before a worker entered connect()
    // interrupts nothing. A worker in connecting_ has not returned yet, so its thread exists.
    while (!connecting_.empty()) {
        for (const auto& [s, thread] : connecting_) ::pthread_kill(thread, wake_signal());
        cv_.wait_for(lk, std::chrono::milliseconds(10));
    }
    lk.unlock();
    for (auto& t : workers_) t.join();
    // Never started: their callers are being torn down with the sandbox.
    for (const Job& j : jobs_) {
        ::close(j.sock);
        if (j.inode >= 0) ::close(j.inode);
    }
    for (const auto& [tid, fd] : pidfds_) ::close(fd);
    if (listener_ >= 0) ::close(listener_);
}

void ConnectGate::work() {
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, wake_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &wake, nullptr);
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
        ++idle_;
        cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
        --idle_;
        if (stop_) return;
        Job j = std::move(jobs_.front());
        jobs_.pop_front();
        connecting_.emplace(j.sock, ::pthread_self());
        lk.unlock();
        answer(listener_, j.id,
               connect_as(j.sock, j.addr.data(), static_cast<socklen_t>(j.addr.size()),
                          &giving_up_));
        lk.lock();
        // Closed under the lock: the destructor's shutdown never meets a number reused.
        connecting_.erase(j.sock);
        if (stop_) cv_.notify_all();  // the destructor waits for connecting_ to empty
        ::close(j.sock);
        if (j.inode >= 0) ::close(j.inode);
    }
}

bool ConnectGate::dispatch(Job& j) {
    std::unique_lock<std::mutex> lk(mu_);
    const bool spawn = idle_ <= jobs_.size();  // every idle worker has a job waiting already
    if (spawn && workers_.size() >= kMaxWorkers) return false;
    jobs_.push_back(j);
    if (spawn) {
        handle_wake_signal();
        try {
            workers_.emplace_back([this] { work(); });
        } catch (const std::system_error&) {
            jobs_.pop_back();
            return false;
        }
    }
    lk.unlock();
    cv_.notify_one();
    return true;
}

int ConnectGate::take_socket(std::uint32_t tid, int fd) {
    // A kept pidfd that still names a live task names the caller: that task has number `tid`
    // now (a task's number is its struct pid's, and a pidfd holds the struct pid), and so has
    // the caller, whose notification is checked after this (still_valid). If its task is gone
    // (ESRCH), `tid` may be another task's by now: opened afresh.
    if (const auto it = pidfds_.find(tid); it != pidfds_.end()) {
        const int s = static_cast<int>(::syscall(SYS_pidfd_getfd, it->second, fd, 0));
        if (s >= 0 || errno != ESRCH) return s;
        ::close(it->second);
        pidfds_.erase(it);
    }
    bool keep = false;
    sys::unique_fd pidfd(open_pidfd(tid, keep));
    if (!pidfd) return -1;
    const int s = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0));
    const int err = errno;
    if (keep) {
        if (pidfds_.size() >= kMaxPidfds) {
            for (const auto& [t, p] : pidfds_) ::close(p);
            pidfds_.clear();
        }
        pidfds_.emplace(tid, pidfd.release());
    }
    errno = err;
    return s;
}

int ConnectGate::capture(int sock, const InetTarget& t, struct sockaddr_storage& to,
                         socklen_t& to_len, Refusal& r) {
    // The name the tool meant, when it dialled an address our DNS handed out.
    std::string host = t.literal;
    if (t.v4 && net::dns::SyntheticNames::in_range(*t.v4)) {
        const auto name = capture_->name_of(*t.v4);
        if (!name) {
            // In the range, but never handed out: nobody inside was told of it.
            r.err = ENETUNREACH;
            r.why = "a synthetic address (198.18.0.0/15) that the sandbox's DNS never gave out";
            return r.err;
        }
        host = *name;
    }
    const std::string key = host + ":" + std::to_string(t.port);
    const policy::Decision d = policy::decide_connect(capture_->net(), key);
    if (d.verdict == policy::Verdict::deny || capture_->proxy() == nullptr) {
        // Refused here, before anything connects, as a host that refuses would: the proxy
        // would decide the same (the same function, the same plan).
        r.err = ECONNREFUSED;
        r.decision = {{"op", "connect"},
                      {"target", key},
                      {"verdict", "deny"},
                      {"rule", d.rule},
                      {"source", d.source.str()},
                      {"captured", t.literal + ":" + std::to_string(t.port)}};
        if (capture_->proxy() == nullptr) r.decision[3].second = "the proxy is not running";
        return r.err;
    }
    // The client's port says to the proxy which connection this is, so the socket gets one
    // now (as connect would give it) if the caller bound none.
    struct sockaddr_storage local {};
    socklen_t ll = sizeof local;
    if (::getsockname(sock, reinterpret_cast<struct sockaddr*>(&local), &ll) < 0) return errno;
    auto port_of = [&]() -> std::uint16_t {
        return local.ss_family == AF_INET
                   ? ntohs(reinterpret_cast<struct sockaddr_in*>(&local)->sin_port)
                   : ntohs(reinterpret_cast<struct sockaddr_in6*>(&local)->sin6_port);
    };
    const std::uint16_t proxy_port = capture_->net().proxy_port;
    to = {};
    if (t.v6) {
        auto* a6 = reinterpret_cast<struct sockaddr_in6*>(&to);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(proxy_port);
        // ::ffff:127.0.0.1 — the listener is IPv4; a v6-only socket cannot reach it.
        a6->sin6_addr.s6_addr[10] = a6->sin6_addr.s6_addr[11] = 0xff;
        a6->sin6_addr.s6_addr[12] = 127;
        a6->sin6_addr.s6_addr[15] = 1;
        to_len = sizeof *a6;
    } else {
        auto* a4 = reinterpret_cast<struct sockaddr_in*>(&to);
        a4->sin_family = AF_INET;
        a4->sin_port = htons(proxy_port);
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to_len = sizeof *a4;
    }
    if (port_of() == 0) {
        struct sockaddr_storage any = to;
        if (t.v6) reinterpret_cast<struct sockaddr_in6*>(&any)->sin6_port = 0;
        else reinterpret_cast<struct sockaddr_in*>(&any)->sin_port = 0;
        if (::bind(sock, reinterpret_cast<struct sockaddr*>(&any), to_len) < 0)
            return errno == EAFNOSUPPORT || errno == EINVAL ? ENETUNREACH : errno;
        ll = sizeof local;
        if (::getsockname(sock, reinterpret_cast<struct sockaddr*>(&local), &ll) < 0) return errno;
    }
    capture_->proxy()->expect_capture(
        port_of(), net::Captured{host, t.port, t.literal + ":" + std::to_string(t.port)});
    return 0;
}

ConnectGate::Refusal ConnectGate::handle(int listener, const struct seccomp_notif& req) {
    const std::uint64_t id = req.id;
    const std::uint32_t pid = req.pid;
    const int fd = static_cast<int>(req.data.args[0]);
    const std::uint64_t addr_ptr = req.data.args[1];
    // The kernel reads addrlen as an int and refuses more than a sockaddr_storage.
    const int len = static_cast<int>(req.data.args[2]);
    if (len < 0 || static_cast<std::size_t>(len) > kMaxAddr) {
        answer(listener, id, EINVAL);
        return {};
    }

    // The caller's address bytes and its socket are taken first, then the notification is
    // checked: still pending means `pid` was the caller through both (it holds that number
    // until it is reaped, and it is still waiting for us). Both are read once: what is
    // decided below is what is connected, whatever another thread rewrites meanwhile.
    std::uint8_t addr[kMaxAddr] = {};
    const int read_err =
        len > 0 ? read_caller(pid, addr_ptr, addr, static_cast<std::size_t>(len)) : 0;
    sys::unique_fd sock(read_err == 0 ? take_socket(pid, fd) : -1);
    const int sock_err = errno;
    if (!still_valid(listener, id)) return {};
    if (read_err == EFAULT) {
        answer(listener, id, EFAULT);
        return {};
    }
    if (read_err != 0 || (!sock && sock_err != EBADF)) {
        // Not ours to inspect (it should always be): refused rather than connected unchecked.
        return {EACCES, "",
                std::string("cannot inspect the caller: ") + std::strerror(read_err ? read_err : sock_err),
                {}};
    }
    if (!sock) {
        answer(listener, id, EBADF);
        return {};
    }
    int domain = 0;
    socklen_t dl = sizeof domain;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) {
        answer(listener, id, errno);  // ENOTSOCK, EBADF (O_PATH): the kernel's own answers
        return {};
    }
    const int flags = ::fcntl(sock.get(), F_GETFL);
    const bool blocking = !(flags >= 0 && (flags & O_NONBLOCK));
    // The type, where it matters: a captured connect is TCP's, and only a stream socket's
    // blocking connect can wait.
    int type = 0;
    socklen_t tl = sizeof type;
    if ((blocking || (capture_ && (domain == AF_INET || domain == AF_INET6))) &&
        ::getsockopt(sock.get(), SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        type = 0;

    // What to connect to: the caller's bytes as they were read, the checked inode, or the
    // proxy listener for a captured connect.
    const void* target = addr;
    socklen_t target_len = static_cast<socklen_t>(len);
    struct sockaddr_storage proxy_addr {};
    if (capture_ && (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM) {
        const InetTarget t = inet_target(addr, static_cast<std::size_t>(len), domain);
        if (t.valid && !t.loopback) {
            Refusal r;
            const int err = capture(sock.get(), t, proxy_addr, target_len, r);
            if (err != 0) {
                if (r.err == 0) answer(listener, id, err);  // not a decision: not logged
                return r;
            }
            target = &proxy_addr;
        }
    }
    struct sockaddr_un via {};
    sys::unique_fd inode;
    const sys::UnixAddr ua = domain == AF_UNIX
                                 ? sys::parse_unix_addr(addr, static_cast<std::size_t>(len))
                                 : sys::UnixAddr{};
    if (ua.kind == sys::UnixAddr::abstract && refuse_abstract_)
        return {EPERM, "@(abstract)",
                "an abstract socket with the host's network: Landlock's scope would not hold", {}};
    if (ua.kind == sys::UnixAddr::pathname) {
        // Only a path needs the caller's root, cwd and mount table; checked again as above.
        sys::unique_fd root(open_proc(pid, "root", O_PATH | O_DIRECTORY));
        sys::unique_fd cwd(open_proc(pid, "cwd", O_PATH | O_DIRECTORY));
        // Its mount table, kept by mount namespace: opened (here, before the check, like the
        // root and cwd) only for a namespace not seen before.
        struct stat ns {};
        std::pair<dev_t, ino_t> ns_id{};
        Mounts* theirs = nullptr;
        sys::unique_fd mountinfo;
        if (::stat(proc_path(pid, "ns/mnt").c_str(), &ns) == 0) {
            ns_id = {ns.st_dev, ns.st_ino};
            if (const auto it = mounts_.find(ns_id); it != mounts_.end()) theirs = &it->second;
            else mountinfo.reset(open_proc(pid, "mountinfo", O_RDONLY));
        }
        if (!still_valid(listener, id)) return {};
        if (!root || !cwd || (!theirs && !mountinfo))
            return {EACCES, ua.path, std::string("cannot inspect the caller: ") + std::strerror(errno), {}};
        if (!theirs) {
            // The open file holds its namespace, so the namespace's number stays its own
            // while kept; bounded, emptied when full.
            if (mounts_.size() >= kMaxMountNs) mounts_.clear();
            theirs = &mounts_[ns_id];
            theirs->fd = std::move(mountinfo);
        }
        // As the kernel resolves it: from the caller's root, or its working directory. A
        // relative path may not climb out of the working directory (openat2 takes one of the
        // caller's root and cwd, not both, so where its ".." leads is not ours to tell):
        // refused, said so.
        const bool absolute = ua.path[0] == '/';
        const int p = sys_openat2(absolute ? root.get() : cwd.get(), ua.path.c_str(),
                                  O_PATH | O_CLOEXEC,
                                  (absolute ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) |
                                      RESOLVE_NO_MAGICLINKS);
        if (p < 0) {
            const int err = errno;
            if (err == EXDEV)
                return {EACCES, ua.path, "a relative socket path that leaves the working directory", {}};
            answer(listener, id, err);
            return {};
        }
        inode.reset(p);
        struct stat ps {};
        if (::fstat(inode.get(), &ps) < 0 || !S_ISSOCK(ps.st_mode)) {
            answer(listener, id, ECONNREFUSED);  // the kernel's answer for a non-socket
            return {};
        }
        // The sandbox's own: the filesystem holding it is mounted nowhere in our (the
        // host's) mount namespace. The sandbox cannot mount, so this is the kernel's word.
        bool own = false;
        struct statx sx {};
        if (::statx(inode.get(), "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) == 0 &&
            (sx.stx_mask & STATX_MNT_ID)) {
            // Read after the statx: a mount the inode is on is in the tables they give.
            theirs->refresh();
            if (!own_mounts_.fd) own_mounts_.fd.reset(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
            if (own_mounts_.fd) own_mounts_.refresh();
            const auto dev = theirs->dev_of.find(sx.stx_mnt_id);
            // Our table unread would make every filesystem look mounted nowhere here.
            own = dev != theirs->dev_of.end() && own_mounts_.read &&
                  std::none_of(own_mounts_.dev_of.begin(), own_mounts_.dev_of.end(),
                               [&](const auto& m) { return m.second == dev->second; });
        }
        // Named: the socket file a write grant names, as it was before the command ran.
        const bool named = std::find(named_.begin(), named_.end(),
                                     std::make_pair(ps.st_dev, ps.st_ino)) != named_.end();
        if (!own && !named)
            return {EACCES, ua.path,
                    "a host socket that no write grant names (a grant of a directory does not "
                    "extend to the sockets in it)", {}};
        via.sun_family = AF_UNIX;
        std::snprintf(via.sun_path, sizeof via.sun_path, "/proc/self/fd/%d", inode.get());
        target = &via;
        target_len = static_cast<socklen_t>(sizeof via);
    }

    // A blocking stream socket's connect may wait (a full backlog, a slow host): made by a
    // worker, so the supervisor's loop never waits for the sandbox. A datagram or raw
    // socket's connect only sets its peer, and a non-blocking one returns EINPROGRESS: here.
    const bool may_wait = blocking && type != SOCK_DGRAM && type != SOCK_RAW;
    if (!may_wait) {
        answer(listener, id, connect_as(sock.get(), target, target_len, nullptr));
        return {};
    }
    if (listener_ < 0) listener_ = ::fcntl(listener, F_DUPFD_CLOEXEC, 0);
    Job j{id, sock.get(), inode.get(),
          std::vector<std::uint8_t>(static_cast<const std::uint8_t*>(target),
                                    static_cast<const std::uint8_t*>(target) + target_len)};
    if (listener_ < 0 || !dispatch(j)) {
        answer(listener, id, EAGAIN);
        return {};
    }
    // The worker owns them now.
    (void)sock.release();
    (void)inode.release();
    return {};
}

}  // namespace agentbox::sandbox::lnx
