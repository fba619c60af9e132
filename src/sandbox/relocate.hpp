// Where a Plan path lives for a backend without a mount namespace (macOS, Windows): the staged
// project is a copy in the session, each tmpfs a private directory under a scratch directory,
// everything else the host's own path. Pure; shared by the Seatbelt and AppContainer plans.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox {

// An environment value with `map` applied to each of its paths when it is a path or a ':'-list
// of absolute paths (PATH); anything else (a URL, a word, a relative path) is returned as is.
// The one place that decides what of an environment value is a path: the relocation below and
// the Seatbelt plan's real paths (/tmp -> /private/tmp) both go through it.
std::string map_path_value(const std::string& v,
                           const std::function<std::string(const std::string&)>& map);

class Relocation {
public:
    Relocation(const policy::Plan& plan, std::string copy, std::string scratch);

    // A path inside the sandbox -> the host path the command must use. The deepest tmpfs or
    // the project wins, as the deepest mount would on Linux.
    std::string path(const std::string& p) const;
    // An environment value, its paths moved (map_path_value).
    std::string value(const std::string& v) const;
    // Where the tmpfs at `target` lives.
    std::string scratch_dir(const std::string& target) const;
    // Project-relative paths the copy must leave out: what the Plan masks under the project.
    std::vector<std::string> copy_excludes() const;

private:
    const policy::Plan& plan_;
    std::string copy_, scratch_;
    bool copied_ = false;
    std::vector<std::string> tmpfs_;
};

// The environment of the command (NAME=VALUE), relocated, with TMPDIR pointing at the private
// /tmp when the Plan has one and sets no TMPDIR itself (macOS and Windows programs otherwise
// use a per-user directory the sandbox does not grant).
std::vector<std::string> relocated_env(const policy::Plan& plan, const Relocation& r);

}  // namespace agentbox::sandbox
