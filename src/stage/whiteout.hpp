// How a session's upper/ marks a deletion: one function pair for every reader and writer
// (changes, commit's undo and re-staging, the copy strategy's materialiser), so that diff,
// commit, undo, review, patch and archive agree on what is deleted. docs/DESIGN.md §5 and
// docs/design-notes.md ("Portable whiteouts") say why there are two forms.
#pragma once

#include <sys/stat.h>

#include <string>

namespace agentbox::stage {

// How a session stages the command's writes. Recorded in its sealed meta.json when it is
// created, before the sandbox exists: nothing the command does can change which whiteout form
// the session's readers honour.
enum class Staged {
    overlay,  // the command writes upper/ itself, through overlayfs
    copy,     // it writes a snapshot; only the materialiser writes upper/ (snapshot.hpp)
    none,     // nothing is staged: upper/ stays empty
};
const char* staged_name(Staged s);  // "overlay", "copy", "none": the meta.json spelling

// The whiteout forms.
enum class Whiteouts {
    // overlayfs's own: a character device 0/0. The only form an overlay session has: the
    // kernel writes it, and reads it again when the layer is mounted. Making one needs
    // mknod, which macOS allows only to root.
    device,
    // Copy staging's, on every platform: an empty regular file (mode 0600) carrying
    // kWhiteoutXattr. Any user can make one, with any filesystem that has user xattrs.
    // Honoured only in a copy
    // session, whose upper/ the command never writes: in an overlay session the command can
    // make exactly this file through the overlay, and there it is only a file.
    portable,
};
inline constexpr const char* kWhiteoutXattr = "user.agentbox.whiteout";

// The form a session of kind `s` uses (and the only one its readers honour).
Whiteouts whiteouts_for(Staged s);

// Whether `name` in `dirfd`, lstat'ed as `st`, is a whiteout of `form`. The portable form is
// opened to read its xattr (only an empty regular file is); what cannot be opened is not one.
bool is_whiteout(Whiteouts form, int dirfd, const std::string& name, const struct stat& st);

// Makes a whiteout of `form` as `name` in `dirfd` (nothing may be there). Throws SysError
// naming `shown`: a filesystem without user xattrs cannot hold a portable whiteout (ENOTSUP),
// and is refused rather than losing the deletion; the device form is Linux-only (ENOTSUP
// elsewhere: macOS sessions are copy sessions).
void make_whiteout(Whiteouts form, int dirfd, const std::string& name, const std::string& shown);

// A portable whiteout that is not agentbox's: `name` in `dirfd` (a file of the copy the
// command wrote, about to be staged) loses kWhiteoutXattr, so that it is staged as the file
// it is and never reads as a deletion. A directory is disarmed with everything below it
// (its directories given their owner's rwx, as upper/'s get them: snapshot.hpp, open_up_staged).
// Throws SysError when the mark cannot be removed.
void disarm_whiteouts(int dirfd, const std::string& name, const std::string& shown);

}  // namespace agentbox::stage
