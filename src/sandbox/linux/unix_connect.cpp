#include "sandbox/linux/unix_connect.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
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

int open_proc(std::uint32_t pid, const char* what, int flags) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/%s", pid, what);
    return ::open(path, flags | O_CLOEXEC);
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

// The "major:minor" of mount `mnt_id` in a mountinfo text (field 3), or "".
std::string mount_dev(const std::string& mountinfo, std::uint64_t mnt_id) {
    std::istringstream in(mountinfo);
    std::string line;
    const std::string id = std::to_string(mnt_id);
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string mid, parent, dev;
        if (f >> mid >> parent >> dev && mid == id) return dev;
    }
    return {};
}

bool has_dev(const std::string& mountinfo, const std::string& dev) {
    std::istringstream in(mountinfo);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string mid, parent, d;
        if (f >> mid >> parent >> d && d == dev) return true;
    }
    return false;
}

// A pidfd for the calling thread (req.pid is a thread id: connect is often called from a
// thread that is not the leader). PIDFD_THREAD (Linux 6.9) takes any thread, and
// pidfd_getfd then reads that thread's descriptor table; before it, the thread group's
// leader, whose table the threads share unless one unshared it.
int open_pidfd(std::uint32_t tid) {
    constexpr unsigned kPidfdThread = O_EXCL;
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, kPidfdThread));
    if (fd >= 0 || errno != EINVAL) return fd;
    fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, 0));
    if (fd >= 0 || errno != EINVAL) return fd;
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

// The connect itself, on our copy of the caller's socket: 0 or an errno.
int connect_as(int sock, const void* addr, socklen_t len) {
    int r;
    do r = ::connect(sock, static_cast<const struct sockaddr*>(addr), len);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

}  // namespace

ConnectGate::ConnectGate(const policy::Plan& plan) {
    for (const auto& m : plan.mounts)
        if (m.kind == policy::MountKind::bind_rw) named_sources_.push_back(m.source);
    // With the host's network namespace, abstract names are the host's, and Landlock's scope
    // keeps the command from them only when the command connects itself; a connect the
    // supervisor makes is not scoped. Refused, then, rather than let through unscoped.
    refuse_abstract_ =
        plan.net.mode == profile::NetMode::host && plan.landlock.scope_abstract_unix;
}

ConnectGate::~ConnectGate() {
    for (auto& w : workers_) {
        if (!w.finished->load()) ::shutdown(w.sock, SHUT_RDWR);
        if (w.thread.joinable()) w.thread.join();
        ::close(w.sock);
    }
}

