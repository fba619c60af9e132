// Seccomp user notifications (supervisor side): each syscall the filter denies arrives here,
// is answered with the rule set's errno, and becomes a "syscall.denied" event; connect() is
// checked and made by the ConnectGate (unix_connect.hpp), its refusals logged the same way.
// Never answered with CONTINUE, with one exception that decides nothing: under `agentbox
// learn` (SeccompPlan::observe_files) the calls that name a path to read or execute come here
// to have the path recorded (a "learn.file" event, each path once), and then go on to be judged
// by the mounts and Landlock as they would be without us. Any other answer could be raced: the
// arguments may change between our look and the kernel's (TOCTOU).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "sandbox/backend.hpp"
#include "sandbox/linux/unix_connect.hpp"
#include "seccomp/rules.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

class Notifier {
public:
    // With `plan`, connect() notifications go to a ConnectGate for it and the sockets `named`
    // (named_sockets, taken before the command ran). `rules`: the filter's
    // rule set; null when the filter came from the cache without one (launch.cpp), then it is
    // built from plan->seccomp on the first notification, off the start's path.
    Notifier(const seccomp::RuleSet* rules, const EventSink& sink,
             const policy::Plan* plan = nullptr, SocketIds named = {});
    void set_listener(int fd);
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
    const seccomp::RuleSet* rules_;
    std::optional<seccomp::RuleSet> own_rules_;
    const policy::Plan* plan_;
    const seccomp::RuleSet& rules();
    const EventSink& sink_;
    sys::unique_fd listener_;
    std::unique_ptr<ConnectGate> gate_;
    bool observe_ = false;
    std::unordered_set<std::string> observed_;  // "r/path", "x/path": each reported once
    void observe(const struct seccomp_notif& req, const seccomp::Observed& o);
    void send(std::uint64_t id, int err);  // answer a notification with -err (0: success)
    std::vector<unsigned char> req_, resp_;
};

}  // namespace agentbox::sandbox::lnx
