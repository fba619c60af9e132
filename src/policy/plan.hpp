// The Plan: everything a backend must enforce, computed before any syscall (DESIGN.md §1).
// Pure data. `run --dry-run` prints it; tests compare it; backends only interpret it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "profile/model.hpp"

namespace agentbox::policy {

// ---- What compile() may know about the host. Filled by sandbox::linux::probe_host() in real
// runs and by hand in tests, so compile() itself never touches the system.
enum class PathKind { missing, dir, file, symlink, other };

struct HostFacts {
    unsigned uid = 0;
    unsigned gid = 0;
    std::string kernel;        // uname release
    bool userns = true;        // can create a user namespace
    bool overlay_userxattr = true;  // overlayfs with userxattr inside a user namespace
    bool seccomp = true;
    bool seccomp_user_notif = true;
    int landlock_abi = 0;      // 0: Landlock unavailable
    std::string cgroup2_delegated;  // writable cgroup v2 directory we may create children in
    bool cgroup1_memory = false;    // writable v1 memory hierarchy (root on a hybrid host)
    bool cgroup1_pids = false;      // writable v1 pids hierarchy
    std::string cgroup1_root = "/sys/fs/cgroup";
    // Filesystem queries; must not follow the last symlink for kind().
    std::function<PathKind(const std::string&)> kind;
    std::function<std::string(const std::string&)> realpath;        // "" when unresolvable
    std::function<std::string(const std::string&)> readlink;        // target of a symlink
    std::function<std::vector<std::string>(const std::string&)> glob;  // expand a pattern
    // Optional: expand several patterns at once, the same answers as glob() for each, in order.
    // Patterns under one directory with ** then cost one walk of it, not one walk each (the
    // default profile has two, @project/**/.env and @project/**/.env.*).
    std::function<std::vector<std::vector<std::string>>(const std::vector<std::string>&)>
        glob_all;
};

// ---- The invocation: what the command line says beyond profile rules (those are merged into
// the Profile as a "<command line>" layer before compile).
struct Invocation {
    std::vector<std::string> argv;
    std::string project;     // absolute
    std::string cwd;         // absolute
    std::string backend = "auto";  // auto | native | bwrap
    bool allow_weaker = false;
    std::optional<bool> tty;  // forced by --tty/--no-tty
    std::optional<profile::OnExit> on_exit;  // resolved by the cli (flag, profile, terminal)
    std::map<std::string, std::string> environ;  // the host environment, for env.pass
    std::string home;        // the user's home directory on the host
    // agentbox's own state, config (keys) and cache directories, absolute: no grant may reach
    // them or move a directory above them (compile_own_dirs.cpp).
    std::vector<std::string> own_dirs;
    // [secrets]: the per-run stand-in of each secret, by name, and the host path of the CA
    // bundle the sandbox is to trust (the system's bundle plus the run's CA). Made by the cli
    // (net/intercept.hpp), which keeps the real values and the CA key to itself: the Plan
    // holds nothing a reader of --dry-run may not see.
    std::map<std::string, std::string> stand_ins;
    std::string ca_bundle;
};

// ---- Mounts, in the order the backend performs them, on a fresh tmpfs root.
enum class MountKind {
    bind_ro,    // source -> target, read-only, nosuid, nodev (keeps the source's noexec)
    bind_rw,    // source -> target, read-write, nosuid, nodev
    overlay,    // lower = source (the project), upper/work from the session; at target
    tmpfs,      // empty writable tmpfs at target (nosuid, nodev)
    proc,       // fresh procfs at target
    dev,        // minimal /dev at target: null zero full random urandom tty, devpts, shm
    mask_dir,   // empty read-only tmpfs over a denied directory
    mask_file,  // empty read-only file over a denied file
    symlink,    // create a symlink at target pointing to source (e.g. /bin -> usr/bin)
    dir,        // create an empty directory at target (mount point parents)
    state_home, // the session's home directory (on disk, holding the agent state copies),
                // bound read-write at target (the home) in place of the empty tmpfs
};

struct Mount {
    MountKind kind;
    std::string source;
    std::string target;
    std::string rule;        // the rule that asked for it, as written, or why it is implicit
    profile::Source src;
    bool operator==(const Mount&) const = default;
};

struct EnvVar {
    std::string name;
    std::string value;
    std::string rule;  // "env.pass \"PATH\"", "env.set", "network proxy"...
    bool operator==(const EnvVar&) const = default;
};

struct SyscallRule {
    std::string name;
    profile::Source src;
    bool operator==(const SyscallRule&) const = default;
};

struct SeccompPlan {
    profile::SeccompMode mode = profile::SeccompMode::default_;
    std::vector<SyscallRule> allow;  // taken out of the default deny set
    std::vector<SyscallRule> deny;   // added to it
    bool log_denials = true;         // route denials through user notification when available
    // `agentbox learn`: file opens, stats and executions go to the supervisor, which records
    // the path and lets the call go on (seccomp/rules.cpp observe_files). Never set by a
    // profile: only the learn command sets it, on its own run.
    bool observe_files = false;
};

// Landlock access sets, in sandbox paths (after pivot_root).
enum LandlockAccess : unsigned {
    ll_read = 1u << 0,    // read files, list directories
    ll_write = 1u << 1,   // write, create, remove, rename, truncate
    ll_exec = 1u << 2,    // execute files
    ll_ioctl_dev = 1u << 3,  // ioctl on device files (ABI 5+)
    ll_make_sock = 1u << 4,  // create unix sockets (bind to a path); only where no host sees it
};

struct LandlockRule {
    std::string path;
    unsigned access = 0;
    std::string rule;
    bool operator==(const LandlockRule&) const = default;
};

struct LandlockPlan {
    profile::LandlockMode mode = profile::LandlockMode::best_effort;
    int abi = 0;  // the ABI that will be enforced (min of host and what the rules need); 0 = off
    std::vector<LandlockRule> rules;
    // ABI 4+: deny TCP bind/connect except connect_ports. No mode sets it any more: the
    // sandbox's own network namespace is the boundary (policy/landlock.cpp says why); the
    // backends still enforce it, and the log and --dry-run still report it.
    bool restrict_network = false;
    std::vector<std::uint16_t> connect_ports;  // TCP connect still allowed
    bool scope_signals = false;     // ABI 6+: signals only inside the sandbox
    bool scope_abstract_unix = false;  // ABI 6+: no abstract unix sockets outside
};

struct HostRule {
    std::string pattern;  // canonical: lower case, no trailing dot
    bool any_port = false;
    std::vector<std::uint16_t> ports;  // {80, 443} for a bare name
    bool subdomains_only = false;      // "*.example.com"
    std::string raw;
    profile::Source src;
    bool operator==(const HostRule&) const = default;
};

// A secret (profile [secrets]) as the proxy applies it. No real value here.
struct SecretPlan {
    std::string name;
    std::vector<std::string> hosts;  // the only hosts its real value is sent to
    std::string from;                // "environment variable X", "file P", "command P"
    std::string stand_in;            // what `name` holds inside
    profile::Source src;
    bool operator==(const SecretPlan&) const = default;
};

// A request rule (profile network.request) as the proxy applies it: requests to `host` (any
// port) pass only when some rule for that host allows their method and normalized path.
struct RequestRule {
    std::vector<std::string> methods;  // exact, upper case; empty: any method
    std::string host;                  // canonical, exact
    std::string path;                  // pattern ("*" one segment's part, "**" segments); "": any
    std::string raw;                   // the rule as the profile's parser canonicalised it
    profile::Source src;
    bool operator==(const RequestRule&) const = default;
};

// A DLP credential-format rule turned off for one host (profile network.dlp_off): requests
// to `host` may carry values of that format. Never a rule for the run's own secret values.
struct DlpOff {
    std::string rule;  // a format rule name (profile::kDlpFormatRules)
    std::string host;  // canonical, exact
    std::string raw;   // "RULE@HOST" as the profile's parser canonicalised it
    profile::Source src;
    bool operator==(const DlpOff&) const = default;
};

// Where the CA bundle is inside the sandbox (a read-only bind of Invocation::ca_bundle).
inline constexpr const char* kCaBundleInside = "/run/agentbox/ca-bundle.pem";

struct NetPlan {
    profile::NetMode mode = profile::NetMode::none;
    std::vector<HostRule> allow;
    std::vector<HostRule> deny;
    profile::Unlisted unlisted = profile::Unlisted::deny;
    bool allow_private = false;
    std::vector<SecretPlan> secrets;
    std::vector<RequestRule> requests;  // in profile order
    std::vector<DlpOff> dlp_off;        // in profile order
    // Hosts whose TLS the proxy terminates (with the run's CA) to see the requests: those
    // a secret is bound to, and those a request rule names. Sorted, unique.
    std::vector<std::string> intercept;
    std::uint16_t proxy_port = 3128;  // in-sandbox listener on 127.0.0.1 (mode proxy)
    // Mode proxy: a DNS responder at 127.0.0.1:53 inside and TCP connects captured into the
    // proxy (DESIGN.md §6), for tools that ignore the proxy variables. `capture_required`:
    // the profile said network.capture = true, so a backend that cannot is a weakening.
    bool capture = false;
    bool capture_required = false;
    profile::Source capture_src{"<default>", 0, 0};
    // Where mode, unlisted and allow_private were set ("<default>" when no layer set them), so
    // that decide_connect() on a Plan names the same file:line as decide() on the Profile.
    profile::Source mode_src{"<default>", 0, 0};
    profile::Source unlisted_src{"<default>", 0, 0};
    profile::Source allow_private_src{"<default>", 0, 0};
};

enum class Mechanism { none, cgroup2, cgroup1, rlimit, supervisor, stage };

struct Limit {
    std::string name;        // "memory", "pids", "timeout", "file_size", "open_files", "stage_size"
    std::uint64_t value = 0; // bytes, ms, or count; 0 = unlimited
    Mechanism how = Mechanism::none;
    profile::Source src;
    bool operator==(const Limit&) const = default;
};

// Something the profile asks for that this host or backend cannot enforce. The run fails
// (exit 125) unless --allow-weaker, in which case each is printed and logged.
struct Weakening {
    std::string rule;
    profile::Source src;
    std::string missing;  // the feature that is missing, and how to get it
    bool operator==(const Weakening&) const = default;
};

struct Namespaces {
    bool user = true, mount = true, pid = true, net = true, ipc = true, uts = true, cgroup = true;
    bool operator==(const Namespaces&) const = default;
};

// An agent state file (filesystem.state): the sandbox sees a copy in the session's home
// directory at `path`, where it can be created and replaced by rename; at the end of the run
// the copy is saved back to `path` on the host, unless a change needs review
// (agentbox-profile(5), "Agent state files").
struct StateFile {
    std::string path;           // absolute, under the home; the same path inside and outside
    bool review_whole = false;  // every change is held for review (a state_review path)
    std::string rule;
    profile::Source src;
    bool operator==(const StateFile&) const = default;
};

enum class Staging { overlay, copy, none };

// limits.log_size unset: the decision log's bytes before the command's events are only
// counted (audit/repeats.hpp, note 95).
inline constexpr std::uint64_t kDefaultLogSize = 16ull << 20;  // none: the project is not writable

struct Plan {
    std::vector<std::string> argv;
    std::string project;
    std::string cwd;
    std::string home;            // $HOME inside
    std::string hostname = "agentbox";
    std::string backend = "native";
    unsigned uid = 0, gid = 0;   // inside id = outside id
    Namespaces ns;
    Staging staging = Staging::overlay;
    std::vector<Mount> mounts;
    std::vector<EnvVar> env;     // the complete environment of the command
    std::vector<std::string> exec_allow;  // non-empty: only these may be executed
    SeccompPlan seccomp;
    LandlockPlan landlock;
    NetPlan net;
    std::vector<Limit> limits;
    std::uint64_t log_size = kDefaultLogSize;  // limits.log_size
    // Where limits enforced by cgroup live: for Mechanism::cgroup2 the delegated v2 directory
    // the run's cgroup is created in (HostFacts::cgroup2_delegated); for Mechanism::cgroup1
    // the mount point of the v1 hierarchies (HostFacts::cgroup1_root). Filled by compile.
    std::string cgroup_parent;
    std::string cgroup1_root = "/sys/fs/cgroup";
    profile::OnExit on_exit = profile::OnExit::keep;
    std::vector<profile::Entry> protect;  // commit protection globs, project-relative
    std::vector<StateFile> state;         // agent state files; non-empty: MountKind::state_home
    std::vector<std::string> state_keys;  // keys whose change in a state file is reviewed
    std::vector<std::string> notes;       // e.g. "deny glob expanded at plan time"
    std::vector<Weakening> weakenings;
    bool allow_weaker = false;
    std::vector<profile::Layer> layers;   // profiles that made it

    const Limit* limit(const std::string& name) const {
        for (const auto& l : limits)
            if (l.name == name) return &l;
        return nullptr;
    }
};

const char* to_string(MountKind);
const char* to_string(Mechanism);
const char* to_string(Staging);

}  // namespace agentbox::policy
