// Network mode proxy: the proxy's settings, shared by every backend that runs net::Proxy (the
// Linux supervisor, the Seatbelt launcher). Made before the sandbox so that a bad test
// override is a setup failure (125) rather than a proxy that answers wrongly.
#pragma once

#include <optional>

#include "net/proxy.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::sandbox {

// The Plan's network rules and the test overrides this build honours (each announced on
// `sink` as a warning); nullopt unless the Plan's mode is proxy. Throws std::invalid_argument
// for an override it cannot read.
std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink);

}  // namespace agentbox::sandbox
