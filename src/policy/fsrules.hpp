// The effective, ordered list of filesystem rules: the profile's explicit entries plus the
// implicit ones every sandbox gets (/proc, a minimal /dev, an empty home). decide() answers
// from this list and compile() builds the mount list from it, so that `agentbox explain` and
// the sandbox itself can never disagree about a path.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

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

// Implicit rules first, then deny, write, tmpfs, read entries in profile order. An empty home
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
