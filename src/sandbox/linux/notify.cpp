#include "sandbox/linux/notify.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <cstdio>

namespace agentbox::sandbox::lnx {

namespace {
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

std::string hex32(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
}
}  // namespace

Notifier::Notifier(const seccomp::RuleSet& rules, const EventSink& sink)
    : rules_(rules), sink_(sink) {
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
    if (seccomp::evaluate(rules_, name, args, &err) != seccomp::Action::errno_) err = EPERM;

    // Read while the caller still waits for our answer; after it, it may be gone.
    const std::string comm = sink_ ? comm_of(req->pid) : std::string();

    std::memset(resp_.data(), 0, resp_.size());
    auto* resp = reinterpret_cast<struct seccomp_notif_resp*>(resp_.data());
    resp->id = req->id;
    resp->error = -err;
    // ENOENT: the caller was killed meanwhile; nothing to answer.
    ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp);

    if (sink_)
        sink_(Event{"syscall.denied",
                    {{"syscall", name},
                     {"nr", std::to_string(req->data.nr)},
                     {"pid", std::to_string(req->pid)},
                     {"comm", comm},
                     {"arch", hex32(req->data.arch)},
                     {"errno", std::to_string(err)}}});
    return true;
}

}  // namespace agentbox::sandbox::lnx
