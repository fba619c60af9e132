// The bubblewrap backend's one pure step: Plan -> bwrap argv (DESIGN.md §4 "bwrap"). No
// syscalls, so golden tests compare it without privileges, like the Plan itself.
#pragma once

#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "sandbox/choose.hpp"

namespace agentbox::sandbox::bwrap {

using sandbox::kBwrapPath;  // choose.hpp

// The argument that makes agentbox act as the sandbox's init instead of parsing a command line
// (main.cpp). Not a subcommand: it is never typed, and needs the descriptors below.
inline constexpr const char* kInitArg = "__bwrap-init";

// What the launch provides besides the Plan: paths in the session and descriptor numbers the
// bwrap process inherits (fixed numbers, set up between fork and exec).
struct Inputs {
    std::string bwrap = kBwrapPath;
    std::string snapshot;    // Staging::copy: the session's copy of the project, bound at it
    std::string upper;       // Staging::overlay (bwrap 0.11+): the session's upper/ and work/
    std::string work;
    std::string empty_file;  // an empty file, bound read-only over each denied file
    std::string state_home;  // Plan::state non-empty: the session's home directory
    // Network capture: the sandbox's resolv.conf (lnx::kResolvConf), bound over
    // /etc/resolv.conf; "" when the host's is a symlink, which bwrap would follow in its own
    // root rather than the sandbox's (resolvers then fall back to 127.0.0.1, or not: DESIGN.md §6).
    std::string resolv_conf;
    int exe_fd = 6;          // agentbox itself (O_PATH), run inside as /proc/self/fd/N
    int sync_fd = 3;         // SOCK_SEQPACKET to the supervisor, as the native backend's
    int report_fd = 4;       // failure records; EOF once the command exec'd
    int spec_fd = 5;         // the init's spec (spec.hpp), read once
    int go_fd = 7;           // the go (linux/guards.hpp, Go): the command waits for a count
};

// The full argv, argv[0] = inputs.bwrap. Throws std::invalid_argument for a Plan it cannot
// express (check() reports those as weakenings first, so a launch never gets here with one).
std::vector<std::string> make_argv(const policy::Plan& plan, const Inputs& in);

// Rules of the Plan that this backend cannot express, each with what is missing.
std::vector<policy::Weakening> check(const policy::Plan& plan);

}  // namespace agentbox::sandbox::bwrap
