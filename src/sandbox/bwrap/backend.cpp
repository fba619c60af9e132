// The bubblewrap backend (DESIGN.md §4 "bwrap"): the same Plan, its mounts made by bwrap, the
// rest by agentbox's own init exec'd inside.
#include <memory>
#include <string>
#include <utility>

#include "sandbox/backend.hpp"
#include "sandbox/bwrap/argv.hpp"
#include "sandbox/bwrap/launch.hpp"

namespace agentbox::sandbox {

namespace {

// Built field by field: GCC 12 at -O3 takes the brace-initialised temporary's empty Source
// for an uninitialised one (a false -Wmaybe-uninitialized).
policy::Weakening needs(std::string missing) {
    policy::Weakening w;
    w.rule = "backend \"bwrap\"";
    w.missing = std::move(missing);
    return w;
}

class BwrapBackend final : public Backend {
public:
    const char* name() const override { return "bwrap"; }

    std::vector<policy::Weakening> check(const policy::Plan& plan) const override {
        std::vector<policy::Weakening> w = bwrap::check(plan);
        const bwrap::Version v = bwrap::probe_version();
        if (!v.found())
            w.push_back(needs(std::string(bwrap::kBwrapPath) + " (apt-get install bubblewrap)"));
        else if (v.major == 0 && v.minor < 8)
            // The oldest version this backend is tested with (Debian 12).
            w.push_back(needs("bubblewrap 0.8 or later (found " + v.text + ")"));
        return w;
    }

    Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
                   const EventSink& sink) override {
        return bwrap::launch(plan, stage, io, sink);
    }
};

}  // namespace

std::unique_ptr<Backend> make_bwrap() { return std::make_unique<BwrapBackend>(); }

}  // namespace agentbox::sandbox
