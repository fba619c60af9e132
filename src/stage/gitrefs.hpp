// What a ref moved by the sandbox brings into the work tree later: a branch moved to commits
// the command made is only a new hash in the change set, but the next `git reset --hard`,
// `git checkout` or `git merge` on the host writes their files, which the review never showed.
// Read by the host's own git, not libgit2: what such a command later writes is what git
// parses (no second parser to differ from it on objects the sandbox crafted), and the objects
// stay out of agentbox's process. git runs with no configuration at all (no system, global
// or repository config; a temporary git directory of its own whose object store is the
// staged objects and the project's), no replace refs and no prompt, and is stopped after
// a few seconds: nothing of the sandbox's but the objects is read. Design note 75.
#pragma once

#include <string>
#include <vector>

namespace agentbox::stage {

struct RefMove {
    bool readable = false;             // git read every commit and tree it needed
    std::string error;                 // why not, when not
    std::vector<std::string> commits;  // "<short id> <subject>", newest first, at most 20
    std::vector<std::string> paths;    // what the new commit's tree changes from the old one's
    std::string status;                // for each of `paths`, git's letter: A, M, D or T
};

// The commits `new_id` adds to `old_id` (empty: a new ref, against the empty tree) and the
// paths their trees differ by, from the object directories `objects` (the staged one first;
// absent ones are left out).
RefMove read_ref_move(const std::vector<std::string>& objects, const std::string& old_id,
                      const std::string& new_id);

// "" when the pack `pack_name` ("pack-<id>.pack") in the directory `dir` holds what its
// index beside it (and its reverse index, when `rev`) says it does, as git's index-pack
// --verify computes it; else why not. git reads a packed object by its index without
// hashing it, and a pack's objects before loose ones, so a new pack whose index names
// HEAD's tree for other content changes what `git reset --hard` writes (design note 93).
std::string verify_pack(int dir, const std::string& pack_name, bool rev);

}  // namespace agentbox::stage
