// The session store (DESIGN.md §5): $XDG_STATE_HOME/agentbox/sessions/<id>/ with meta.json,
// upper/, work/, log.jsonl. The staging issue adds changes, diff, commit, journal and undo.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stage/whiteout.hpp"
#include "sys/fd.hpp"

namespace agentbox::audit {
class SigningKey;
}

namespace agentbox::stage {

// The names in a session directory, spelled only here.
inline constexpr const char* kMetaFile = "meta.json";      // Meta, sealed
inline constexpr const char* kUpperDir = "upper";          // the overlay's upper layer: the changes
inline constexpr const char* kWorkDir = "work";            // overlayfs's work directory
inline constexpr const char* kDiscardedDir = "upper.discarded";  // upper/ being discarded
inline constexpr const char* kLogFile = "log.jsonl";       // the decision log
inline constexpr const char* kJournalFile = "journal";     // a commit or undo under way, sealed
inline constexpr const char* kTouchedFile = "touched.json";  // what commits changed, sealed
inline constexpr const char* kCommitsDir = "commits";      // commits/N.json, sealed

struct Meta {
    std::string id;          // sortable: UTC time + random suffix, e.g. 20261122T221400Z-3f9a1c
    std::string project;     // absolute
    std::vector<std::string> argv;
    std::string status;      // running | staged | empty | committed | discarded | failed
    std::string created;     // RFC 3339 UTC
    long long start_ns = 0;  // CLOCK_REALTIME at creation, for conflict checks
    std::vector<std::string> profiles;  // as given to run (-p), for commit's protect rules
    // How the run stages (whiteout.hpp): which whiteout form upper/ holds. Absent from the
    // meta.json of a session made before it was recorded: those are all overlay-format.
    Staged staged = Staged::overlay;
    // The project directory's identity when the session was created: commit, undo and
    // recovery write only into that directory (open_project).
    std::uint64_t project_dev = 0, project_ino = 0;
    // The head of the decision log when it was last signed: seq and hash of that line, so that
    // a log cut back to an earlier signed line is seen (`log --verify`). -1: never signed.
    // The hash starts as 64 zeros so that recording the head keeps meta.json's size, and the
    // end of a run can rewrite it in place (session.cpp, rewrite_in_place).
    long long log_seq = -1;
    std::string log_hash = std::string(64, '0');
    // Why list_sessions() calls the session "broken" (status "broken"); "" otherwise.
    std::string broken;
};

// A session file that agentbox did not write: no MAC, or one that does not verify. Never
// acted on.
class Unauthenticated : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Session files agentbox reads back and acts on (meta.json, the commit journal, commit records,
// touched.json) carry a MAC by the user's key (audit/seal.hpp) over the session id (the name of
// `dir`), the file's `name` relative to `dir` and its bytes. These four are the only way such a
// file is written or read.
std::string seal_session_file(const std::string& dir, const std::string& name,
                              std::string_view bytes);
// The log key at config_dir()/log-key, which a run has just loaded to sign its log: the key of
// the session files is derived from it here, so that the first seal does not read it again.
void remember_log_key(const audit::SigningKey& key);
// The bytes of a sealed file; throws Unauthenticated naming the file and why.
std::string unseal_session_file(const std::string& dir, const std::string& name,
                                std::string_view sealed);
// Atomically and durably replaces dir/name with `bytes`, sealed.
void write_authenticated(const std::string& dir, const std::string& name, std::string_view bytes);
// Reads dir/name (not following a symlink) and unseals it: SysError when it cannot be read,
// Unauthenticated when agentbox did not write it.
std::string read_authenticated(const std::string& dir, const std::string& name);

class Session {
public:
    // Create a new session directory (mode 0700) with upper/ and work/ on the same filesystem,
    // and its meta.json ("running").
    static Session create(const std::string& project, const std::vector<std::string>& argv,
                          const std::vector<std::string>& profiles = {},
                          Staged staged = Staged::overlay);
    // The same, but meta.json is left to record_start(): `run` writes it while the sandbox is
    // being built, before the command can write anything, rather than on the way to the clone
    // (~0.1 ms of a run's start). Until then it is no session: not listed while its run holds
    // its run.lock (taken here), removed by the next look once the run is gone.
    // `staged`: how the run will stage, fixed from here on (Meta::staged).
    static Session create_unrecorded(const std::string& project,
                                     const std::vector<std::string>& argv,
                                     const std::vector<std::string>& profiles, Staged staged);
    void record_start();
    // Open an existing one by id or unique prefix; "" = newest of `project`. A broken session
    // (meta.json missing, malformed or not written by agentbox) is refused, saying why.
    static Session open(const std::string& id_or_prefix, const std::string& project);
    // The same for a Meta that list_sessions() has just read: its meta.json is not read and
    // verified a second time (a command that picks the newest session lists them first).
    static Session open_listed(const Meta& m);

    const Meta& meta() const { return meta_; }
    const std::string& dir() const { return dir_; }
    std::string upper() const { return dir_ + "/" + kUpperDir; }
    std::string work() const { return dir_ + "/" + kWorkDir; }
    std::string log_path() const { return dir_ + "/" + kLogFile; }
    // The whiteout form of upper/: the only one its readers honour.
    Whiteouts whiteouts() const { return whiteouts_for(meta_.staged); }
    // Rewrites meta.json atomically. `durable`: also fsync it and the directory before
    // returning; otherwise the new status survives a crash only once sync_meta() has run (or
    // the filesystem's own writeback), which saves two disk flushes when a later write
    // supersedes it anyway.
    void set_status(const std::string& status, bool durable = true);
    // Make the last meta.json write durable, if it was not (a held one written first). The
    // status the user acts on (staged, failed...) must survive a crash; a run ends with this.
    void sync_meta();
    // From here until write_held_meta(), a change that need not be durable (set_status without
    // `durable`, record_log_head) is kept in memory, not written: a run's end then writes the
    // status its review settled and the head of its log's session.end in one write, not one
    // each (note 92). A durable change still writes at once, what is held included. A crash
    // before write_held_meta leaves meta.json as the last write left it.
    void hold_meta();
    void write_held_meta();
    // Held by `run` for as long as the sandbox lives (an flock, so a killed run releases it).
    // A session whose meta.json still says "running" but whose lock is free was cut short:
    // its supervisor died, or could not record the end (a full disk).
    // create_unrecorded takes it before the session directory has its id; the first call
    // hands that one over.
    sys::unique_fd hold_run_lock();
    bool running() const;
    // The project directory, opened (O_DIRECTORY) and checked to be the very directory the
    // session was created for: a project path that now names another directory (renamed,
    // replaced by a link) is refused, so nothing is ever written anywhere else.
    sys::unique_fd open_project() const;
    // Records the head of the decision log after a signed line (Meta::log_seq, log_hash).
    // Not flushed: a crash may lose it, which only weakens what --verify can tell.
    void record_log_head(std::uint64_t seq, const std::string& hash);
    // After a run: overlayfs leaves mode-000 directories in work/ that the user could not even
    // list, and so not remove. They are opened up to the user, not removed: freeing a
    // directory costs more than the rest of a short run's end (evicting its inode, a
    // synchronous discard where the filesystem is mounted -o discard), and `sessions --prune`
    // removes whole sessions.
    void open_up_work() const;
    // The end of a discard (stage::discard), which first renames upper/ to kDiscardedDir: an
    // empty upper/, the status "discarded", then the old one removed. Nothing without it; at
    // every open, for a discard that was cut short.
    void finish_discard();
    // The overlay is volatile (sandbox/linux/mounts.cpp): what the command wrote may still be
    // only in the page cache when the sandbox is gone. Before a change is reported staged --
    // kept for a later review, offered at the prompt, or left over by a partial commit -- it
    // is flushed (syncfs of upper/), so that a crash cannot leave a "staged" session with
    // half-written files for a later commit to apply. A command that wrote nothing costs one
    // readdir. Returns whether upper/ holds anything at all.
    bool sync_staged() const;

private:
    // Remove a session that failed before its meta.json was written.
    void remove_unrecorded() const;
    Meta meta_;
    std::string dir_;
    bool meta_durable_ = false;
    bool hold_meta_ = false;  // hold_meta() .. write_held_meta()
    bool meta_held_ = false;  // meta_ has a change meta.json does not
    sys::unique_fd run_lock_;
};

// $XDG_STATE_HOME/agentbox (default ~/.local/state/agentbox); `run` creates it, 0700.
std::string state_dir();
// $XDG_CONFIG_HOME/agentbox (default ~/.config/agentbox).
std::string config_dir();
// $XDG_CACHE_HOME/agentbox (default ~/.cache/agentbox): compiled seccomp filters.
std::string cache_dir();
// All sessions, oldest first.
std::vector<Meta> list_sessions();
// The sessions whose meta.json (read and verified) names `project`, oldest first; never a
// broken one, whose project is unknown. Only the meta.json of the sessions the project index
// ties to `project`, or does not know, is read (session.cpp, "The project index").
std::vector<Meta> list_project_sessions(const std::string& project);
// The ids of all session directories, sorted: what a prefix is matched against.
std::vector<std::string> session_ids();
// Removes session `m`'s entry from the project index (after the session itself is removed).
void unindex_session(const Meta& m);
// Whether session `id`'s upper/ has an entry: the command wrote something. False when it
// cannot be read. One short readdir (the first entries, not the whole directory): walking
// upper/ for the exact change set would hash every staged file.
bool has_staged(const std::string& id);

}  // namespace agentbox::stage
