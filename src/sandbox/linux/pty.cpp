#include "sandbox/linux/pty.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys/error.hpp"

namespace agentbox::sandbox::lnx {

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

}  // namespace agentbox::sandbox::lnx
