// Applying staged changes to the project, journaled (DESIGN.md §5).
//
// A commit writes `journal` (every operation, before any is done), syncs the staged data, marks
// the journal "applying", then performs the operations in order. Each operation is idempotent
// and moves what it replaces into backup/<commit>/<n> (a rename on one filesystem), so a commit
// killed at any point is rolled forward by recover(): the project ends as if the commit had
// finished. A journal that was never marked "applying" is rolled back: nothing was touched.
// Every project path is resolved from the project root with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so nothing can be written outside the project.
//
// Which changes may be committed (protect rules, approvals, refused types) is the caller's
// decision — the cli asks policy::decide — this module only applies what it is given.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "stage/changes.hpp"
#include "stage/session.hpp"

namespace agentbox::stage {

struct Conflict {
    std::string path;
    std::string why;
};

// Changes whose project side moved since the session started: a ctime newer than the start
// (that agentbox itself did not cause), or a type that is no longer what upper/ replaced.
std::vector<Conflict> find_conflicts(const Session& s, const std::vector<Change>& changes);

struct CommitResult {
    int number = 0;                      // commits/<number>.json, what undo reads
    std::vector<std::string> applied;    // paths
    std::vector<std::string> stripped;   // setuid/setgid bits removed
};

// Progress and test hook: called before each step with its name ("journal", "sync", "applying", "op",
// "op:cleared" — inside an operation, after the old entry moved to backup/ — and "finish");
// `agentbox commit` counts "op" steps for its progress display; a test stops the process at a
// step.
using StepHook = std::function<void(const char* step)>;

// Apply `selected` (a subset of changes(s.upper(), project)) and leave the rest staged.
// Refuses changes with `refused` set. Finishes any earlier interrupted commit first.
CommitResult commit(Session& s, const std::vector<Change>& selected, const StepHook& hook = {});

struct UndoResult {
    int number = 0;
    std::vector<std::string> restored;
    std::vector<Conflict> conflicts;  // non-empty: nothing was done (unless force)
};
// Restore what the newest not-yet-undone commit of `s` replaced; what it had written goes back
// into upper/ (staged again), so undo never loses the command's work either.
UndoResult undo(Session& s, bool force, const StepHook& hook = {});

// Finish or roll back an interrupted commit or undo. True when there was one.
bool recover(Session& s);

// Drop the staged changes: upper/ emptied, status "discarded".
void discard(Session& s);

}  // namespace agentbox::stage
