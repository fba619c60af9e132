// Renderings of a change set (DESIGN.md §5 "Diff"): a git-style unified patch, a --stat
// summary, --name-status lines and JSON. Path filters are the caller's: these render every
// change they are given.
//
// What a patch can carry is what git can: regular files (mode 100644 or 100755) and symlinks
// (120000). Directories appear only through the files below them, so a deleted directory is
// the deletion of every file under it in the project, an added empty directory is not in the
// patch at all, and a change git cannot represent (refused: devices, fifos, sockets) is left
// out of the patch and --stat but stays in --name-status and JSON. Permission bits are not
// carried beyond git's two file modes, and commit writes no others (landing_mode below).
//
// Memory: the patch is produced one file at a time into a Sink. A text file is diffed in memory
// only up to max_text_bytes and max_text_lines per side; a larger one, and every binary one, is
// read a block at a time (to hash it and, for `binary`, to deflate it), never held whole.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "stage/changes.hpp"
#include "stage/select.hpp"

namespace agentbox::stage {

// Where rendered text goes, a piece at a time (at most one file's text diff in one piece).
using Sink = std::function<void(std::string_view)>;

// Above either limit a text file is shown as large, like a binary one: its size and hash,
// "Large files a/P and b/P differ", and as `GIT binary patch` data when `binary`. They bound
// what one file's text diff costs (the two sides, and libgit2's per-line records).
constexpr std::uint64_t max_text_bytes = 8ull << 20;
constexpr std::size_t max_text_lines = 200000;

struct PatchOptions {
    // false: binary (and large) files as "Binary files a/P and b/P differ", reading no more
    //   of a binary one than the first 8000 bytes that decide binary (what `git diff` shows).
    // true: "index <sha1>..<sha1>" and "GIT binary patch" data (git diff --full-index
    //   --binary): the whole patch is then applicable by `git apply`, binary files included,
    //   at the price of reading them twice (hash, then deflate), a block at a time.
    bool binary = false;
    int context = 3;  // lines of context around each hunk
    std::uint64_t text_bytes = max_text_bytes;
    std::size_t text_lines = max_text_lines;
};

// A unified patch with git headers that `git apply` accepts on the original project tree:
// `diff --git`, new/deleted file modes, old/new mode, symlinks as mode 120000 with the target
// as content, C-quoted paths where git quotes them. Changes are rendered in the order given;
// a type change is the deletion of the old path (all of it, for a directory) followed by the
// addition of the new one, as git renders it. Text goes to `out` as it is made.
void patch(const std::vector<Change>& changes, const std::string& upper,
           const std::string& project, const PatchOptions& opts, const Sink& out);
// The same, collected (for callers that need the text whole: tests, small change sets).
std::string patch(const std::vector<Change>& changes, const std::string& upper,
                  const std::string& project, const PatchOptions& opts = {});

// The change set with every project entry below a deleted directory listed after it as a
// deletion of its own, in tree order, as git lists each deleted file (`rm -rf src` is not
// just "D src/"). A path already listed is not repeated.
std::vector<Change> with_deleted_entries(const std::vector<Change>& changes,
                                         const std::string& project);

// The permission bits commit gives what it writes (DESIGN.md §5): exactly what the patch can
// show. A regular file whose owner-executable bit is unchanged keeps the project's bits; any
// other regular file gets git's (0777 or 0666, by the owner's x bit) less `umask`, as `git
// checkout` writes it. A directory keeps the project's bits, its own setgid or sticky bit
// included, or, new, gets 0777 less `umask`. No staged setuid, setgid or sticky bit lands,
// and no group or world write the umask does not grant.
// `staged` and `old` are st_mode values (old 0 when absent).
mode_t landing_mode(mode_t staged, mode_t old, mode_t umask);
// The calling process's umask, read without changing it.
mode_t process_umask();
// Group- or world-writable: what the review flags in a staged mode, even though commit does
// not write it.
bool loose_mode(mode_t m);

// Like `git diff --stat=width`: " name | N +++--" for each file of the patch, "Bin X -> Y
// bytes" for binary and large ones, then the summary line ("N files changed, X
// insertions(+), Y deletions(-)"). Names are escaped with util::escape_for_terminal. Empty
// when nothing to show.
std::string stat(const std::vector<Change>& changes, const std::string& upper,
                 const std::string& project, int width = 80);

// One line per change: "<kind_letter>\t<escaped path>", a '/' after directories, and
// "\t(staged mode 100666: group/world-writable; commit writes 100644)" when loose_mode.
std::string name_status(const std::vector<Change>& changes);

// A JSON array, one object per change, in order (pretty-printed, ends with a newline). Names
// and link targets use the encoding of util/json_text.hpp: a string, plus KEY_base64 with the
// exact bytes when they are not valid UTF-8.
//   { "path": "src/a.c",            // relative to the project root
//     "kind": "modified",           // kind_name(): added modified deleted replaced mode type
//     "old_mode": "100644",         // st_mode in the project as 6 octal digits, null if absent
//     "new_mode": "100755",         // what commit writes (landing_mode), null for deleted
//     "staged_mode": "100777",      // st_mode in upper/, null for deleted
//     "loose_mode": false,          // staged_mode is group- or world-writable
//     "size": 1234,                 // new content size (files), target length (symlinks)
//     "hash": "…32 hex…",           // XXH3-128 of the new content, null if none
//     "link_target": "../x",        // new symlink target, null if not a symlink
//     "link_outside": false,        // the new symlink resolves outside the project
//     "setid": false,               // setuid/setgid bits that commit strips
//     "refused": null }             // why the change can never be committed, null if it can
// With `moves` (diff --json), each object also has "refs": the branches that change moves
// (branch_moves_json), [] for the others.
std::string to_json(const std::vector<Change>& changes,
                    const std::vector<BranchMove>* moves = nullptr);

// What a moved branch brings, for the reviewer: for each, its name, ids, the commits it adds
// (subjects) and the paths their trees change, as git's --name-status letters; every name
// escaped for the terminal. "" when `moves` is empty.
std::string branch_moves_text(const std::vector<BranchMove>& moves);

// A path quoted as git quotes it in patches: unchanged unless it has '"', '\', control bytes
// or bytes >= 0x80, then in double quotes with C escapes (\t \n \" \\) and octal (\303\251).
std::string git_quote(std::string_view path);

}  // namespace agentbox::stage
