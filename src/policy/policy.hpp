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

// Profile + invocation + host -> Plan. Never throws for things the host lacks: it records them
// as Weakenings. Throws std::invalid_argument for an impossible invocation (empty argv...).
Plan compile(const profile::Profile& profile, const Invocation& inv, const HostFacts& host);

// Renderings used by `run --dry-run`, `profile show` and the log.
std::string render_text(const Plan& plan);
std::string render_json(const Plan& plan);  // one JSON object, stable key order
std::string render_text(const Decision& d, const Request& r);
std::string render_json(const Decision& d, const Request& r);

}  // namespace agentbox::policy
