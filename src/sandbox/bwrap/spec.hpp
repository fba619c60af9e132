// What agentbox's init inside bubblewrap needs from the Plan, carried over a descriptor: bwrap
// builds the mounts, init does the rest the native backend does after its mounts (proxy
// listener, reaping, signals, rlimits, Landlock, capabilities, no_new_privs, seccomp, execve).
// Pure: encode on the supervisor's side, decode inside. A byte string with length-prefixed
// fields, because the seccomp program is binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::bwrap {

struct Spec {
    // The parts of the Plan init reads: argv, env, cwd, limits (rlimits), landlock, net (mode
    // and proxy port), ns.net. Everything else stays default.
    policy::Plan plan;
    std::vector<std::uint8_t> bpf;  // compiled seccomp filter
    bool notify = false;            // load it with a user-notification listener
    bool tty = false;               // open a pty in the sandbox's devpts
};

std::string encode(const Spec& s);
// Throws std::invalid_argument on anything malformed.
Spec decode(const std::string& bytes);

}  // namespace agentbox::sandbox::bwrap
