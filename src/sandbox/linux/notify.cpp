#include "sandbox/linux/notify.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "util/strings.hpp"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif

namespace agentbox::sandbox::lnx {

namespace {
constexpr unsigned long kSyncWakeUp = 1;  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP

// The name of the process that made the call (it is blocked in it, so it is still there),
// for the log. Chosen by the process itself, so it is data, never trusted or printed raw.
std::string comm_of(std::uint32_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/comm", pid);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    char buf[32];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n <= 0) return {};
    std::string s(buf, static_cast<std::size_t>(n));
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// Which arguments of a denied syscall are numbers, flags or descriptors (bit i = argument i),
// and so can be logged as they are. The others are addresses: what they point to is the
// process's data (a path, a key payload, the byte TIOCSTI would inject) and is never read,
// and the address itself tells the reader nothing. A syscall not listed logs no arguments:
// without knowing its signature, any argument might be a pointer.
unsigned scalar_args(const std::string& name) {
    struct Sig {
        const char* name;
        unsigned mask;
    };
    static constexpr Sig kSigs[] = {
        {"mount", 1u << 3},  // flags
        {"umount2", 1u << 1},
        {"fsopen", 1u << 1},
        {"fsconfig", (1u << 0) | (1u << 1) | (1u << 4)},
        {"fsmount", 0x7},
        {"fspick", (1u << 0) | (1u << 2)},
        {"move_mount", (1u << 0) | (1u << 2) | (1u << 4)},
        {"open_tree", (1u << 0) | (1u << 2)},
        {"mount_setattr", (1u << 0) | (1u << 2) | (1u << 4)},
        {"unshare", 1u << 0},
        {"setns", 0x3},
        {"clone", 1u << 0},  // flags; the rest are addresses
        {"clone3", 1u << 1},  // the size of the struct, which itself is memory
        {"ptrace", 0x3},      // request, pid
        {"process_vm_readv", (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5)},
        {"process_vm_writev", (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5)},
        {"pidfd_getfd", 0x7},
        {"bpf", (1u << 0) | (1u << 2)},
        {"perf_event_open", 0x1e},
        {"userfaultfd", 1u << 0},
        {"io_uring_setup", 1u << 0},
        {"io_uring_enter", 0xf | (1u << 5)},
        {"io_uring_register", (1u << 0) | (1u << 1) | (1u << 3)},
        {"keyctl", 1u << 0},  // the operation; the others' meaning depends on it
        {"add_key", (1u << 3) | (1u << 4)},
        {"request_key", 1u << 3},
        {"kexec_load", (1u << 0) | (1u << 1) | (1u << 3)},
        {"kexec_file_load", 0x7 | (1u << 4)},
        {"init_module", 1u << 1},
        {"finit_module", (1u << 0) | (1u << 2)},
        {"delete_module", 1u << 1},
        {"open_by_handle_at", (1u << 0) | (1u << 2)},
        {"name_to_handle_at", (1u << 0) | (1u << 4)},
        {"personality", 1u << 0},
        {"ioctl", 0x3},  // fd, request; never the argument (TIOCSTI's is the injected byte)
        {"swapon", 1u << 1},
        {"reboot", 0x7},
        {"quotactl", (1u << 0) | (1u << 2)},
        {"quotactl_fd", 0x7},
        {"syslog", (1u << 0) | (1u << 2)},
        {"iopl", 1u << 0},
        {"ioperm", 0x7},
        {"socket", 0x7},
        {"connect", (1u << 0) | (1u << 2)},  // fd, addrlen; the address is memory
        {"kill", 0x3},
        {"tkill", 0x3},
        {"tgkill", 0x7},
        {"setuid", 1u << 0},
        {"setgid", 1u << 0},
        {"chmod", 1u << 1},
        {"fchmod", 0x3},
        {"fchmodat", (1u << 0) | (1u << 2)},
        {"prctl", 1u << 0},
        {"mprotect", (1u << 1) | (1u << 2)},
        {"memfd_create", 1u << 1},
    };
    for (const auto& s : kSigs)
        if (name == s.name) return s.mask;
    return 0;
}

// A NUL-terminated string at `addr` in process `pid`, at most PATH_MAX bytes; "" when it
// cannot be read. Read a page at a time: the string may end just before an unmapped page.
std::string read_string(std::uint32_t pid, std::uint64_t addr) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/mem", pid);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    constexpr std::uint64_t kPage = 4096;
    while (out.size() < 4096) {
        char buf[kPage];
        const std::uint64_t want = kPage - (addr % kPage);
        const ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(addr));
        if (n <= 0) break;
        const auto* end = static_cast<const char*>(std::memchr(buf, 0, static_cast<std::size_t>(n)));
        if (end) {
            out.append(buf, static_cast<std::size_t>(end - buf));
            ::close(fd);
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
        addr += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    return {};  // unterminated or unreadable
}

// Where a /proc/PID link points (cwd, fd/N), as the process sees it; "" when unknown.
std::string proc_link(std::uint32_t pid, const std::string& which) {
    char buf[4096];
    const std::string path = "/proc/" + std::to_string(pid) + "/" + which;
    const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n <= 0 || buf[0] != '/') return {};
    return std::string(buf, static_cast<std::size_t>(n));
}

const seccomp::Observed* observed_call(const std::string& name) {
    for (const auto& o : seccomp::observed())
        if (name == o.name) return &o;
    return nullptr;
}

std::string hex64(std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

std::string hex32(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
}
}  // namespace

Notifier::Notifier(const seccomp::RuleSet* rules, const EventSink& sink,
                   const policy::Plan* plan, SocketIds named)
    : rules_(rules),
      plan_(plan),
      sink_(sink),
      gate_(plan ? std::make_unique<ConnectGate>(*plan, std::move(named)) : nullptr),
      observe_(plan && plan->seccomp.observe_files) {
    // The kernel's structures may be larger than our headers' (newer kernel): ask it.
    struct seccomp_notif_sizes sizes {};
    std::size_t req = sizeof(struct seccomp_notif), resp = sizeof(struct seccomp_notif_resp);
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
        req = std::max<std::size_t>(req, sizes.seccomp_notif);
        resp = std::max<std::size_t>(resp, sizes.seccomp_notif_resp);
    }
    req_.resize(req);
    resp_.resize(resp);
}

const seccomp::RuleSet& Notifier::rules() {
    if (rules_ == nullptr) {
        if (plan_ == nullptr) throw std::logic_error("Notifier: neither rules nor a plan");
        own_rules_ = seccomp::rules_for(plan_->seccomp);  // the set the cached filter came from
        rules_ = &*own_rules_;
    }
    return *rules_;
}

bool Notifier::handle() {
    std::memset(req_.data(), 0, req_.size());  // NOTIF_RECV requires a zeroed buffer
    auto* req = reinterpret_cast<struct seccomp_notif*>(req_.data());
    if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
        // ENOENT: the caller died before we read it; EINTR: try again on the next poll.
        if (errno == ENOENT || errno == EINTR) return true;
        listener_.reset();
        return false;
    }
    std::string name = seccomp::syscall_name(req->data.nr);
    std::array<std::uint64_t, 6> args{};
    for (std::size_t i = 0; i < args.size(); ++i) args[i] = req->data.args[i];
    int err = EPERM;
    const seccomp::Action action = seccomp::evaluate(rules(), name, args, &err);
    if (action == seccomp::Action::notify && observe_) {
        if (const auto* o = observed_call(name)) {
            observe(*req, *o);
            return true;
        }
    }
    std::string comm;
    ConnectGate::Refusal refused;
    if (action == seccomp::Action::notify && name == "connect" && gate_) {
        // Not a denial: the gate answers, and only a refusal is logged -- answered here, once
        // the caller's name is read while it waits.
        refused = gate_->handle(listener_.get(), *req);
        if (refused.err == 0) return true;
        comm = sink_ ? comm_of(req->pid) : std::string();
        send(req->id, refused.err);
        if (!refused.decision.empty()) {
            // A captured connect the network rules refused: logged as the proxy logs one.
            if (sink_) {
                Event ev{"decision", std::move(refused.decision)};
                ev.fields.emplace_back("pid", std::to_string(req->pid));
                ev.fields.emplace_back("comm", comm);
                sink_(ev);
            }
            return true;
        }
        err = refused.err;
    } else {
        if (action != seccomp::Action::errno_) err = EPERM;
        // Read while the caller still waits for our answer; after it, it may be gone.
        comm = sink_ ? comm_of(req->pid) : std::string();
        send(req->id, err);
    }

