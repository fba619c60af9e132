// File operations for commit and undo: every path resolved beneath a root fd without following
// symlinks, moves that fall back to copies across filesystems, and durable small files.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <string_view>

#include "sys/fd.hpp"
#include "util/paths.hpp"

namespace agentbox::stage::fsops {

// The open flags of a directory that only anchors *at calls (open_dir_beneath, a Tree's
// directories): O_PATH on Linux, which reads nothing and needs only search permission on the
// directory. macOS has no O_PATH: a plain read-only open there, so a directory its owner may
// search but not read (mode 0311) cannot be anchored -- an EACCES where Linux goes on -- and
// the descriptor serves fsync and fchmod as it is (Linux reopens it through /proc/self/fd).
#ifdef __linux__
inline constexpr int kDirHandle = O_PATH | O_DIRECTORY;
#else
inline constexpr int kDirHandle = O_RDONLY | O_DIRECTORY;
#endif

// The directory `rel` ("" = the root itself) under `root`, resolved with openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS (sys::open_beneath: a
// component walk where there is no openat2); kDirHandle. Throws SysError.
sys::unique_fd open_dir_beneath(int root, const std::string& rel, const std::string& shown);
// As above, and create missing directories (mode 0700) on the way.
sys::unique_fd make_dirs_beneath(int root, const std::string& rel, const std::string& shown);

// Split "a/b/c" into "a/b" and "c" (util/paths.hpp).
using util::split_parent;

bool exists_at(int dirfd, const std::string& name, struct stat* st = nullptr);

// Gives its owner rwx on the directory `name` in `dirfd` (AT_FDCWD with a whole path), whose
// mode is `mode`, when it lacks any of them: a directory the command made read-only or
// unreadable must still be listed, entered and emptied by the session's owner, not only by
// root (snapshot.hpp, open_up_staged). Returns whether it changed the mode; throws SysError
// naming `shown`. The chmod never follows a symlink: one put at `name` since `mode` was read
// is left alone (false), so a tree something may still write cannot aim it elsewhere.
bool give_owner_rwx(int dirfd, const std::string& name, mode_t mode, const std::string& shown);
// The same for a regular file and its owner's read: its content is read for the review.
bool give_owner_read(int dirfd, const std::string& name, mode_t mode, const std::string& shown);

// A staged directory given its owner's rwx (above) keeps the permission bits it had in this
// xattr, octal text, so that the review shows the mode the command gave it. Read by
// staged_dir_mode, which trusts it only where it agrees with the directory's own mode.
inline constexpr const char* kModeXattr = "user.agentbox.mode";
// Gives the staged directory open at `fd` the permission bits `mode` plus its owner's rwx,
// recording `mode` (kModeXattr) where that added any, and dropping a record otherwise.
// Where a record cannot be written (no user xattrs) nothing stops: the review then shows the
// mode as it is.
void set_staged_dir_mode(int fd, mode_t mode, const std::string& shown);
// The mode of the staged directory open at `fd`, lstat'ed as `st_mode`, as the command left
// it: st_mode with the permission bits recorded by give_owner_rwx or set_staged_dir_mode,
// when there is a record and the directory's bits are those plus its owner's rwx. The
// command can set the xattr itself, but so only claim a mode it could have set by chmod.
// `listed`: the directory's xattr names as flistxattr gives them (kModeXattr alone when the
// list was too long to read: then it is asked for by name).
mode_t staged_dir_mode(int fd, mode_t st_mode, std::string_view listed);

// The names a move may use for its temporaries: `tmp` beside the destination (the copy being
// made), `old` beside the source (the source once the copy is complete). Both come from the
// caller's journal, so that whoever finds them after a crash -- any later process -- knows
// what they are. Both start with kTempPrefix, which the change scan never stages.
struct MoveNames {
    std::string tmp, old;
};
inline constexpr const char* kTempPrefix = ".agentbox-tmp-";
bool is_temp_name(std::string_view name);

// Move an entry (file, link or tree) from one directory to another without replacing anything
// at the destination (EEXIST if there is something). One filesystem: a rename. Across
// filesystems: a copy to names.tmp beside the destination, made durable; then the source is
// renamed to names.old, the copy renamed into place, and names.old removed. So the
// destination name appears only once the source name is gone, and a move cut short at any
// point is finished (or, with its copy lost, started again) by calling move_at again with the
// same names. True when something was moved (or a cut-short move finished); false when there
// was no source.
bool move_at(int sdir, const std::string& sname, int ddir, const std::string& dname,
             const MoveNames& names, const std::string& shown);
// Replace `name` in `dir` with a private copy of itself (a new inode: a hard link no longer
// ties it to another path), through the temporary `tmp`. Setuid and setgid bits are not
// copied.
void unshare_at(int dir, const std::string& name, const std::string& tmp, const std::string& shown);

// Give the regular file `sname` in `sdir` (a staged file about to land) the extended
// attributes a file's owner can set (user.*, POSIX ACLs) that the regular file `oname` in
// `odir` has -- the project's original -- and no others; none when `odir` is -1 or the original
// is not a regular file. The review shows a file's content and mode only: what the command set
// beside them (or overlayfs, whose user.overlay.origin marks a copy-up) must not land with it.
// Its mode is left as it was. A symlink or other non-regular entry is left alone.
void keep_original_xattrs(int sdir, const std::string& sname, int odir, const std::string& oname,
                          const std::string& shown);

// Write `data` to `path` atomically and durably (temp file, fsync, rename, fsync of the dir).
void write_file_atomic(const std::string& path, const std::string& data);
void fsync_dir(const std::string& path);

}  // namespace agentbox::stage::fsops
