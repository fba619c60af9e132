// Agent state files (filesystem.state; agentbox-profile(5), "Agent state files").
//
// An agent keeps its login, history and counters in a few files of the home (~/.claude.json);
// some of the same files say what runs the next time it starts (an MCP server's command, a
// hook). The sandbox works on a copy of each in the session's home directory, where the file
// can be created and replaced by rename like any file; at the end of the run each copy is
// judged:
//   - unchanged: nothing to do;
//   - changed, and what changed runs nothing (no reviewed key): saved back to the host
//     atomically (a temporary file renamed over it), but only if the host file is still what
//     it was when the run started -- else it is kept in the session and reported;
//   - changed where code runs (a reviewed key, or a file reviewed whole), removed, or not
//     readable as JSON where keys must be checked: held back whole, the host file untouched,
//     the agent's version kept in the session for the user to review and apply by hand.
// Layout, in the session directory S: S/home is bound at the home inside the sandbox (it
// holds the copies, and whatever else the command writes in its home); S/state/orig/REL is
// the host file as it was at the start (absent when it did not exist); S/state/held/REL is the
// agent's version of a file that was not saved back.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace agentbox::stage {

// One state file of the run.
struct StateFile {
    std::string path;           // absolute host path (the same inside the sandbox)
    std::string rel;            // relative to the home: its place under S/home
    bool review_whole = false;  // every change is held
};

// How one change is judged (pure; unit-tested).
struct StateVerdict {
    bool hold = false;
    std::string reason;             // why it is held
    std::vector<std::string> keys;  // the reviewed keys that changed, as key paths (a.b.c)
};

// `before`/`after`: the file's bytes, nullopt when it does not exist. Key-level review reads
// JSON; a file that does not parse as JSON (TOML, say) while `keys` is non-empty is held
// whole, since nothing proves its reviewed keys unchanged. Keys match by name at any depth
// (in objects within arrays too); a change is any difference in where they occur or in
// their values.
StateVerdict review_state_change(const std::optional<std::string>& before,
                                 const std::optional<std::string>& after, bool review_whole,
                                 const std::vector<std::string>& keys);

enum class StateOutcome {
    unchanged,    // the agent left it as it was
    saved,        // written back to the host
    held,         // needs review: the host file untouched, the agent's version in `kept`
    host_changed, // the host file changed during the run: not overwritten, the agent's version kept
    failed,       // could not be read or saved: the agent's version kept where possible
};

struct StateResult {
    std::string path;
    StateOutcome outcome = StateOutcome::unchanged;
    std::string reason;
    std::vector<std::string> keys;
    std::string kept;  // where the agent's version is, when not saved
};

const char* to_string(StateOutcome);

// Before the run: S/home (mode 0700) with the directories of every state file (0700) and a
// copy of each host file that exists (same mode), and S/state/orig/ with the same bytes. A host file that cannot be read (not a regular
// file, EACCES) throws SysError: the run must not start with a state the agent would
// silently lose.
void prepare_state(const std::string& session_dir, const std::vector<StateFile>& files);

// After the run, once no process of the sandbox is left: judge and save each file, keep what
// is not saved under S/state/held/, then empty S/home. Everything under S/home was written
// by the sandbox: it is opened beneath S/home without following any link, and only regular
// files are read.
std::vector<StateResult> save_state(const std::string& session_dir,
                                    const std::vector<StateFile>& files,
                                    const std::vector<std::string>& keys);

}  // namespace agentbox::stage
