// The native backend's launch sequence (DESIGN.md §4 "native"), supervisor side.
#pragma once

#include <optional>
#include <string>

#include "net/proxy.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::sandbox::lnx {

// Never throws: every failure becomes Outcome{exit_code=125, error=...}.
Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink);

// Where compiled seccomp filters are cached: $XDG_CACHE_HOME/agentbox/seccomp, else
// $HOME/.cache/agentbox/seccomp; "" when neither is set (then nothing is cached).
std::string seccomp_cache_dir();

// Network mode proxy: the proxy's settings, made before the sandbox so that a bad resolver
// override is a setup failure (125). nullopt in other modes.
std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink);

}  // namespace agentbox::sandbox::lnx
