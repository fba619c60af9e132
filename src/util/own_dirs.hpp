// agentbox's own directories (DESIGN.md §5): state (sessions, logs), config (keys, trust,
// profiles) and cache (compiled seccomp filters). Computed here once, from the environment
// each caller reads its own way (getenv, or the run's environment map), so that the directory
// the session store writes, the one trust reads, the one the seccomp cache uses and the one
// every sandbox masks are the same path.
#pragma once

#include <string>
#include <string_view>

namespace agentbox::util {

enum class OwnDir { state, config, cache };

// The XDG base directory variable of `kind`: "XDG_STATE_HOME", "XDG_CONFIG_HOME",
// "XDG_CACHE_HOME".
const char* xdg_variable(OwnDir kind);

// $XDG_..._HOME/agentbox when `xdg` (that variable's value) is an absolute path -- the XDG
// spec says to ignore a relative one -- else `home`/.local/state/agentbox, .config/agentbox or
// .cache/agentbox; normalized. "" when neither is an absolute path.
std::string own_dir(OwnDir kind, std::string_view xdg, std::string_view home);

}  // namespace agentbox::util
