// The capability profile as plain data (DESIGN.md §3). Every value remembers where it came
// from, so that `profile show`, `explain` and the decision log can name `file:line`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agentbox::profile {

// Where a value was written. `file` is the profile's path (or "<builtin:NAME>" for a built-in
// profile, "<command line>" for a flag, "<default>" for a schema default).
struct Source {
    std::string file;
    int line = 0;
    int col = 0;
    std::string str() const;  // "file:line:col", or just "file" when line == 0
    bool operator==(const Source&) const = default;
};

// One list entry: the value after placeholder expansion, the text as written, its origin.
struct Entry {
    std::string value;
    std::string raw;
    Source src;
    bool operator==(const Entry&) const = default;
};

// One scalar setting. `set` is false while no layer has given it a value.
template <class T>
struct Setting {
    T value{};
    Source src;
    bool set = false;
    const T& operator*() const { return value; }
    bool operator==(const Setting&) const = default;
};

enum class NetMode { none, proxy, host };
enum class Unlisted { deny, ask };
enum class SeccompMode { default_, strict };
enum class LandlockMode { best_effort, require, off };
enum class OnExit { ask, commit, discard, keep };

struct Filesystem {
    std::vector<Entry> read;   // visible read-only
    std::vector<Entry> write;  // writable; under @project the writes are staged
    std::vector<Entry> deny;   // invisible even inside read/write; globs allowed
    std::vector<Entry> tmpfs;  // empty, writable, thrown away
    std::vector<Entry> exec;   // non-empty: only these paths may be executed
    // Agent state files under the home: a per-run copy in the session, saved back at the end
    // unless a change needs review (agentbox-profile(5), "Agent state files").
    std::vector<Entry> state;
    // What needs review in them: a key name (any depth, every state file) or the path of a
    // state file (any change to it). `value` is the expanded path or the key as written.
    std::vector<Entry> state_review;
    bool operator==(const Filesystem&) const = default;
};

struct Network {
    Setting<NetMode> mode;
    std::vector<Entry> allow;  // host rules: "example.com", "example.com:8080", "*.example.com"
    std::vector<Entry> deny;
    Setting<Unlisted> unlisted;
    Setting<bool> allow_private;
    // Request rules (agentbox-profile(5) network.request): "METHODS HOST[/PATH-PATTERN]", as
    // canonicalised by the parser. A host named by any of them is intercepted and only the
    // requests one of them allows reach it.
    std::vector<Entry> request;
    // DLP format rules turned off for one host each (agentbox-profile(5) network.dlp_off):
    // "RULE@HOST", canonical (host lower case, no trailing dot). Only the credential-format
    // rules (profile/names.hpp kDlpFormatRules); the run's own secrets are never switchable.
    std::vector<Entry> dlp_off;
    // Connections of tools that ignore the proxy variables (DESIGN.md §6): unset = captured
    // where this host and backend can; true = required (the run fails where they cannot);
    // false = off.
    Setting<bool> capture;
    bool operator==(const Network&) const = default;
};

struct Env {
    std::vector<Entry> pass;  // names or glob patterns ("LC_*")
    std::vector<Entry> deny;  // patterns; beat pass
    std::map<std::string, Entry> set;  // name -> value (value already expanded)
    bool operator==(const Env&) const = default;
};

struct Process {
    Setting<SeccompMode> seccomp;
    std::vector<Entry> allow_syscalls;
    std::vector<Entry> deny_syscalls;
    Setting<LandlockMode> landlock;
    bool operator==(const Process&) const = default;
};

struct Limits {
    Setting<std::uint64_t> timeout_ms;   // 0 = none
    Setting<std::uint64_t> memory;       // bytes
    Setting<std::uint64_t> pids;
    Setting<std::uint64_t> file_size;    // bytes (RLIMIT_FSIZE)
    Setting<std::uint64_t> stage_size;   // staged bytes
    Setting<std::uint64_t> open_files;   // RLIMIT_NOFILE
    Setting<std::uint64_t> log_size;     // decision-log bytes before only counts are kept
    bool operator==(const Limits&) const = default;
};

struct Commit {
    Setting<OnExit> on_exit;
    std::vector<Entry> protect;  // project-relative globs
    bool operator==(const Commit&) const = default;
};

struct Approve {
    Setting<std::string> command;
    Setting<std::uint64_t> timeout_ms;
    bool operator==(const Approve&) const = default;
};

// A credential kept outside the sandbox (agentbox-profile(5) [secrets]): inside, `name` holds a
// per-run stand-in; the proxy puts the real value in its place only in requests to `hosts`.
// The real value comes from exactly one of: the launcher's environment variable `env`, the
// file `file`, or the output of `command` (argv, run outside the sandbox). None of these is
// the value itself: a profile never holds a credential.
struct Secret {
    std::string name;                // the variable inside
    std::vector<Entry> hosts;        // canonical host names (no port, no wildcard)
    std::string env;                 // from the launcher's environment
    std::string file;                // from a file (expanded path)
    std::vector<std::string> command;  // from a command's standard output
    Source src;
    bool operator==(const Secret&) const = default;
};

// A file that contributed to a resolved profile, for the log (`session.start`).
struct Layer {
    std::string name;    // profile name
    std::string path;    // file path or "<builtin:NAME>"
    std::string sha256;  // hex digest of the file's bytes; empty when unknown
    // Who vouched for the bytes (signed profiles, agentbox-profile(5)): the minisign key id
    // whose signature verified, "builtin" for a profile embedded in agentbox, "" when no
    // signature was checked.
    std::string key_id{};
    bool operator==(const Layer&) const = default;
};

struct Profile {
    int version = 1;
    Setting<std::string> name;
    Setting<std::string> description;
    std::vector<Entry> extends;  // as written; already resolved into the layers below
    Filesystem filesystem;
    Network network;
    Env env;
    Process process;
    Limits limits;
    Commit commit;
    Approve approve;
    std::map<std::string, Secret> secrets;  // by name; a later layer replaces an earlier one
    std::vector<Layer> layers;  // in application order, base first
    bool operator==(const Profile&) const = default;
};

// Values the placeholders expand to. Filled by the caller (cli) from the real system.
struct Context {
    std::string project;  // @project (absolute, canonical)
    std::string cwd;      // @cwd
    std::string home;     // ~ and @home
    std::string tmp;      // @tmp: the run's private temporary directory
    std::map<std::string, std::string> environ;  // for ${VAR}
    // Profile search path (DESIGN.md §3), most local first; filled by default_search_path().
    std::vector<std::string> search_path;
    // Project-local profile directory (./.agentbox/profiles): only used when trusted.
    bool trust_project_profiles = false;
    // Signed profiles: when set, called with every profile file of a chain and the exact bytes
    // that will be parsed (never for a built-in); returns the key id that vouched for them, or
    // throws ProfileError naming the file and the reason. The cryptography lives in audit/,
    // which profile/ may not include; cli fills this from the system configuration.
    std::function<std::string(const std::string& path, std::string_view text)> check_signature;
};

}  // namespace agentbox::profile
