// The launch of both Linux backends (DESIGN.md §4), supervisor side: one skeleton, `launch_with`,
// whose numbered steps are the same for both, and a Starter per backend for what differs --
// how the sandbox's first process is started (clone3 into agentbox's own init, or bubblewrap
// exec'd in the run's cgroups) and where the seccomp filter is handed over.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/proxy.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/guards.hpp"
#include "sandbox/linux/supervisor.hpp"

namespace agentbox::sandbox::lnx {

// The native backend's launch. Never throws: every failure becomes
// Outcome{exit_code=125, error=...}.
Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink);

// What the skeleton has made for the first process before it starts it.
struct Wiring {
    const Channels& ch;         // the child's ends are closed by the skeleton once it runs
    const Go& go;               // the go (guards.hpp): release, then the command's go
    bool release = false;       // a count of `go` comes first: v1 cgroups to enter
    const SignalBlock& signals;  // the mask the sandbox must start with: signals.old_mask()
    const Cgroups& cgroups;     // clone_into(): the cgroup v2 directory to start it in
};

// What differs between the backends' launches; the order of the calls is launch_with's.
class Starter {
public:
    virtual ~Starter() = default;
    // The first process needs the seccomp filter before it starts (bwrap reads it from its
    // spec); else it is compiled while the sandbox is being built and handed over before the
    // command's go.
    virtual bool filter_first() const = 0;
    // The run's one filter, compiled or taken from the cache.
    virtual void take_filter(std::vector<std::uint8_t> bpf) = 0;
    // Starts the sandbox's first process (init, or bwrap's monitor) in the run's cgroups and
    // returns its pid and pidfd; the child never returns from here.
    virtual pid_t start(const Wiring& w, int* pidfd) = 0;
    // After the first process is released, while it builds the sandbox / just before the go.
    virtual void started(pid_t) {}
    virtual void before_go(pid_t) {}
    // How the supervisor must see this backend's first process (stage watch, bwrap's monitor).
    virtual void supervise_as(Supervised&) const {}
    // After the supervisor is done and nothing of the sandbox runs any more.
    virtual void finished() {}
};

// The launch both backends share, as numbered steps (launch.cpp). Throws; timed_launch turns
// that into the Outcome of a setup failure.
void launch_with(Starter& starter, const policy::Plan& plan,
                 const Io& io, const EventSink& sink, Outcome& out);

// The seccomp filter of `plan`, from the filter cache (seccomp_cache_dir) when it has it;
// `built` receives the rule set when one had to be built (seccomp::filter_cached).
seccomp::Filter compile_filter(const policy::Plan& plan,
                               std::optional<seccomp::RuleSet>* built);

// Where compiled seccomp filters are cached: $XDG_CACHE_HOME/agentbox/seccomp, else
// $HOME/.cache/agentbox/seccomp; "" when neither is set (then nothing is cached).
std::string seccomp_cache_dir();

// Network mode proxy: the proxy's settings, made before the sandbox so that a bad resolver
// override is a setup failure (125). nullopt in other modes.
std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink);

}  // namespace agentbox::sandbox::lnx