void ConnectGate::reap() {
    std::erase_if(workers_, [](Worker& w) {
        if (!w.finished->load()) return false;
        w.thread.join();
        ::close(w.sock);
        return true;
    });
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
    reap();
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

    // Everything from /proc/PID is opened first, then the notification is checked: still
    // pending means PID was the caller when they were opened.
    sys::unique_fd mem(open_proc(pid, "mem", O_RDONLY));
    sys::unique_fd pidfd(open_pidfd(pid));
    if (!still_valid(listener, id)) return {};
    if (!mem || !pidfd) {
        // Not ours to inspect (it should always be): refuse rather than connect unchecked.
        const int err = errno;
        answer(listener, id, EACCES);
        return {EACCES, "", std::string("cannot inspect the caller: ") + std::strerror(err), {}};
    }

    std::uint8_t addr[kMaxAddr] = {};
    if (len > 0 && ::pread(mem.get(), addr, static_cast<std::size_t>(len),
                           static_cast<off_t>(addr_ptr)) != len) {
        answer(listener, id, EFAULT);
        return {};
    }
    sys::unique_fd sock(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    if (!sock) {
        answer(listener, id, errno == EBADF ? EBADF : EACCES);
        return {};
    }
    struct stat st {};
    if (::fstat(sock.get(), &st) < 0 || !S_ISSOCK(st.st_mode)) {
        answer(listener, id, ENOTSOCK);
        return {};
    }
    int domain = 0;
    socklen_t dl = sizeof domain;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) domain = -1;

    // What to connect to: the caller's bytes as they were read, the checked inode, or the
    // proxy listener for a captured connect.
    const void* target = addr;
    socklen_t target_len = static_cast<socklen_t>(len);
    struct sockaddr_storage proxy_addr {};
    int type = 0;
    socklen_t tl = sizeof type;
    if (capture_ && (domain == AF_INET || domain == AF_INET6) &&
        ::getsockopt(sock.get(), SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
        const InetTarget t = inet_target(addr, static_cast<std::size_t>(len), domain);
        if (t.valid && !t.loopback) {
            Refusal r;
            const int err = capture(sock.get(), t, proxy_addr, target_len, r);
            if (err != 0) {
                answer(listener, id, err);
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
    if (ua.kind == sys::UnixAddr::abstract && refuse_abstract_) {
        answer(listener, id, EPERM);
        return {EPERM, "@(abstract)",
                "an abstract socket with the host's network: Landlock's scope would not hold", {}};
    }
    if (ua.kind == sys::UnixAddr::pathname) {
        // Only a path needs the caller's root, cwd and mount table; checked again as above.
        sys::unique_fd root(open_proc(pid, "root", O_PATH | O_DIRECTORY));
        sys::unique_fd cwd(open_proc(pid, "cwd", O_PATH | O_DIRECTORY));
        sys::unique_fd mountinfo(open_proc(pid, "mountinfo", O_RDONLY));
        if (!still_valid(listener, id)) return {};
        if (!root || !cwd || !mountinfo) {
            const int err = errno;
            answer(listener, id, EACCES);
            return {EACCES, ua.path, std::string("cannot inspect the caller: ") + std::strerror(err), {}};
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
            if (err == EXDEV) {
                answer(listener, id, EACCES);
                return {EACCES, ua.path, "a relative socket path that leaves the working directory", {}};
            }
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
            const std::string dev = mount_dev(read_all(mountinfo.get()), sx.stx_mnt_id);
            sys::unique_fd self(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
            own = !dev.empty() && self && !has_dev(read_all(self.get()), dev);
        }
        // Named: a write grant of this very socket file (its host path, stat'ed now).
        bool named = false;
        for (const auto& src : named_sources_) {
            struct stat hs {};
            if (::stat(src.c_str(), &hs) == 0 && S_ISSOCK(hs.st_mode) && hs.st_dev == ps.st_dev &&
                hs.st_ino == ps.st_ino)
                named = true;
        }
        if (!own && !named) {
            answer(listener, id, EACCES);
            return {EACCES, ua.path,
                    "a host socket that no write grant names (a grant of a directory does not "
                    "extend to the sockets in it)", {}};
        }
        via.sun_family = AF_UNIX;
        std::snprintf(via.sun_path, sizeof via.sun_path, "/proc/self/fd/%d", inode.get());
        target = &via;
        target_len = static_cast<socklen_t>(sizeof via);
    }

    // A blocking socket's connect may wait (a full backlog, a slow host): on a thread of its
    // own, so the supervisor's loop never waits for the sandbox.
    const int flags = ::fcntl(sock.get(), F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) {
        answer(listener, id, connect_as(sock.get(), target, target_len));
        return {};
    }
    if (workers_.size() >= kMaxWorkers) {
        answer(listener, id, EAGAIN);
        return {};
    }
    auto finished = std::make_shared<std::atomic<bool>>(false);
    const int s = sock.release();
    std::vector<std::uint8_t> bytes(static_cast<const std::uint8_t*>(target),
                                    static_cast<const std::uint8_t*>(target) + target_len);
    const int ino = inode.release();
    const int lst = ::fcntl(listener, F_DUPFD_CLOEXEC, 0);
    if (lst < 0) {
        if (ino >= 0) ::close(ino);
        ::close(s);
        answer(listener, id, EAGAIN);
        return {};
    }
    try {
        std::thread t([s, ino, lst, id, bytes = std::move(bytes), finished] {
            answer(lst, id, connect_as(s, bytes.data(), static_cast<socklen_t>(bytes.size())));
            if (ino >= 0) ::close(ino);
            ::close(lst);
            finished->store(true);
        });
        workers_.push_back(Worker{std::move(t), std::move(finished), s});
    } catch (const std::system_error&) {
        if (ino >= 0) ::close(ino);
        ::close(lst);
        ::close(s);
        answer(listener, id, EAGAIN);
    }
    return {};
}

}  // namespace agentbox::sandbox::lnx
