// The effective, ordered list of filesystem rules: the profile's explicit entries plus the
// implicit ones every sandbox gets (/proc, a minimal /dev, an empty home). decide() answers
// from this list and compile() builds the mount list from it, so that `agentbox explain` and
// the sandbox itself can never disagree about a path.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "profile/model.hpp"

namespace agentbox::policy {

enum class FsKind {
    read,      // filesystem.read: visible read-only
    write,     // filesystem.write: writable (staged under the project)
    tmpfs,     // filesystem.tmpfs: empty, writable, thrown away
    deny,      // filesystem.deny: invisible; the path may be a glob
    proc,      // implicit: fresh /proc
    dev,       // implicit: the /dev directory of the minimal /dev (that directory only)
    dev_node,  // implicit: one device node of the minimal /dev
    home,      // implicit: empty writable tmpfs as $HOME
    state,     // filesystem.state: an agent state file, a per-run copy saved back after review
};

struct FsRule {
    FsKind kind;
    std::string path;  // absolute, normalized; for deny possibly a glob
    std::string rule;  // as shown to the user: filesystem.deny "~/.ssh"
    profile::Source src;
    bool exact = false;  // applies to `path` itself, not below it
    bool glob = false;   // a deny pattern; computed once here, it is asked for every path
    std::size_t head = 0;  // a glob's literal head: the length up to its first wildcard
};

// Tie-break at equal length: deny beats write (and everything writable) beats read.
int strength(FsKind kind);
bool is_writable(FsKind kind);
bool is_implicit(FsKind kind);

// Implicit rules first, then deny, state, write, tmpfs, read entries in profile order. An empty home
// (or "/") gets no home rule; neither does a home that a read/write/tmpfs entry names itself.
// Throws std::invalid_argument for an entry that is not an absolute path: the loader expands
// placeholders, and silently dropping a deny rule would fail open.
std::vector<FsRule> effective_fs_rules(const profile::Profile& profile, const std::string& home);

struct FsMatch {
    const FsRule* rule = nullptr;  // nullptr: no rule applies (default deny)
    std::size_t length = 0;        // length of the rule path (or of the glob-matched ancestor)
};

// How a rule applies to an absolute, normalized path; length 0 when it does not. A deny glob
// applies when it matches the path or any ancestor of it ("/p/.env*" covers "/p/.env.d/x").
std::size_t match_length(const FsRule& rule, const std::string& path);

// The most specific rule: longest match, then strength, then first in list order.
FsMatch best_fs_rule(const std::vector<FsRule>& rules, const std::string& path);

}  // namespace agentbox::policy

namespace agentbox::policy {

// ---- Paths as the kernel resolves them ------------------------------------------------------
// Rules are written as strings, but the kernel opens what a path resolves to: every symlink,
// in every component, is followed. Deny, grant and mask decisions are made on the resolved
// path (issue 18): a deny of ~/.ssh -> dotfiles/ssh denies ~/dotfiles/ssh too, and a grant
// whose path leads through a link is placed where the link leads.

struct SymlinkStep {
    std::string path;  // the link itself: an absolute path whose parents are all real
    std::string text;  // what it says
    bool operator==(const SymlinkStep&) const = default;
};

struct ResolvedPath {
    std::string real;                // every component resolved; missing tails kept as written
    std::vector<SymlinkStep> links;  // the links followed, in order
    bool ok = true;                  // false: a loop, or a link that cannot be read
};

// Resolve an absolute, normalized path component by component with the host's kind() (which
// must not follow the last link) and readlink(). Pure apart from those two queries.
ResolvedPath resolve_path(const std::string& path,
                          const std::function<PathKind(const std::string&)>& kind,
                          const std::function<std::string(const std::string&)>& readlink);

// What the kernel will allow on one path: the winning rule for the path as written, and for
// the path it resolves to. compile() places mounts and masks from this and decide() answers
// from it, so that `agentbox explain` and the run agree through any symlink.
struct FsVerdict {
    const FsRule* rule = nullptr;  // the rule that decides; nullptr: nothing grants it
    std::string real;              // the resolved path
    bool through_link = false;     // the resolved path differs from the path as written
};

class FsView {
public:
    // Without `host` queries (or with kind/readlink unset) paths resolve to themselves.
    FsView(const std::vector<FsRule>& rules, const HostFacts* host);

    ResolvedPath resolve(const std::string& path) const;
    // The rule list placed at resolved paths: a deny covers its path and its real path; a
    // grant covers its real path, but one that reaches its real path through a link never
    // opens a path that a deny covers, unless the grant was written inside that deny (an
    // explicit carve-out such as deny ~/.ssh, read ~/.ssh/known_hosts).
    FsVerdict decide(const std::string& path) const;
    // The real path a rule is placed at ("" for implicit rules and globs: those stay literal).
    const std::string& placed(const FsRule& rule) const;

private:
    FsMatch best_real(const std::string& real) const;
    const std::vector<FsRule>& rules_;
    const HostFacts* host_;
    std::vector<std::string> placed_;  // parallel to rules_
};

}  // namespace agentbox::policy
