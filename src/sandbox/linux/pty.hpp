// The terminal side of a run with Io::tty (supervisor only): the user's terminal in raw mode
// for the duration (restored by the destructor on every exit path), and a bounded relay to the
// pty master that the command opened in the sandbox's own devpts (command.cpp).
#pragma once

#include <termios.h>

#include <cstddef>
#include <string>

#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

// Copies the window size of `from` (the user's terminal) to `to` (the pty master).
void copy_winsize(int from, int to);

// Puts `fd` in raw mode if it is a terminal, and restores its settings when destroyed.
class RawMode {
public:
    explicit RawMode(int fd);
    ~RawMode();
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;
    void restore();
    // Raw again after restore(), e.g. once a prompt on the terminal is answered. Only a
    // RawMode that was raw before goes back; does nothing otherwise.
    void reapply();

private:
    int fd_ = -1;
    bool active_ = false;
    bool was_raw_ = false;
    struct termios saved_ {};
};

// A fixed-capacity byte queue: a side whose queue is full is simply not read from until the
// other side drains it, so a slow reader costs no memory beyond this buffer.
class ByteQueue {
public:
    static constexpr std::size_t kCapacity = 64 * 1024;
    bool full() const { return len_ == kCapacity; }
    bool empty() const { return len_ == 0; }
    // read(2) from `fd` into the free space; returns what read returned.
    long fill(int fd);
    // write(2) at most `max` queued bytes to `fd`; returns what write returned. poll()'s
    // POLLOUT promises room for PIPE_BUF bytes, no more: a bigger write to a blocking pipe
    // or terminal could stall the supervisor, so the relay writes PIPE_BUF at a time.
    long drain(int fd, std::size_t max = kCapacity);

private:
    char buf_[kCapacity];
    std::size_t len_ = 0;
};

}  // namespace agentbox::sandbox::lnx
