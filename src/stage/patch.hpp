// Renderings of a change set (DESIGN.md §5 "Diff"): a git-style unified patch, a --stat
// summary, --name-status lines and JSON. Path filters are the caller's: these render every
// change they are given.
//
// What a patch can carry is what git can: regular files (mode 100644 or 100755) and symlinks
// (120000). Directories appear only through the files below them, so a deleted directory is
// the deletion of every file under it in the project, an added empty directory is not in the
// patch at all, and a change git cannot represent (refused: devices, fifos, sockets; permission
// bits other than the owner's x) is left out of the patch and --stat but stays in
// --name-status and JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stage/changes.hpp"

namespace agentbox::stage {

struct PatchOptions {
    // false: binary files as "Binary files a/P and b/P differ", reading no more of them than
    //   the first 8000 bytes that decide binary (what `git diff` shows).
    // true: "index <sha1>..<sha1>" and "GIT binary patch" data (git diff --full-index
    //   --binary): the whole patch is then applicable by `git apply`, binary files included,
    //   at the price of reading and compressing them. For `export --format patch`.
    bool binary = false;
    int context = 3;  // lines of context around each hunk
};

// A unified patch with git headers that `git apply` accepts on the original project tree:
// `diff --git`, new/deleted file modes, old/new mode, symlinks as mode 120000 with the target
// as content, C-quoted paths where git quotes them. Changes are rendered in the order given;
// a type change is the deletion of the old path (all of it, for a directory) followed by the
// addition of the new one, as git renders it.
std::string patch(const std::vector<Change>& changes, const std::string& upper,
                  const std::string& project, const PatchOptions& opts = {});

// Like `git diff --stat=width`: " name | N +++--" for each file of the patch, "Bin X -> Y
// bytes" for binary ones, then the summary line ("N files changed, X insertions(+), Y
// deletions(-)"). Names are escaped with escape_for_terminal. Empty when nothing to show.
std::string stat(const std::vector<Change>& changes, const std::string& upper,
                 const std::string& project, int width = 80);

// One line per change: "<kind_letter>\t<escaped path>", a '/' after directories.
std::string name_status(const std::vector<Change>& changes);

// A JSON array, one object per change, in order (pretty-printed, ends with a newline):
//   { "path": "src/a.c",            // relative to the project root; invalid UTF-8 bytes are
//                                   // replaced by U+FFFD here and the exact bytes are given
//                                   // as lowercase hex in "path_hex" (present only then)
//     "kind": "modified",           // kind_name(): added modified deleted replaced mode type
//     "old_mode": "100644",         // st_mode in the project as 6 octal digits, null if absent
//     "new_mode": "100755",         // st_mode in upper/, null for deleted
//     "size": 1234,                 // new content size (files), target length (symlinks)
//     "hash": "…32 hex…",           // XXH3-128 of the new content, null if none
//     "link_target": "../x",        // new symlink target, null if not a symlink (invalid UTF-8
//                                   // as for path, exact bytes in "link_target_hex")
//     "link_outside": false,        // the new symlink resolves outside the project
//     "setid": false,               // setuid/setgid bits that commit strips
//     "refused": null }             // why the change can never be committed, null if it can
std::string to_json(const std::vector<Change>& changes);

// `s` made safe to print on a terminal: control characters (C0, DEL and C1), bidirectional
// and zero-width formatting characters and invalid UTF-8 become visible escapes (\t \n \r
// \x1b \u202e), and '\' becomes "\\" so that an escape cannot be forged by the name itself.
// Valid printable UTF-8 is kept as it is.
std::string escape_for_terminal(std::string_view s);

// The same for multi-line text (a patch on its way to a terminal without a pager): newlines
// and tabs are kept, everything else is escaped as above.
std::string escape_text_for_terminal(std::string_view s);

// A path quoted as git quotes it in patches: unchanged unless it has '"', '\', control bytes
// or bytes >= 0x80, then in double quotes with C escapes (\t \n \" \\) and octal (\303\251).
std::string git_quote(std::string_view path);

}  // namespace agentbox::stage
