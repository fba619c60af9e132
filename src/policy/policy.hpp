// The policy engine's entry points. Pure: no syscalls, no I/O beyond what HostFacts injects.
#pragma once

#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "policy/request.hpp"
#include "profile/model.hpp"

namespace agentbox::policy {

// May this happen? Most specific rule wins (DESIGN.md §3). `home` and `project` are needed to
// match rules written relative to them (already expanded in Entry::value, but commit targets
// are project-relative).
Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project);
// The same, also knowing the user's home directory: compile() mounts an empty writable tmpfs
// there (unless a rule names it), and read/write/exec answers must say so. The overload above
// behaves as if there were no home rule; `explain` should call this one with Invocation::home.
Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project, const std::string& home);
// The same, resolving paths on the host as the kernel will (every symlink followed), so that
// the answer is the one the sandbox gives: `agentbox explain` calls this one.
Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project, const std::string& home, const HostFacts* host);

// What the caller knows of a path being committed beyond its name (policy reads no files).
struct CommitFacts {
    // Other project-relative names the project reaches the same file by, through symlinks in
    // the project and in the change set: the path is protected when any of them is.
    std::vector<std::string> aliases;
    // Project-relative directories git also uses as a git directory, besides every `.git` at
    // any depth: a `.git` file's `gitdir:`, a `commondir`.
    std::vector<std::string> git_dirs;
    // Project-relative directories holding a `.git` entry: nested repositories, where the
    // relative protect patterns apply as at the project root.
    std::vector<std::string> repo_roots;
    bool symlink = false;  // the path is, or becomes, a symlink
    bool rewrite = false;  // the path exists in the project and the change replaces its content
};

// decide(commit) with those facts; decide() for Op::commit is this with none.
Decision decide_commit(const profile::Profile& profile, const std::string& project,
                       const std::string& target, const CommitFacts& facts);

// Profile + invocation + host -> Plan. Never throws for things the host lacks: it records them
// as Weakenings. Throws std::invalid_argument for an impossible invocation (empty argv...).
Plan compile(const profile::Profile& profile, const Invocation& inv, const HostFacts& host);

// Renderings used by `run --dry-run`, `profile show` and the log.
std::string render_text(const Plan& plan);
std::string render_json(const Plan& plan);  // one JSON object, stable key order
std::string render_text(const Decision& d, const Request& r);
std::string render_json(const Decision& d, const Request& r);

}  // namespace agentbox::policy
