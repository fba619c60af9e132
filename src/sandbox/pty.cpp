#include "sandbox/pty.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys/error.hpp"

namespace agentbox::sandbox {

HostPty open_pty() {
    HostPty p;
    // O_NOCTTY: the pty must not become agentbox's own controlling terminal.
    p.master.reset(::posix_openpt(O_RDWR | O_NOCTTY));
    if (!p.master) throw sys::SysError("posix_openpt", errno);
    if (::fcntl(p.master.get(), F_SETFD, FD_CLOEXEC) < 0)
        throw sys::SysError("fcntl(FD_CLOEXEC)", "pty master", errno);
    if (::grantpt(p.master.get()) < 0) throw sys::SysError("grantpt", errno);
    if (::unlockpt(p.master.get()) < 0) throw sys::SysError("unlockpt", errno);
    // ptsname's buffer is static; no other thread of agentbox opens ptys.
    const char* name = ::ptsname(p.master.get());
    if (name == nullptr) throw sys::SysError("ptsname", errno);
    p.slave = name;
    return p;
}

void copy_winsize(int from, int to) {
    struct winsize ws {};
    if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

RawMode::RawMode(int fd) : fd_(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) < 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd, TCSADRAIN, &raw) < 0) throw sys::SysError("tcsetattr", "stdin", errno);
    active_ = was_raw_ = true;
}

RawMode::~RawMode() { restore(); }

void RawMode::restore() {
    if (active_) ::tcsetattr(fd_, TCSADRAIN, &saved_);
    active_ = false;
}

void RawMode::reapply() {
    if (!was_raw_ || active_) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd_, TCSADRAIN, &raw) == 0) active_ = true;
}

long ByteQueue::fill(int fd) {
    ssize_t n = ::read(fd, buf_ + len_, kCapacity - len_);
    if (n > 0) len_ += static_cast<std::size_t>(n);
    return n;
}

long ByteQueue::drain(int fd, std::size_t max) {
    ssize_t n = ::write(fd, buf_, len_ < max ? len_ : max);
    if (n > 0) {
        std::size_t k = static_cast<std::size_t>(n);
        std::memmove(buf_, buf_ + k, len_ - k);
        len_ -= k;
    }
    return n;
}

void PtyRelay::take_master(int fd) {
    if (master_) {
        ::close(fd);
        return;
    }
    master_.reset(fd);
    copy_winsize(in_, master_.get());
    master_open_ = true;
}

void PtyRelay::resize() const {
    if (master_) copy_winsize(in_, master_.get());
}

void PtyRelay::want(struct pollfd& master, struct pollfd& in, struct pollfd& out,
                    bool paused) const {
    if (master_open_) {
        short ev = 0;
        if (!from_pty_.full()) ev |= POLLIN;
        if (!to_pty_.empty()) ev |= POLLOUT;
        master = {master_.get(), ev, 0};
    }
    if (in_open_ && !to_pty_.full() && !paused) in = {in_, POLLIN, 0};
    if (on_ && !from_pty_.empty() && !paused) out = {out_, POLLOUT, 0};
}

void PtyRelay::on_ready(const struct pollfd& master, const struct pollfd& in,
                        const struct pollfd& out) {
    if (master.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (from_pty_.fill(master_.get()) <= 0 && errno != EAGAIN && errno != EINTR)
            master_open_ = false;  // EIO: every slave fd is closed
    }
    if ((master.revents & POLLOUT) && to_pty_.drain(master_.get(), PIPE_BUF) < 0 &&
        errno != EAGAIN)
        master_open_ = false;
    if (in.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (to_pty_.fill(in_) <= 0 && errno != EAGAIN && errno != EINTR) in_open_ = false;
    }
    if ((out.revents & (POLLOUT | POLLERR | POLLHUP)) && from_pty_.drain(out_, PIPE_BUF) < 0 &&
        errno != EAGAIN)
        from_pty_ = {};  // the user's side is gone: drop output instead of blocking
}

void PtyRelay::flush() {
    if (!on_) return;
    while (master_open_) {
        while (!from_pty_.empty())
            if (from_pty_.drain(out_) < 0 && errno != EINTR) from_pty_ = {};
        if (from_pty_.fill(master_.get()) <= 0) master_open_ = false;
    }
    while (!from_pty_.empty())
        if (from_pty_.drain(out_) < 0 && errno != EINTR) from_pty_ = {};
}

}  // namespace agentbox::sandbox
