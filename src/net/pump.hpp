// Pump: moves a byte stream from one non-blocking socket to another -- a body of known length,
// or everything up to EOF (a tunnel's half, a body that ends with its connection) -- without
// waiting itself: step() moves what it can and says what to wait for, the caller waits (the
// proxy's asio loop, a test's poll) and steps again.
//
// IoKind::native (Linux) moves the bytes through a pipe with splice(2): they are never copied
// into this process. IoKind::portable reads them into a bounded buffer and writes them on,
// keeping what a short write left for the next step; the buffer exists only while bytes are
// in flight, so an idle stream holds none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/portable.hpp"
#include "sys/fd.hpp"

namespace agentbox::net {

class Pump {
public:
    // The most held between the two sockets at once (the pipe's size, or the buffer's).
    static constexpr std::size_t kChunk = 256 * 1024;

    // With `limit`, exactly that many bytes (EOF before that is an error); with 0, until EOF,
    // after which `to` is shut down for writing so the far end sees the half-close. The
    // sockets stay the caller's.
    Pump(IoKind kind, int from, int to, std::uint64_t limit);  // throws sys::SysError
    ~Pump();
    Pump(const Pump&) = delete;
    Pump& operator=(const Pump&) = delete;

    enum class Wait {
        read,   // `from` has nothing yet
        write,  // `to` takes nothing more yet
        done,   // everything moved (and, at EOF, `to` shut down for writing)
    };
    // Moves as much as moves without blocking; `delivered` grows by each byte that left through
    // `to` (the idle watchdog and net.close count what was delivered, not what is in flight).
    // Throws std::system_error for a socket error, std::runtime_error for EOF inside a limit.
    Wait step(std::uint64_t& delivered);

private:
    // One attempt each way: >0 bytes moved, 0 EOF (fill only), -1 with errno.
    long fill(std::size_t want);
    long flush();

    IoKind kind_;
    int from_, to_;
    std::uint64_t limit_, left_;
    bool eof_ = false;
    std::size_t held_ = 0;  // bytes read from `from` and not yet written to `to`
    sys::unique_fd pipe_r_, pipe_w_;       // native
    std::unique_ptr<char[]> buf_;          // portable: [off_, off_ + held_) is held
    std::size_t off_ = 0;
};

}  // namespace agentbox::net
