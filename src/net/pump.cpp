#include "net/pump.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "sys/error.hpp"

namespace agentbox::net {

namespace {

// The portable buffer: a quarter of the pipe's size keeps a 500-download run's memory small
// while each read and write still moves tens of kilobytes.
constexpr std::size_t kBuffer = 64 * 1024;

}  // namespace

Pump::Pump(IoKind kind, int from, int to, std::uint64_t limit)
    : kind_(kind), from_(from), to_(to), limit_(limit), left_(limit) {
#ifdef __linux__
    if (kind_ == IoKind::native) {
        int p[2];
        if (!open_pipe(p, true)) throw sys::SysError("pipe2", errno);
        pipe_r_.reset(p[0]);
        pipe_w_.reset(p[1]);
        // A larger pipe moves more per splice call; failure only costs speed.
        ::fcntl(p[1], F_SETPIPE_SZ, static_cast<int>(kChunk));
        return;
    }
#else
    kind_ = IoKind::portable;
#endif
    no_sigpipe(to_);
}

Pump::~Pump() = default;

long Pump::fill(std::size_t want) {
#ifdef __linux__
    if (kind_ == IoKind::native)
        return ::splice(from_, nullptr, pipe_w_.get(), nullptr, want,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
#endif
    if (!buf_) buf_ = std::make_unique<char[]>(kBuffer);
    if (held_ == 0) off_ = 0;
    const std::size_t end = off_ + held_;
    if (end >= kBuffer) {  // the tail is full: the next flush makes room
        errno = EAGAIN;
        return -1;
    }
    if (want > kBuffer - end) want = kBuffer - end;
    return ::recv(from_, buf_.get() + end, want, 0);
}

long Pump::flush() {
#ifdef __linux__
    if (kind_ == IoKind::native)
        return ::splice(pipe_r_.get(), nullptr, to_, nullptr, held_,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
#endif
    const long m = ::send(to_, buf_.get() + off_, held_, kSendFlags);
    if (m > 0) off_ += static_cast<std::size_t>(m);
    return m;
}

Pump::Wait Pump::step(std::uint64_t& delivered) {
    const bool native = kind_ == IoKind::native;
    const std::size_t cap = native ? kChunk : kBuffer;
    for (;;) {
        bool moved = false, read_blocked = false, write_blocked = false;
        if (!eof_ && (limit_ == 0 || left_ > 0) && held_ < cap) {
            std::size_t want = cap - held_;
            if (limit_ != 0 && left_ < want) want = static_cast<std::size_t>(left_);
            const long n = fill(want);
            if (n > 0) {
                held_ += static_cast<std::size_t>(n);
                if (limit_ != 0) left_ -= static_cast<std::uint64_t>(n);
                moved = true;
            } else if (n == 0) {
                if (limit_ != 0) throw std::runtime_error("connection closed inside a body");
                eof_ = true;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                read_blocked = true;
            } else if (errno != EINTR) {
                throw std::system_error(errno, std::generic_category(),
                                        native ? "splice(read)" : "recv");
            }
        }
        if (held_ > 0) {
            const long m = flush();
            if (m > 0) {
                held_ -= static_cast<std::size_t>(m);
                delivered += static_cast<std::uint64_t>(m);
                moved = true;
            } else if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                write_blocked = true;
            } else if (m < 0 && errno != EINTR) {
                throw std::system_error(errno, std::generic_category(),
                                        native ? "splice(write)" : "send");
            }
        }
        if (held_ == 0 && (eof_ || (limit_ != 0 && left_ == 0))) {
            if (eof_) ::shutdown(to_, SHUT_WR);
            buf_.reset();
            return Wait::done;
        }
        if (moved) continue;
        // Nothing moved: wait for the side that holds things up. A writer that cannot take
        // more comes first (the reader's kernel buffer keeps filling meanwhile, and what is
        // held here is bounded); otherwise nothing is held and the reader is waited for.
        if (write_blocked) return Wait::write;
        if (read_blocked) {
            // Nothing in flight: an idle stream holds no buffer.
            if (held_ == 0) buf_.reset();
            return Wait::read;
        }
    }
}

}  // namespace agentbox::net
