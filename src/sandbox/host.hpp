// The host, as the cli sees it: everything the cli needs that differs between the systems
// agentbox runs on, behind one set of declarations (DESIGN.md §10). The cli includes this and
// sandbox/choose.hpp, never sandbox/linux/, sandbox/bwrap/ or seccomp/: the macOS build has
// none of them, and ctest cross.macos links the macOS sources on Linux to prove it.
//
// Two definitions, one per system: host_linux.cpp (the Linux build: the probe, Landlock,
// seccomp, bubblewrap) and host_macos.cpp (every other system: what macOS and Seatbelt can
// say, or that a question does not apply there).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::sandbox {

// What this kernel and system can enforce, for policy::compile. The slow part of the probe is
// remembered in `cache_dir` (Linux: the namespace probe, for this boot); without one, a fresh
// probe (`agentbox doctor`).
policy::HostFacts probe_host(const std::string& cache_dir);
policy::HostFacts probe_host();

// Only the filesystem queries (kind, realpath, readlink, glob), without any probe: what
// `agentbox explain` and `profile check|test` need to resolve paths as the run will.
policy::HostFacts fs_facts();

// One line of `agentbox doctor`.
struct Feature {
    std::string name;       // "user namespaces", "sandbox-exec"
    bool ok = false;
    std::string detail;     // what was found ("Landlock ABI 7")
    std::string fix;        // the exact fix when missing
    bool required = false;  // the platform's backend cannot run without it
};
std::vector<Feature> doctor(const policy::HostFacts& facts);

// `run --die-with-parent`: agentbox, and with it the sandbox, ends when the process that
// started it does. False when arming it failed (errno: the run must not start); true when
// armed, or when this system has no way to (`unsupported` then says so, for a warning).
bool die_with_parent(std::string& unsupported);

// The Plan's system call names resolved as the run's filter resolves them: throws
// std::runtime_error naming one this system does not know (`profile check`, so that it
// cannot accept what `run` rejects). Where no filter is built from names (macOS: Seatbelt
// filters operations, and its backend refuses the filter's rules as weakenings), nothing.
void check_syscall_names(const policy::Plan& plan);

// The filter's identity for the decision log when the backend has not prepared it (a run
// that failed before Io::ready): the same digest and count the backend would report. Empty
// where the platform builds no system call filter.
Prepared filter_record(const policy::Plan& plan);

// agentbox started as a helper of a backend rather than by a user (bubblewrap's init, with
// its own arguments): the helper's exit status, or -1 when argv is an ordinary command line.
int helper_main(int argc, char** argv);

// Whether the bubblewrap backend can stage in an overlay here (bubblewrap 0.11+ and overlayfs
// in a user namespace); false where there is no bubblewrap backend.
bool bwrap_overlay();

// ---- the platform's own backends; choose.cpp builds the choice on them

// The backends that can run a command on this system, the first being `auto`'s last resort.
std::vector<std::string> platform_backends();
// `--backend auto` on this host (may throw std::runtime_error: none works, and why).
std::string auto_backend(const policy::HostFacts& facts);
// One of platform_backends(), else std::invalid_argument.
std::unique_ptr<Backend> make_platform_backend(const std::string& name);

}  // namespace agentbox::sandbox
