// Which backend runs a Plan (DESIGN.md §4, note 35): `--backend auto|native|bwrap|seatbelt`
// turned into a Backend. Portable: the platform's own backends come from sandbox/host.hpp
// (host_linux.cpp, host_macos.cpp); the Seatbelt backend is built on every system, so that a
// dry run anywhere checks a Plan with the same Seatbelt::check() a Mac runs. linux/ and bwrap/
// include this only for kBwrapPath and lists_overlay.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::sandbox {

// Never looked up in PATH: the project (or anything else the user runs) could put a `bwrap`
// there that does whatever it likes with the Plan.
inline constexpr const char* kBwrapPath = "/usr/bin/bwrap";

// `bwrap --help` lists both --overlay-src and --overlay as options (bubblewrap 0.11.0 and
// later): the bwrap backend then stages through bwrap's overlay instead of a copy. Pure.
bool lists_overlay(std::string_view help);

// Can bubblewrap make the namespaces a sandbox needs here? A real try (a fork and an exec of
// bwrap), so only asked when the native backend cannot run. Linux only (host_linux.cpp).
bool bwrap_works();

// Every name `--backend` takes, on every system.
inline constexpr const char* kBackendNames[] = {"auto", "native", "bwrap", "seatbelt"};

// auto: the platform's choice (sandbox/host.hpp, auto_backend). On Linux native where agentbox
// can create user namespaces itself; else bubblewrap where it can (a distribution that allows
// user namespaces only to some programs, e.g. Ubuntu 24.04's AppArmor restriction); else
// std::runtime_error saying what doctor says. On macOS seatbelt. Others as asked.
std::string choose_backend(const std::string& requested, const policy::HostFacts& facts);

// Why the backend `name` cannot run a command on this system ("" when it can): seatbelt needs
// macOS's sandbox-exec, native and bwrap Linux's namespaces. `run --dry-run` still shows and
// checks its Plan; a run refuses before anything is made.
std::string cannot_run_here(const std::string& name);

// The backend, for its check() (a dry run: any backend built here) or its launch (a run: one
// that cannot_run_here() allows). std::invalid_argument for a backend not built here (native
// and bwrap outside Linux).
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace agentbox::sandbox
