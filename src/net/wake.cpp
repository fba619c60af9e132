#include "net/wake.hpp"

#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <cstdint>

#include "sys/error.hpp"

namespace agentbox::net {

Wakeup::Wakeup(IoKind kind) {
#ifdef __linux__
    if (kind == IoKind::native) {
        r_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!r_) throw sys::SysError("eventfd", errno);
        return;
    }
#endif
    (void)kind;
    int p[2];
    if (!open_pipe(p, true)) throw sys::SysError("pipe", errno);
    r_.reset(p[0]);
    w_.reset(p[1]);
}

void Wakeup::signal() noexcept {
    if (w_) {
        // A full pipe is already readable: the byte that did not fit is not needed.
        const char one = 1;
        [[maybe_unused]] ssize_t n = ::write(w_.get(), &one, 1);
        return;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(r_.get(), &one, sizeof one);
}

void Wakeup::drain() noexcept {
    if (w_) {
        char buf[256];
        while (::read(r_.get(), buf, sizeof buf) > 0) {
        }
        return;
    }
    std::uint64_t n;
    [[maybe_unused]] ssize_t r = ::read(r_.get(), &n, sizeof n);
}

}  // namespace agentbox::net
