#include "sandbox/linux/notify.hpp"

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
                     {"arch", hex32(req->data.arch)},
                     {"errno", std::to_string(err)}}});
    return true;
}

}  // namespace agentbox::sandbox::lnx
