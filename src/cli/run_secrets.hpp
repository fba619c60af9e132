// `run` with secrets (profile [secrets], --secret) or request rules (network.request): the
// real values read and the run's CA made before the Plan, the CA bundle written where the Plan
// mounts it from, and all of it handed to the proxy through sandbox::Io, never through the
// Plan.
#pragma once

#include <memory>
#include <string>

#include "net/intercept.hpp"
#include "policy/plan.hpp"
#include "profile/model.hpp"

namespace agentbox::cli {

struct RunSecrets {
    std::shared_ptr<net::Intercept> intercept;  // null without secrets and request rules
    std::string bundle_dir;                     // removed with this object

    RunSecrets() = default;
    RunSecrets(RunSecrets&& o) noexcept;
    RunSecrets& operator=(RunSecrets&& o) noexcept;
    ~RunSecrets();

    // A real value that reached the environment another way (env.pass of a second variable,
    // ${VAR} in env.set) becomes the stand-in there too: it never enters the sandbox.
    void scrub(policy::Plan& plan) const;
};

// Throws Failure (exit 125) naming the secret and its source when a value cannot be read.
RunSecrets prepare_secrets(const profile::Profile& profile, policy::Invocation& inv);

}  // namespace agentbox::cli
