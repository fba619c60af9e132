// The one general directory walk in agentbox: a tree below a directory descriptor, every
// level opened relative to its parent with O_NOFOLLOW, never through a symlink -- one planted
// or swapped in during the walk fails to open as a directory instead of leading outside --
// and no deeper than a bound. Each directory is listed whole before any of its entries is
// visited, so a visitor may remove or add entries as it goes.
//
// Iterative, on an explicit stack, with a bounded number of descriptors whatever the depth
// (design note 74): a sandboxed command can make a tree as deep as the filesystem allows,
// and a frame or a descriptor per level would crash the walk (stack overflow) or run it into
// EMFILE. Past WalkOptions::max_open levels the shallowest open directory is closed and its
// device and inode kept; going back up reopens it as ".." of its child and checks it is the
// same directory (gnulib fts does the same), so a directory moved during the walk ends it
// with an error instead of leading it elsewhere.
//
// walk_trees walks a second tree beside the first, its "twin" (the change walk: upper/ and
// the project, design note 81): the visitor goes into a directory on both sides at once
// (WalkStep::into_both), and the twin's levels are closed and reopened with the first's, by
// the same stack, so the bound holds for both.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "sys/dirs.hpp"
#include "sys/error.hpp"

namespace agentbox::sys {

// One entry met by walk_tree.
struct WalkEntry {
    int dirfd;                // the directory holding it, for *at calls
    const std::string& name;  // its name there
    const std::string& path;  // the walk's root path, "/", name ("a/b" below an empty root)
    const struct stat& st;    // lstat: a symlink is itself; see WalkOptions::stat
    int depth;                // 0 for the root's own entries
    int twin_dirfd = -1;      // walk_trees: the twin's directory at dirfd's place; -1 if none
};

// A directory the walk has just opened and listed, before any of its entries is visited.
struct WalkDir {
    int fd;                                // its descriptor (read through: offset at the end)
    int twin_fd;                           // the twin's at the same place; -1 if none
    const std::vector<DirEntry>& entries;  // its entries, in the order they will be visited
};

// What the walk does after visiting an entry.
enum class WalkStep {
    into,  // a directory: walk its entries, then leave() it (the same as over for the rest)
    into_both,  // walk_trees: into, and into the twin's directory of the same name too, which
                // the visitor has seen to be one; the same as into where there is no twin
    over,  // go on with the next entry, not into this one
    stop,  // end the whole walk: no further visit or leave
};

class WalkVisitor {
public:
    virtual ~WalkVisitor() = default;
    // Every entry, in pre-order.
    virtual WalkStep visit(const WalkEntry& e) = 0;
    // A directory visit() sent the walk into, once it is open and listed: `e` as visit() had
    // it. Its entries follow.
    virtual void enter(const WalkEntry& /*e*/, const WalkDir& /*d*/) {}
    // A directory that visit() sent the walk into, after its entries; `fd` is the descriptor
    // they were read through (O_RDONLY).
    virtual void leave(const WalkEntry& /*e*/, int /*fd*/) {}
    // A directory that could not be listed ("opendir", "readdir"), an entry that could not be
    // stat'ed ("stat"; ENOENT when it went away meanwhile), a directory that could not be
    // opened ("open"; ELOOP or ENOTDIR when it was replaced by a symlink or a file; the
    // twin's named by its own root), or one
    // past WalkOptions::max_depth ("walk", ELOOP); `err.path()` is the walk's path of it.
    // Throws it by default; return to skip what failed and go on. Except "reopen": a directory
    // whose descriptor the walk had closed (WalkOptions::max_open) could not be reopened as
    // it was (ESTALE when ".." is another directory now: it moved); the walk ends there
    // whether fail() throws or returns.
    virtual void fail(const SysError& err) { throw err; }
};

inline constexpr int kNoDepthBound = -1;

struct WalkOptions {
    // The deepest level listed: the root is level 0, its subdirectories level 1, ...
    // kNoDepthBound for none: a removal must go as deep as the tree does.
    int max_depth = 4096;
    // The most directory descriptors the walk holds at once, besides the caller's `dfd`
    // (one more while it enters a level). walk_trees holds as many of the twin's, and one
    // more: the deepest level the twin has, while the walk is below it, stays open (its
    // reopening goes through a child, which the twin lacks there).
    int max_open = 32;
    // With `open_share` N > 0, max_open is a floor: a walk that goes deeper than it keeps up to
    // 1/N of the soft RLIMIT_NOFILE open (the twin's included) before it closes any, the limit
    // read once, when the walk first gets that deep. A bound set for a low limit (64) then
    // costs no close and reopen per level where the limit is the usual 1,024 or more.
    int open_share = 0;
    // Each directory's entries in byte order of their names; readdir order otherwise.
    bool sorted = false;
    // lstat every entry. false: `st.st_mode` holds only the type from the directory entry
    // (an lstat only where the filesystem does not tell it), the rest of `st` is zero.
    bool stat = true;
    // Read the root through `dfd` itself, from its offset on, which the reading consumes: for
    // a caller that opened it for the walk alone (an open, a stat and a close fewer).
    bool consume_root = false;
};

// Walks the tree below the directory open at `dfd` (which stays open, its offset untouched
// unless WalkOptions::consume_root).
// Memory grows with the depth (each open level's listing and path), descriptors do not.
// `root` prefixes every WalkEntry::path and names the root in errors ("" for relative paths).
void walk_tree(int dfd, const std::string& root, WalkVisitor& v, const WalkOptions& o = {});

// The same, with the tree below `twin_dfd` (named `twin_root` in errors) as the twin: every
// WalkEntry carries the twin's directory at the same place (twin_dirfd), down to where the
// visitor last went into_both. The twin is opened, never listed: the visitor reads in it
// what it wants, by name (and may list it from enter(): its offset is the visitor's).
void walk_trees(int dfd, int twin_dfd, const std::string& root, const std::string& twin_root,
                WalkVisitor& v, const WalkOptions& o = {});

}  // namespace agentbox::sys
