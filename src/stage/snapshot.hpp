// The copy staging strategy (DESIGN.md §5): for backends without overlayfs (bubblewrap before
// 0.11), the sandbox writes to a reflink-or-copy snapshot of the project in the session. After
// the run, what differs between the snapshot and the project is moved into the session's
// upper/ in the overlay's format (changed entries, whiteouts for deletions: whiteout.hpp), so that
// changes(), diff, commit, export and undo work on it unchanged. docs/design-notes.md says why.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "stage/whiteout.hpp"

namespace agentbox::stage {

// Set by materialise on a file of upper/ that the command changed and the host deleted during
// the run (the project had it when the copy was made): the copy strategy's overlay.origin,
// which tells commit that a deletion on the host would be undone (commit.cpp, copied_up).
inline constexpr const char* kOriginXattr = "user.agentbox.origin";

struct Snapshot {
    std::string project;
    std::string dir;            // the copy, bound read-write at the project's path
    struct timespec started {};  // the ctime of a file made before the copy began
    // The ctime of a file made after the copy: an entry of the copy with a ctime before this
    // was not touched by the sandbox (nothing inside can set a ctime).
    struct timespec stamp {};
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::uint64_t reflinked = 0;  // files shared with the project by FICLONE, not copied
    // Inode of each directory the copy made -> its path in the project: what tells a directory
    // the sandbox renamed from one whose entries it changed. Not saved: a snapshot resumed
    // after a crash has none (materialise then stages a touched directory whole).
    std::unordered_map<std::uint64_t, std::string> dirs;
    // The directories left out of the copy (make_snapshot's `leave_out`), by identity: each
    // one's in the project, and the empty directory standing for it in the copy. Saved with
    // the times: materialise stages nothing at either, whatever their names.
    struct Identity {
        std::uint64_t dev = 0, ino = 0;
        bool operator==(const Identity&) const = default;
    };
    std::vector<Identity> left_out;      // in the project
    std::vector<Identity> placeholders;  // in the copy
    std::vector<Identity> holding;       // the project's directories above one: never deleted
};

// Copy `project` to `dir` (which must not exist): regular files (reflinked where the
// filesystem can), directories, symlinks, with modes and times, and owners when run as root.
// Fifos, sockets and device nodes are left out: nothing inside can open the project's ones.
// So is every directory of `leave_out` the walk meets, and `dir` itself, known by device and
// inode, not by path (a bind mount, or a path through a symlink, is the same directory):
// agentbox's own directories (Invocation::own_dirs), which the sandbox never sees (a mask
// covers them) and which hold `dir` when the home is the project -- a copy would copy itself.
// Each is an empty directory in the copy (0700): the mask's mount point, made here so that
// bwrap does not make it in the copy during the run, where it would read as the command's.
// Throws SysError naming the path that could not be copied.
Snapshot make_snapshot(const std::string& project, const std::string& dir,
                       const std::vector<std::string>& leave_out = {});

// What make_snapshot would copy from `project` now (`run --dry-run` says it before a run pays
// it): regular files and their bytes, directories, symlinks; what `leave_out` names counts as
// the empty directory it is in the copy. Throws SysError like make_snapshot.
struct CopyCost {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::uint64_t dirs = 0;
    std::uint64_t links = 0;
};
CopyCost snapshot_cost(const std::string& project, const std::vector<std::string>& leave_out = {});

// Move what differs into `upper` (existing, empty): entries that are new, of another type, or
// touched since the stamp; a whiteout of `form` (the session's: portable for every copy
// session, device only for one recorded before sessions recorded their staging) for each
// project entry the copy no longer has. Device nodes in the copy are never moved, and what
// is moved is disarmed (disarm_whiteouts): nothing the command made reads as a whiteout. An
// entry of the project changed during the run by someone else is deleted only when it is
// certain the copy had it at the same path (commit then reports the conflict). Nothing is
// staged at a directory left out of the copy (Snapshot::left_out, placeholders): its content
// missing from the copy is no deletion, and the sandbox never saw it; nor is a deletion or
// replacement of a project directory above one (Snapshot::holding).
// Returns the number of entries moved or whited out.
std::uint64_t materialise(const Snapshot& snap, const std::string& upper, Whiteouts form);

// Gives the owner rwx on every directory of `upper` (a session's, once nothing writes it) and
// read on every regular file: commit moves entries out of the directories and undo back in,
// and changes() lists them and reads the files, which a directory the command made
// read-only (or unreadable), or a file it made unreadable, would stop for anyone but root.
// Nothing that lands is lost: commit never writes a staged directory's mode (landing_mode
// keeps the project's, or gives a new one 0777 minus the umask), nor a file's read bits
// (landing_mode reads its owner's x bit only). At the end of an overlay run and of
// materialise, and, for an overlay run killed before its end, when the session is next
// opened (Session::open). No chmod follows a symlink (fsops::give_owner_rwx).
void open_up_staged(const std::string& upper);

// Removes the snapshot (and its saved times) once its work is in upper/.
void discard_snapshot(const std::string& dir);

// A snapshot left by a run that never finished (killed with SIGKILL, a crash): materialise
// it with the times saved next to it, then discard it. False when there is none.
bool resume_snapshot(const std::string& project, const std::string& dir, const std::string& upper,
                     Whiteouts form);

}  // namespace agentbox::stage
