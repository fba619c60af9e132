// Deny globs expanded on the host (HostFacts::glob, glob_all): the paths a profile's
// "@project/**/.env" stands for at this moment, for the plan to mask one by one.
//
// A pattern with ** is a walk of the tree below its last literal directory, and a project's
// tree can be large (a node_modules/ is tens of thousands of files): reading every directory
// was most of a run's start there. With a cache directory, the walk remembers, per directory,
// its identity and change time, its subdirectories and its names that matched; a later walk
// stats each directory and reads only those whose identity or ctime changed. Adding, removing
// or renaming an entry changes its directory's ctime, which nobody can set back. A directory
// changed within two seconds of a walk's start is never remembered (file times tick coarser
// than the clock: a second change in the same tick would leave the ctime as it was), and only
// directories on the walked filesystem, when that is a local one (ext4, xfs, btrfs, tmpfs),
// are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace agentbox::sandbox::lnx {

struct WalkCache {
    std::string dir;              // where the walks are remembered; "" walks without
    std::int64_t now_ns = 0;      // when the walk starts (CLOCK_REALTIME); 0: now. For tests.
    std::size_t min_dirs = 64;    // a walk of fewer directories is not worth a file
    std::size_t* read = nullptr;  // if set, counts the directories read: for tests
};

// Each pattern's matches, sorted. Dotfiles match, "." and ".." never do; symlinks are matched
// but never followed. Patterns without ** go to glob(3).
std::vector<std::vector<std::string>> expand_globs(const std::vector<std::string>& patterns,
                                                   const WalkCache& cache = {});
std::vector<std::string> expand_glob(const std::string& pattern);

}  // namespace agentbox::sandbox::lnx
