// The terminal side of a run with Io::tty, for every backend's supervisor: the user's terminal
// in raw mode for the duration (restored by the destructor on every exit path), and a bounded
// relay to the pty master -- the one the command opened in the sandbox's own devpts on Linux
// (linux/command.cpp), or one opened here with open_pty() where there is no devpts of the
// sandbox's own (macOS, macos/seatbelt_run.cpp). POSIX only: it is built for macOS too.
#pragma once

#include <poll.h>
#include <termios.h>

#include <cstddef>
#include <string>

#include "sys/fd.hpp"

namespace agentbox::sandbox {

// A new pty of the host's: the master (close-on-exec) and the slave's path, which the command
// opens as its controlling terminal. posix_openpt, grantpt, unlockpt, ptsname: the POSIX calls
// both Linux and macOS have. Throws sys::SysError.
struct HostPty {
    sys::unique_fd master;
    std::string slave;  // /dev/pts/N on Linux, /dev/ttysNNN on macOS
};
HostPty open_pty();

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

// The relay between the user's terminal (`in`, `out`) and the pty master (on Linux the one the
// command sends, linux/supervisor.cpp, tag 'T'): bounded both ways, so a side that does not read only stops the
// other. With Io::tty it runs from the start; input typed before the master arrives waits in
// the queue.
class PtyRelay {
public:
    PtyRelay(int in, int out, bool on) : in_(in), out_(out), on_(on), in_open_(on) {}
    bool on() const { return on_; }
    // The master, once: the relay's pty side starts, with the user's window size.
    void take_master(int fd);
    void resize() const;  // SIGWINCH
    // What to poll for now; `paused` while a prompt has the user's terminal: the user's keys
    // are the prompt's, and the command's output waits (in its queue, then in the pty).
    void want(struct pollfd& master, struct pollfd& in, struct pollfd& out, bool paused) const;
    void on_ready(const struct pollfd& master, const struct pollfd& in, const struct pollfd& out);
    // Once nothing of the sandbox runs any more: what the command wrote, all of it, to `out`.
    void flush();

private:
    int in_, out_;
    bool on_;
    sys::unique_fd master_;
    ByteQueue to_pty_, from_pty_;
    bool in_open_, master_open_ = false;
};

}  // namespace agentbox::sandbox
