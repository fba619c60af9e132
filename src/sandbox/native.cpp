// The native Linux backend (DESIGN.md §4): agentbox's own namespaces, mounts and init.
#include <memory>

#include "sandbox/backend.hpp"
#include "sandbox/linux/launch.hpp"

namespace agentbox::sandbox {

namespace {

using policy::Mechanism;
using policy::Weakening;

bool enforceable(const policy::Limit& l) {
    if (l.name == "memory" || l.name == "pids")
        return l.how == Mechanism::cgroup1 || l.how == Mechanism::cgroup2;
    if (l.name == "timeout") return l.how == Mechanism::supervisor;
    if (l.name == "file_size" || l.name == "open_files") return l.how == Mechanism::rlimit;
    // stage_size: the supervisor measures upper/ on a timer (linux/stage_watch.hpp).
    if (l.name == "stage_size") return l.how == Mechanism::stage;
    return false;
}

class NativeBackend final : public Backend {
public:
    const char* name() const override { return "native"; }

    std::vector<Weakening> check(const policy::Plan& plan) const override {
        std::vector<Weakening> w;
        auto add = [&](std::string rule, std::string missing) {
            w.push_back(Weakening{std::move(rule), {}, std::move(missing)});
        };
        if (plan.staging == policy::Staging::copy)
            add("staging = copy", "the native backend stages with overlayfs only");
        if (!plan.ns.user || !plan.ns.mount || !plan.ns.pid)
            add("namespaces", "the native backend always needs user, mount and pid namespaces");
        if (plan.net.mode == profile::NetMode::proxy && !plan.ns.net)
            add("network.mode = \"proxy\"", "the proxy needs the sandbox's own network namespace");
        if (plan.net.mode == profile::NetMode::host && plan.ns.net)
            add("network.mode = \"host\"", "the plan asks for host networking in a new netns");
        for (const policy::Limit& l : plan.limits) {
            // Mechanism none: the host has no way at all, and compile() has said so in the
            // plan's own weakenings; saying it again here would report the limit twice.
            if (l.value == 0 || l.how == Mechanism::none || enforceable(l)) continue;
            Weakening x{"limits." + l.name, l.src,
                        std::string("the native backend cannot enforce it with ") +
                            policy::to_string(l.how)};
            w.push_back(std::move(x));
        }
        bool v2 = false;
        for (const policy::Limit& l : plan.limits)
            if (l.value != 0 && l.how == Mechanism::cgroup2) v2 = true;
        if (v2 && plan.cgroup_parent.empty())
            add("limits", "cgroup v2 limits need the delegated cgroup directory in the plan");
        return w;
    }

    Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
                   const EventSink& sink) override {
        return lnx::launch(plan, stage, io, sink);
    }
};

}  // namespace

std::unique_ptr<Backend> make_native() { return std::make_unique<NativeBackend>(); }

}  // namespace agentbox::sandbox
