// The policy engine's entry points. Pure: no syscalls, no I/O beyond what HostFacts injects.
#pragma once

#include <string>

#include "policy/plan.hpp"
#include "policy/request.hpp"
#include "profile/model.hpp"

namespace agentbox::policy {

// May this happen? Most specific rule wins (DESIGN.md §3). `home` and `project` are needed to
// match rules written relative to them (already expanded in Entry::value, but commit targets
// are project-relative).
Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project);
// The same, also knowing the user's home directory: compile() mounts an empty writable tmpfs
// there (unless a rule names it), and read/write/exec answers must say so. The overload above
// behaves as if there were no home rule; `explain` should call this one with Invocation::home.
Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project, const std::string& home);
// The same, resolving paths on the host as the kernel will (every symlink followed), so that
// the answer is the one the sandbox gives: `agentbox explain` calls this one.
Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project, const std::string& home, const HostFacts* host);

// Profile + invocation + host -> Plan. Never throws for things the host lacks: it records them
// as Weakenings. Throws std::invalid_argument for an impossible invocation (empty argv...).
Plan compile(const profile::Profile& profile, const Invocation& inv, const HostFacts& host);

// Renderings used by `run --dry-run`, `profile show` and the log.
std::string render_text(const Plan& plan);
std::string render_json(const Plan& plan);  // one JSON object, stable key order
std::string render_text(const Decision& d, const Request& r);
std::string render_json(const Decision& d, const Request& r);

}  // namespace agentbox::policy
