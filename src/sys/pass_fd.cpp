#include "sys/pass_fd.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

namespace agentbox::sys {

namespace {

// Room for one descriptor: a message carrying more is cut short (MSG_CTRUNC) by the kernel,
// which never installs the ones that do not fit.
struct OneFd {
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct iovec iov {};
    struct msghdr msg {};
    OneFd(void* data, std::size_t len) : iov{data, len} {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
    }
};

}  // namespace

int send_fd(int sock, const void* data, std::size_t len, int fd) noexcept {
    OneFd m(const_cast<void*>(data), len);  // sendmsg only reads through msg_iov
    struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
#ifdef __linux__
    constexpr int kFlags = MSG_NOSIGNAL;
#else
    constexpr int kFlags = 0;  // macOS has no MSG_NOSIGNAL; only the Linux sandbox passes fds
#endif
    return ::sendmsg(sock, &m.msg, kFlags) < 0 ? -1 : 0;
}

ssize_t recv_fd(int sock, void* data, std::size_t len, int flags, int& fd) noexcept {
    fd = -1;
    OneFd m(data, len);
    const ssize_t n = ::recvmsg(sock, &m.msg, flags | MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg); c != nullptr; c = CMSG_NXTHDR(&m.msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len >= CMSG_LEN(sizeof(int)))
            std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return n;
}

}  // namespace agentbox::sys
