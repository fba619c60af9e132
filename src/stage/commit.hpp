// Applying staged changes to the project, journaled (DESIGN.md §5).
//
// A commit writes `journal` (every operation, before any is done), syncs the staged data, marks
// the journal "applying", then performs the operations in order. An undo writes the same kind
// of journal, with each operation's inverse. Every operation moves entries between the project,
// upper/ and backup/<commit>/<n>, with moves whose destination appears only once the source is
// gone -- across filesystems through temporaries named in the journal -- so what is on disk
// says how far each step got: recovery rolls a journal marked "applying" forward, whichever
// the kind and whichever filesystems hold the project and the state, and an error that is not
// a crash rolls it back at once. A journal never marked "applying" changed nothing. No
// original is deleted: what a commit replaces stays in backup/ until the commit is undone.
// Every project path is resolved from the project root with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so nothing can be written outside the project.
//
// Which changes may be committed (protect rules, approvals, refused types) is the caller's
// decision -- the cli asks policy::decide -- this module only applies what it is given.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "stage/changes.hpp"
#include "stage/session.hpp"
#include "sys/fd.hpp"

namespace agentbox::stage {

// Held by every command that changes a session or the project, from before it reads the
// change set until it is done: the session's lock, then the project's (an flock on the project
// directory), so that two commands on one session, or the conflict checks and commits of two
// sessions of one project, never interleave. commit, undo, discard and recover take it
// themselves when the caller does not hold it; held twice in one process, the inner one is a
// no-op.
class SessionLock {
public:
    explicit SessionLock(const Session& s);
    ~SessionLock();
    SessionLock(const SessionLock&) = delete;
    SessionLock& operator=(const SessionLock&) = delete;

private:
    static void take(int fd, const std::string& shown);
    std::string dir_;
    sys::unique_fd session_, project_;
};

struct Conflict {
    std::string path;
    std::string why;
};

// Changes whose project side moved since the session started: a ctime newer than the start
// (that agentbox itself did not cause: commit, undo and roll-back record the ctimes they leave,
// directories above included), or a type that is no longer what upper/ replaced. Call it with
// a SessionLock held, so that the check still holds when the commit applies.
std::vector<Conflict> find_conflicts(const Session& s, const std::vector<Change>& changes);

struct CommitResult {
    int number = 0;                      // commits/<number>.json, what undo reads
    std::vector<std::string> applied;    // paths
    std::vector<std::string> stripped;   // setuid/setgid bits removed
};

// Progress and test hook: called before each step with its name ("journal", "sync", "applying", "op",
// "op:cleared" — inside an operation, after the old entry moved to backup/ — "finish", and
// "record", after every change is in place);
// `agentbox commit` counts "op" steps for its progress display; a test stops the process at a
// step.
using StepHook = std::function<void(const char* step)>;

// Apply `selected` (a subset of changes(s.upper(), project)) and leave the rest staged.
// Refuses changes with `refused` set, and (nothing committed) a change no longer staged as
// `selected` says -- a change set read without the lock. Finishes any earlier interrupted
// commit first. When everything is applied but recording it fails, the error says so.
CommitResult commit(Session& s, const std::vector<Change>& selected, const StepHook& hook = {});

struct UndoResult {
    int number = 0;
    std::vector<std::string> restored;
    std::vector<Conflict> conflicts;  // non-empty: nothing was done (unless force)
};
// Restore what the newest not-yet-undone commit of `s` replaced; what it had written goes back
// into upper/ (staged again), so undo never loses the command's work either. All or nothing:
// every path is checked first (conflicts, which --force overrides; and what no force can
// get past -- a missing backup, files the host added in a directory the commit created --
// which throws); an error part way rolls it back.
UndoResult undo(Session& s, bool force, const StepHook& hook = {});

// Finish or roll back an interrupted commit or undo. True when there was one.
bool recover(Session& s);

// Drop the staged changes: upper/ emptied, status "discarded"; a kill at any point leaves
// them all staged or all dropped.
void discard(Session& s);

}  // namespace agentbox::stage
