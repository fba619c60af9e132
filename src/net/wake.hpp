// Wakeup: a descriptor that poll(2) sees readable from the first signal() until drain(). The
// proxy's thread wakes the supervisor's poll loop with it when log events wait (proxy.hpp).
// An eventfd on Linux; a self-pipe elsewhere (IoKind::portable, net/portable.hpp).
#pragma once

#include "net/portable.hpp"
#include "sys/fd.hpp"

namespace agentbox::net {

class Wakeup {
public:
    explicit Wakeup(IoKind kind = kDefaultIo);  // throws sys::SysError
    int fd() const { return r_.get(); }
    // From any thread; never blocks. Signals before a drain() wake the reader once.
    void signal() noexcept;
    // Takes every signal so far: fd() is not readable again until the next signal().
    void drain() noexcept;

private:
    sys::unique_fd r_;
    sys::unique_fd w_;  // the pipe's write end; none for an eventfd (r_ is both)
};

}  // namespace agentbox::net
