// `agentbox export`: a session's changes as a tar archive (DESIGN.md §5), for review or for
// applying elsewhere. libarchive is used only in archive.cpp.
//
// Layout (pax tar, optionally gzip or zstd compressed):
//   manifest.json   first entry:
//                   { "agentbox_export": 1,
//                     "session": { …the caller's session metadata… },
//                     "changes": [ …to_json() array: every change, deletions included… ] }
//   files/<path>    the new content of every added, modified, mode and type change that is
//                   not refused: regular files with their permission bits minus setuid/setgid,
//                   symlinks as symlinks, directories as directories. Never devices, fifos or
//                   sockets. Owner 0:0, mtime kept. Hard links are stored as separate copies.
// Deleted paths exist only in the manifest (kind "deleted"; old_mode tells a directory).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "stage/changes.hpp"

namespace agentbox::stage {

enum class Format {
    from_name,  // decided by out_path's suffix
    tar,        // .tar
    tar_gz,     // .tar.gz, .tgz
    tar_zst,    // .tar.zst, .tzst
};

// The format for a file name's suffix; throws std::invalid_argument naming the supported
// suffixes when there is none of them.
Format format_for(const std::string& path);

// Write the archive to a temporary file beside out_path and rename it into place only once it
// is complete and fsynced, so a failed or interrupted export leaves no partial file.
// `session_json` is a JSON object (text) stored as the manifest's "session". An existing
// out_path is an error (SysError with EEXIST, checked atomically at the rename) unless
// `overwrite`. Reads upper/ only, every path resolved beneath it without following symlinks.
// `progress(done, total)` is called after each change, for a progress display.
void export_archive(const std::vector<Change>& changes, const std::string& upper,
                    const std::string& out_path, Format fmt = Format::from_name,
                    const std::string& session_json = "{}", bool overwrite = false,
                    const std::function<void(std::size_t, std::size_t)>& progress = {});

// The same archive written to an open descriptor (`agentbox export -o -`): nothing to rename,
// so a failure part way leaves a truncated stream, which the reader's tar reports. `shown`
// names the output in errors; `fmt` must not be from_name.
void export_archive_fd(const std::vector<Change>& changes, const std::string& upper, int fd,
                       const std::string& shown, Format fmt, const std::string& session_json = "{}",
                       const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace agentbox::stage