    if (sink_) {
        Event ev{"syscall.denied",
                 {{"syscall", name},
                  {"nr", std::to_string(req->data.nr)},
                  {"pid", std::to_string(req->pid)},
                  {"comm", comm},
                  {"arch", hex32(req->data.arch)},
                  {"errno", std::to_string(err)}}};
        const unsigned scalars = scalar_args(name);
        for (std::size_t i = 0; i < args.size(); ++i)
            if (scalars & (1u << i)) ev.fields.emplace_back("arg" + std::to_string(i), hex64(args[i]));
        // The socket path is the sandbox's bytes: data for the reader, escaped by the log.
        if (!refused.socket.empty()) ev.fields.emplace_back("socket", refused.socket);
        if (!refused.why.empty()) ev.fields.emplace_back("why", refused.why);
        sink_(ev);
    }
    return true;
}

void Notifier::send(std::uint64_t id, int err) {
    std::memset(resp_.data(), 0, resp_.size());
    auto* resp = reinterpret_cast<struct seccomp_notif_resp*>(resp_.data());
    resp->id = id;
    resp->error = -err;
    // ENOENT: the caller was killed meanwhile; nothing to answer.
    ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp);
}

void Notifier::set_listener(int fd) {
    listener_.reset(fd);
    // The caller sleeps from its notification until our answer, so each side may run the
    // one it wakes on its own CPU, a direct switch (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
    // Linux 6.6); older kernels refuse the ioctl and wake as before.
    ::ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, kSyncWakeUp);
}

void Notifier::observe(const struct seccomp_notif& req, const seccomp::Observed& o) {
    // Read while the caller waits; the answer lets the call go on whatever we found.
    std::string path = read_string(req.pid, req.data.args[o.path_arg]);
    if (!path.empty() && path.front() != '/') {
        const int dirfd = o.dirfd_arg < 0 ? AT_FDCWD
                                          : static_cast<int>(static_cast<std::int32_t>(
                                                req.data.args[o.dirfd_arg]));
        const std::string base = dirfd == AT_FDCWD ? proc_link(req.pid, "cwd")
                                                   : proc_link(req.pid, "fd/" + std::to_string(dirfd));
        path = base.empty() ? std::string() : base + "/" + path;
    }
    std::string comm;
    if (!path.empty() && sink_) {
        path = util::normalize_path(path);
        if (observed_.insert((o.exec ? "x" : "r") + path).second) comm = comm_of(req.pid);
        else path.clear();
    }

    std::memset(resp_.data(), 0, resp_.size());
    auto* resp = reinterpret_cast<struct seccomp_notif_resp*>(resp_.data());
    resp->id = req.id;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp);

    // Data for the learner, not a decision: the path is the sandbox's bytes.
    if (!path.empty())
        sink_(Event{"learn.file", {{"op", o.exec ? "exec" : "read"}, {"path", path}, {"comm", comm}}});
}

}  // namespace agentbox::sandbox::lnx
