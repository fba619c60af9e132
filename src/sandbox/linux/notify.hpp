// Seccomp user notifications (supervisor side): each syscall the filter denies arrives here,
// is answered with the rule set's errno, and becomes a "syscall.denied" event. Never answered
// with CONTINUE: the arguments could change between our look and the kernel's (TOCTOU).
#pragma once

#include <cstdint>
#include <vector>

#include "sandbox/backend.hpp"
#include "seccomp/rules.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

class Notifier {
public:
    Notifier(const seccomp::RuleSet& rules, const EventSink& sink);
    void set_listener(int fd) { listener_.reset(fd); }
    int fd() const { return listener_.get(); }
    // Stop listening: the filter has no users left.
    void close() { listener_.reset(); }
    // Answer one pending notification. Returns false when the listener is finished (every
    // process using the filter has exited), and closes it.
    bool handle();

private:
    const seccomp::RuleSet& rules_;
    const EventSink& sink_;
    sys::unique_fd listener_;
    std::vector<unsigned char> req_, resp_;
};

}  // namespace agentbox::sandbox::lnx
