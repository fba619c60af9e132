// The change set of a session (DESIGN.md §5), computed by walking upper/ only: the project is
// consulted for the paths upper/ names, never walked as a whole, so the cost grows with the
// changes and not with the project.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stage/whiteout.hpp"

namespace agentbox::stage {

enum class Kind {
    added,     // not in the project; new in upper/
    modified,  // same type on both sides, content (or link target) differs
    deleted,   // a whiteout: the project path (file, link or whole directory) goes
    replaced,  // an opaque directory: the project's directory is emptied, upper's content
               // is what remains (its entries follow as their own `added` changes)
    mode,      // same content, permission bits differ
    type,      // the path's type differs (file -> symlink, dir -> file, ...)
};
const char* kind_name(Kind k);  // "added", "modified", ...
char kind_letter(Kind k);       // A M D R T and 'M' for mode: as git's --name-status

// The deepest staged path the change list lists as a change that can be committed, in
// components ("a/b" is 2). Past it (or at PATH_MAX bytes or more) the shallowest path with a
// change at or below it is one change that is refused (Change::refused), and nothing more of
// its subtree is listed; an untouched part of a project deeper than this (copied up, or
// copy-staged) is no change (design notes 74, 81).
inline constexpr int kMaxStagedDepth = 256;

struct Change {
    std::string path;  // relative to the project root, '/'-separated, no leading or trailing /
    Kind kind = Kind::added;
    mode_t old_mode = 0;  // st_mode in the project (type bits included), 0 when absent
    mode_t new_mode = 0;  // st_mode in upper/, 0 for deleted
    std::uint64_t size = 0;    // new content size (regular files), link length (symlinks)
    std::string hash;          // XXH3-128 of new content, 32 lowercase hex digits; "" if none
    std::string link_target;   // new symlink target
    bool link_outside = false;  // the new symlink resolves outside the project
    bool setid = false;         // upper/ has setuid/setgid bits: they are stripped at commit
    std::string refused;        // non-empty: why this change can never be committed
                                // ("device node", "fifo", "socket", too deep: kMaxStagedDepth)
    // The staged file or link as the walk read it (0: not recorded). stage::commit refuses
    // one that is no longer so: what it would write is not what the review showed and was
    // approved (a new inode, or a ctime moved by a write, however the content came back).
    ino_t staged_ino = 0;
    std::int64_t staged_ctime_ns = 0;
};

// Walk `upper` against `project`. Results are in tree order: names sorted bytewise within a
// directory, a directory's change before its entries'. Directories that only exist in upper/ because something below
// them changed are not changes. Files copied up without a content or mode change are not
// changes either.
//
// Only the overlay's own metadata is read: a whiteout is of the session's form and no other
// (whiteout.hpp: a character device 0/0 in an overlay session, the only form overlayfs writes
// to an upper layer -- xwhiteouts are a lower-layer format and are content here; the portable
// form in a copy session); opaque is user.overlay.opaque or trusted.overlay.opaque = "y".
// Escaped names (user.overlay.overlay.*), which is what the command gets when it sets these
// xattrs itself, are content, not metadata. A whiteout with no project path behind it is
// dropped: it can delete nothing. Names beginning with ".agentbox-tmp-" are agentbox's own
// temporaries (commit.hpp) and never changes.
//
// `hashes`: Change::hash of every staged regular file (what --json, the patch header, the
// review's log and commit's undo check record). Without it (name-status, counts) a file's
// content is read only where its kind depends on it -- same type and size on both sides --
// and then compared, never hashed, and hash stays "" for regular files.
//
// The names of the overlay's opaque mark, above: the commit takes it off a directory it landed.
inline constexpr const char* kOpaqueXattrs[] = {"user.overlay.opaque", "trusted.overlay.opaque"};

// A session's change set: its upper/, read with the whiteout form its meta.json records.
enum class Hashes { all, none };
class Session;
std::vector<Change> changes(const Session& s, const std::string& project,
                            Hashes hashes = Hashes::all);
// The same for a bare layer whose whiteouts are of `whiteouts`.
std::vector<Change> changes(const std::string& upper, const std::string& project,
                            Hashes hashes = Hashes::all, Whiteouts whiteouts = Whiteouts::device);

// XXH3-128 of bytes (a link target), 32 hex digits.
std::string hash_bytes(std::string_view data);
// XXH3-128 of a file's content, 32 hex digits; `shown` names it in errors.
std::string hash_file(int dirfd, const std::string& path);
std::string hash_file(int dirfd, const std::string& path, const std::string& shown);
// The same for a file lstat'ed at `size` bytes (-1: unknown), which saves the read that
// finds the end.
std::string hash_file_sized(int dirfd, const std::string& path, off_t size, const std::string& shown);

}  // namespace agentbox::stage
