// The Windows backend (DESIGN.md §9): the Plan as an AppContainer plan — the container's
// capabilities, the ACL entries for its SID on every path the Plan shows or hides, the job
// object's limits — computed by a pure function, unit-tested on Linux and printed by
// `agentbox run --dry-run --target windows`. The executor (appcontainer_exec.cpp, _WIN32
// only) applies exactly this plan.
//
// An AppContainer starts with no access to the user's files: each readable or writable path is
// an allow entry for the container's SID, each denied path a deny entry (Windows orders deny
// entries first, so they win over inherited grants). The staged project is a copy in the
// session, and each tmpfs a private directory under a scratch directory, as on macOS.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::windows {

// Win32 access masks (winnt.h), spelled out so that the plan is computed without windows.h.
inline constexpr std::uint32_t kFileGenericRead = 0x00120089;
inline constexpr std::uint32_t kFileGenericWrite = 0x00120116;
inline constexpr std::uint32_t kFileGenericExecute = 0x001200A0;
inline constexpr std::uint32_t kDelete = 0x00010000;
inline constexpr std::uint32_t kFileDeleteChild = 0x00000040;
inline constexpr std::uint32_t kFileAllAccess = 0x001F01FF;

// Job object limit flags and UI restrictions (winnt.h).
inline constexpr std::uint32_t kJobLimitActiveProcess = 0x00000008;
inline constexpr std::uint32_t kJobLimitJobMemory = 0x00000200;
inline constexpr std::uint32_t kJobLimitDieOnUnhandledException = 0x00000400;
inline constexpr std::uint32_t kJobLimitKillOnJobClose = 0x00002000;
inline constexpr std::uint32_t kJobUiLimitAll = 0x000000FF;  // handles .. exit windows

enum class Base { host, copy, scratch };

// A path as the executor resolves it: a host path, or one relative to the session's copy of
// the project or its scratch directory ("" is the directory itself). '/'-separated, as in the
// Plan; the executor turns it into a Windows path.
struct PathRef {
    Base base = Base::host;
    std::string path;
    bool operator==(const PathRef&) const = default;
};

struct AclEntry {
    PathRef path;
    std::uint32_t mask = 0;
    bool deny = false;
    bool inherit = true;  // to files and directories below (ignored on a file)
    std::string rule;     // what asked for it, with file:line
    bool operator==(const AclEntry&) const = default;
};

struct Capability {
    std::string name;  // internetClient ...
    std::string sid;   // S-1-15-3-1 ...
    std::string rule;
};

struct JobLimits {
    std::uint32_t flags = kJobLimitKillOnJobClose | kJobLimitDieOnUnhandledException;
    std::uint64_t job_memory = 0;        // bytes (kJobLimitJobMemory)
    std::uint32_t active_processes = 0;  // kJobLimitActiveProcess
    std::uint32_t ui_restrictions = kJobUiLimitAll;
    std::uint64_t timeout_ms = 0;        // the supervisor's wait, then TerminateJobObject
};

struct AppContainerPlan {
    std::string container;  // profile name, at most 64 characters
    std::string display;
    std::string command_line;  // argv quoted as CommandLineToArgvW splits it
    PathRef cwd;
    std::vector<Capability> capabilities;
    std::vector<AclEntry> acl;  // in Plan order; deny entries last
    JobLimits job;
    std::vector<std::string> copy_excludes;  // project-relative
    std::vector<std::string> env_names;      // the command's environment (values at launch)
    std::vector<std::string> notes;
    std::vector<policy::Weakening> weakenings;
};

AppContainerPlan appcontainer_plan(const policy::Plan& plan);

// "agentbox." and 16 hex digits of a hash of the project path: one container per project, so
// that its SID (derived from the name) is stable across runs and its grants can be revoked.
std::string container_name(const std::string& project);

// argv as one command line that CommandLineToArgvW (and the MSVC runtime) split back into the
// same words: quotes around words with spaces, tabs or quotes, backslashes doubled before a
// quote.
std::string command_line(const std::vector<std::string>& argv);

// "read,write,delete,execute" (or "all") for an access mask.
std::string access_names(std::uint32_t mask);

// The text `agentbox run --dry-run --target windows` prints.
std::string render_text(const AppContainerPlan& p);

}  // namespace agentbox::sandbox::windows
