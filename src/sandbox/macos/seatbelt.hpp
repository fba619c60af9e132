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
#include <utility>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::macos {

// `sandbox-exec -D NAME=VALUE` parameters the profile refers to.
inline constexpr const char* kParamCopy = "AGENTBOX_COPY";        // the staged project copy
inline constexpr const char* kParamScratch = "AGENTBOX_SCRATCH";  // tmpfs replacements

// The path Seatbelt matches for a host path of macOS. Seatbelt compares the vnode's real
// path, and /etc, /tmp and /var are symlinks into /private there, so a rule on "/etc" would
// match nothing. A Plan computed on a Mac already names real paths (compile() resolves every
// grant); one computed elsewhere for `--dry-run --target macos` names these three, which
// are the same symlinks on every macOS, hence a fixed map and no lookup.
std::string macos_real_path(const std::string& path);

// A Scheme string literal for SBPL: quotes and backslashes escaped. Throws
// std::invalid_argument for a NUL or another control character that SBPL's reader cannot
// take, so that no path can end the string and add rules of its own.
std::string sbpl_string(std::string_view s);

// The whole profile: (version 1), (deny default), the runtime every macOS process needs, the
// Plan's paths, its network mode, and its denied paths last (in SBPL the last matching rule
// wins). Throws std::invalid_argument when a path cannot be written as an SBPL string.
// What is only known at launch (the proxy's port, the terminal) is added by seatbelt_launch().
// `tag` (a launch's LaunchFacts::log_tag) is the message every deny rule carries.
std::string seatbelt_profile(const policy::Plan& plan, const std::string& tag = {});

// Every rule of the Plan that Seatbelt and macOS cannot enforce. The one list both the
// backend's check() before a launch and `--dry-run --target macos` report: a dry run that
// exits 0 is a run that starts.
std::vector<policy::Weakening> seatbelt_weakenings(const policy::Plan& plan);

// What the launch knows that the Plan does not.
struct LaunchFacts {
    // The host loopback port agentbox's proxy listens on (network proxy). There is no network
    // namespace to put it at the Plan's in-sandbox port, which on the host may be anyone's.
    std::uint16_t proxy_port = 0;
    // The run's random proxy credential (net/proxy_auth.hpp): that port is reachable by every
    // process on the host, so the proxy asks for it and the proxy variables carry it as
    // userinfo. Only in the Launch's environment, never in the Plan (which is logged).
    std::string proxy_token;
    // The terminal device the command gets as its controlling terminal (/dev/ttysNNN, the
    // slave of the pty agentbox relays), empty without one.
    std::string tty;
    // The developer directory xcode-select chose (/Applications/Xcode.app/Contents/Developer),
    // whose tools the /usr/bin shims run; empty when it is the Command Line Tools, which the
    // profile grants anyway, or none is installed.
    std::string developer_dir;
    // A random tag of this run, the message of every deny rule: macOS reports a denial in its
    // log with the rule's message, which is how this run's denials are told from every other
    // sandboxed program's (denials.hpp). Random, so the command cannot write a report that
    // passes for one. Empty: no message.
    std::string log_tag;
};

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
    // Symlinks to make before the start: {where, to}. A grant inside a tmpfs (~/.claude in
    // the empty home) is the host's own path on macOS, while $HOME points into the scratch
    // directory; a link at the grant's place there is how $HOME/.claude reaches it. Seatbelt
    // checks the path a link resolves to, so a link grants nothing by itself.
    std::vector<std::pair<std::string, std::string>> links;
    // The private directories standing in for the Plan's tmpfs mounts, to create (mode 0700).
    std::vector<std::string> scratch_dirs;
};

// `copy` and `scratch` are absolute directories the executor created, given as real paths
// (Seatbelt matches real paths). Throws std::invalid_argument for a proxy-mode Plan without
// LaunchFacts::proxy_port or proxy_token, and for what seatbelt_profile() refuses.
Launch seatbelt_launch(const policy::Plan& plan, const std::string& copy,
                       const std::string& scratch, const LaunchFacts& facts = {});

}  // namespace agentbox::sandbox::macos
