// The native backend's launch sequence (DESIGN.md §4 "native"), supervisor side.
#pragma once

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::sandbox::lnx {

// Never throws: every failure becomes Outcome{exit_code=125, error=...}.
Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink);

// Where compiled seccomp filters are cached: $XDG_CACHE_HOME/agentbox/seccomp, else
// $HOME/.cache/agentbox/seccomp; "" when neither is set (then nothing is cached).
std::string seccomp_cache_dir();

}  // namespace agentbox::sandbox::lnx
