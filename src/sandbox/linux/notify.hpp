// Seccomp user notifications (supervisor side): each syscall the filter denies arrives here,
// is answered with the rule set's errno, and becomes a "syscall.denied" event; connect() is
// checked and made by the ConnectGate (unix_connect.hpp), its refusals logged the same way.
// Never answered with CONTINUE: the arguments could change between our look and the kernel's
// (TOCTOU).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sandbox/backend.hpp"
#include "sandbox/linux/unix_connect.hpp"
#include "seccomp/rules.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

class Notifier {
public:
    // With `plan`, connect() notifications go to a ConnectGate for it.
    Notifier(const seccomp::RuleSet& rules, const EventSink& sink,
             const policy::Plan* plan = nullptr);
    void set_listener(int fd) { listener_.reset(fd); }
    int fd() const { return listener_.get(); }
    // Stop listening: the filter has no users left.
    void close() { listener_.reset(); }
    // Answer one pending notification. Returns false when the listener is finished (every
    // process using the filter has exited), and closes it.
    bool handle();
    // Captured TCP connects (network mode proxy): see ConnectGate::set_capture.
    void set_capture(Capture* c) {
        if (gate_) gate_->set_capture(c);
    }

private:
    const seccomp::RuleSet& rules_;
    const EventSink& sink_;
    sys::unique_fd listener_;
    std::unique_ptr<ConnectGate> gate_;
    std::vector<unsigned char> req_, resp_;
};

}  // namespace agentbox::sandbox::lnx
