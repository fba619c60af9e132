// The exit codes of `agentbox run` that are agentbox's own (DESIGN.md §2; agentbox(1) EXIT
// STATUS): a published, stable table, so that a harness can tell "agentbox refused" from "the
// command failed". Defined once, here in the lowest module, because both the backends (which
// produce them, inside and outside the sandbox) and the command line (which exits with them)
// must agree. The rest of the table is the command's own status, or 128+N for signal N.
#pragma once

namespace agentbox::util {

inline constexpr int kExitTimeout = 124;        // the wall-clock limit ended the command
inline constexpr int kExitSetup = 125;          // agentbox failed before the command ran
inline constexpr int kExitNotExecutable = 126;  // execve failed: not executable, or denied
inline constexpr int kExitNotFound = 127;       // the command was not found

}  // namespace agentbox::util
