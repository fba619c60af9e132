// Which backend runs a Plan (DESIGN.md §4, note 35): `--backend auto|native|bwrap` turned into
// a Backend. The layer above linux/ and bwrap/: it may include both, neither includes it
// except for kBwrapPath and lists_overlay.
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
// bwrap), so only asked when the native backend cannot run.
bool bwrap_works();

// auto: native where agentbox can create user namespaces itself; else bubblewrap where it can
// (a distribution that allows user namespaces only to some programs, e.g. Ubuntu 24.04's
// AppArmor restriction); else std::runtime_error saying what doctor says. Others as asked.
std::string choose_backend(const std::string& requested, const policy::HostFacts& facts);

std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace agentbox::sandbox
