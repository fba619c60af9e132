// The decision log writer (DESIGN.md §7): JSON Lines appended to <session>/log.jsonl,
//   {"v":1,"ts":"…","session":"…","seq":N,"event":"…",…,"prev":"…","hash":"…"}
// each line written with one write(2) on an O_APPEND descriptor, so that a reader (agentbox log
// --follow) and a crash only ever cut the log between lines. Copies go to more descriptors
// (--log FILE, --log-fd N) for a collector.
//
// session.start records the public key; every session.end carries "key", the number of events
// that could not be written ("dropped") and "sig", the Ed25519 signature of the chain head
// (chain.hpp). A log may hold several session.end events: commands that act on a session later
// (commit, discard, undo) resume its chain with open_append() and sign it again.
//
// Once a log has been signed, every line appended after it is signed too ("sig" before
// "hash"): a commit, an approval or an undo recorded after a run's end can then neither be
// cut off nor be replaced without the key. The head of the chain after each signed line is
// handed to on_signed(), which keeps it in the session's authenticated metadata, where cutting
// the log cannot hide it (audit/verify.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit/chain.hpp"
#include "audit/event.hpp"

namespace agentbox::audit {

// Called once per destination on its first failed write (a message naming it and errno).
using ErrorReport = std::function<void(const std::string&)>;
// Called after each signed line is written, with its seq and hash (the new chain head).
using SignedReport = std::function<void(std::uint64_t seq, const std::string& hash)>;

class Log {
public:
    // A new log at `path` (O_EXCL, 0600: a session's log is never overwritten). Writes
    // nothing; the first event appended should be session.start.
    static std::unique_ptr<Log> create(const std::string& path, std::string session,
                                       SigningKey key);
    // Resumes the chain of an existing log: seq and prev continue from its last whole line,
    // and an unfinished last line (a writer killed mid-write cannot leave one, but a full disk
    // can) is cut off first. Appends a `log.resume` event saying whether the log had ended
    // with session.end. Throws when the last whole line is not a log line.
    static std::unique_ptr<Log> open_append(const std::string& path, SigningKey key);

    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;
    ~Log();

    // Also write every later line to `fd` (not owned: the caller keeps it open), or to a file
    // this Log opens and owns. A copy that fails is reported once and dropped; the session's
    // own log carries on.
    void add_copy_fd(int fd, std::string name);
    void add_copy_file(const std::string& path);
    void on_error(ErrorReport report) { report_ = std::move(report); }
    // A failure of `report` (an exception) is reported through on_error, not thrown.
    void on_signed(SignedReport report) {
        std::lock_guard lock(mu_);
        signed_report_ = std::move(report);
    }

    // Writes one event. Returns false when the line could not be written to the session log;
    // it is then counted in the next session.end's "dropped" and the chain skips it (seq and
    // prev stay as they were, so what was written still verifies). Throws
    // std::invalid_argument for an event that sets an envelope member (a programming error).
    bool append(const Event& ev);

    const std::string& session() const { return session_; }
    const std::string& path() const { return path_; }
    std::uint64_t next_seq() const { return seq_; }
    const std::string& head() const { return prev_; }
    std::uint64_t dropped() const { return dropped_; }
    // Bytes of whole lines in the session log (limits.log_size is checked against it).
    std::uint64_t size() {
        std::lock_guard lock(mu_);
        return size_;
    }

private:
    explicit Log(SigningKey key) : key_(std::move(key)) {}
    struct Copy {
        int fd = -1;
        bool owned = false;
        std::string name;
    };
    bool write_line(const std::string& line);

    std::string path_, session_;
    int fd_ = -1;
    std::uint64_t size_ = 0;  // bytes of whole lines in the file, to undo a short write
    std::uint64_t seq_ = 0;
    std::string prev_;
    std::uint64_t dropped_ = 0;
    bool reported_ = false;
    bool signing_ = false;  // a signed line was written: every later line is signed too
    std::vector<Copy> copies_;
    ErrorReport report_;
    SignedReport signed_report_;
    SigningKey key_;
    std::mutex mu_;  // the proxy may log from its own thread
};

// "2026-11-22T22:14:00.123Z": CLOCK_REALTIME, UTC, milliseconds.
std::string timestamp_now();

}  // namespace agentbox::audit
