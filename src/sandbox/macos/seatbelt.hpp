// The macOS backend (DESIGN.md §9): the Plan as a Seatbelt profile (SBPL) run with
// `sandbox-exec -p`. The profile and the launch description are pure functions, so they are
// golden-tested on Linux; only the executor (seatbelt_exec.cpp) needs macOS.
//
// macOS has no mount namespace, so the Plan's mounts become path rules on the host's own
// paths: a read-only bind grants reading its source, a tmpfs becomes a private directory under
// the session's scratch directory, and the staged project is a copy (clonefile) in the session
// that the command runs in. Those two directories are only known at launch, so the profile
// names them with SBPL parameters that the executor passes with `-D`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::macos {

// `sandbox-exec -D NAME=VALUE` parameters the profile refers to.
inline constexpr const char* kParamCopy = "AGENTBOX_COPY";        // the staged project copy
inline constexpr const char* kParamScratch = "AGENTBOX_SCRATCH";  // tmpfs replacements

// A Scheme string literal for SBPL: quotes and backslashes escaped. Throws
// std::invalid_argument for a NUL or another control character that SBPL's reader cannot
// take, so that no path can end the string and add rules of its own.
std::string sbpl_string(std::string_view s);

// The whole profile: (version 1), (deny default), the runtime every macOS process needs, the
// Plan's paths, its network mode, and its denied paths last (in SBPL the last matching rule
// wins). Throws std::invalid_argument when a path cannot be written as an SBPL string.
std::string seatbelt_profile(const policy::Plan& plan);

// Rules of the Plan that Seatbelt and macOS cannot enforce (added to Plan::weakenings).
std::vector<policy::Weakening> seatbelt_weakenings(const policy::Plan& plan);

// Where a tmpfs target of the Plan lives on macOS: SCRATCH followed by the target path.
std::string scratch_path(const std::string& scratch, const std::string& target);

// What the executor runs. argv starts with /usr/bin/sandbox-exec (an absolute path, never
// looked up in PATH), the environment and working directory are the Plan's translated into
// the copy and scratch directories.
struct Launch {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // NAME=VALUE
    std::string cwd;
    // Project paths the copy must leave out: the masked files under the project (the copy
    // would otherwise hand the command what the Plan hides).
    std::vector<std::string> copy_excludes;  // project-relative
};

// `copy` and `scratch` are absolute directories the executor created. In proxy mode the
// executor first sets Plan::net::proxy_port to the host loopback port its proxy listens on
// (there is no network namespace to put it at 3128) and renders the profile from that Plan.
Launch seatbelt_launch(const policy::Plan& plan, const std::string& copy,
                       const std::string& scratch);

}  // namespace agentbox::sandbox::macos
