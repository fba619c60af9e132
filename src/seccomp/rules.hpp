// The seccomp rule set as data (pure), and its compilation to BPF (libseccomp, bpf.cpp only).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::seccomp {

enum class Action { allow, errno_, kill_process, notify };

struct ArgCmp {
    unsigned arg = 0;     // 0..5
    enum Op { eq, ne, masked_eq } op = eq;
    std::uint64_t mask = 0;  // for masked_eq
    std::uint64_t value = 0;
};

struct Rule {
    std::string syscall;
    Action action = Action::errno_;
    int err = 1;  // EPERM
    std::vector<ArgCmp> args;  // all must match (AND)
    std::string why;
};

struct RuleSet {
    Action default_action = Action::allow;  // strict: errno_ (ENOSYS-free allowlist)
    int default_err = 1;
    std::vector<Rule> rules;
    bool kill_foreign_arch = true;  // x32, i386 on x86_64
    // Syscall names written in the profile, with where they were written
    // ("process.deny_syscalls (file:line:col)"). compile() checks each one against libseccomp
    // even when it produced no rule (an allow for a name outside the deny set), so a typo is
    // an error rather than a silent no-op.
    struct NameRef {
        std::string name;
        std::string where;
    };
    std::vector<NameRef> names;
};

// The set of DESIGN.md §4 for this plan (default or strict, plus allow/deny from the profile).
RuleSet rules_for(const policy::SeccompPlan& plan);

// The syscalls `strict` allows before the profile's allow/deny (x86_64 names), in the style of
// the container runtimes' default profiles. The deny set and the guarded syscalls (clone,
// ioctl, personality: allowed only for harmless arguments) are handled by rules_for.
const std::vector<const char*>& strict_allowlist();

// The syscalls `agentbox learn` observes (SeccompPlan::observe_files), with the argument that
// holds the path and the one that holds the directory descriptor it is relative to (-1: none,
// the path is relative to the working directory). `exec`: the path is executed.
struct Observed {
    const char* name;
    int path_arg;
    int dirfd_arg;
    bool exec;
};
const std::vector<Observed>& observed();
std::vector<const char*> observed_syscalls();

// Canonical text of a rule set and its XXH3-64 digest (the cache key), in hex.
std::string canonical(const RuleSet& rs);
std::string digest(const RuleSet& rs);

// Every syscall name the profile wrote (rs.names) resolved on this host; throws
// std::runtime_error naming the first unknown one, where it was written, and the nearest known
// name. compile() calls it, and so does `profile check`: one check for both.
void check_names(const RuleSet& rs);

// Compile to a BPF program (struct sock_filter array as bytes). With `notify`, denials are
// compiled as SECCOMP_RET_USER_NOTIF instead of errno so the supervisor can log them.
// Throws std::runtime_error naming the syscall or libseccomp call that failed.
std::vector<std::uint8_t> compile(const RuleSet& rs, bool notify);

// compile() through a disk cache in `cache_dir` (created 0700 if missing), keyed by digest,
// notify and the libseccomp version. Entries are written atomically, mode 0600, and carry a
// checksum; an entry that is unreadable, foreign-owned, writable by others or corrupt is
// ignored and rewritten. A hit does not call into libseccomp at all. `rs_digest`: digest(rs)
// when the caller has it already (else computed here).
std::vector<std::uint8_t> compile_cached(const RuleSet& rs, bool notify,
                                         const std::string& cache_dir,
                                         const std::string& rs_digest = {});

// The filter of a plan as a launch needs it: the program, and the digest and size of the rule
// set it was compiled from (for the log's plan event).
struct Filter {
    std::vector<std::uint8_t> bpf;
    std::string digest;     // digest(rules_for(plan))
    std::size_t rules = 0;  // rules_for(plan).rules.size()
};

// The cache key of the filter a plan compiles to, from what the rule set is made of rather
// than the rule set itself, so that a hit needs neither rules_for nor libseccomp: every field of
// `plan` rules_for reads (mode, the allow and deny names in order, log_denials, observe_files),
// `notify`, and `build`, what names the code that turns them into a program (build_facts()).
// Pure. A change in any of them changes the key.
std::string input_key(const policy::SeccompPlan& plan, bool notify, const std::string& build);

// This agentbox's GNU build id, the libseccomp version and the kernel release, as one string;
// "" when the build id cannot be read (then nothing may be cached by input_key: without it a
// rebuilt agentbox whose rules_for changed would be handed the old program).
const std::string& build_facts();

// rules_for(plan) compiled, from the disk cache under input_key when it has the entry (then
// nothing else is done: no rule set, no libseccomp); else the rule set is built once, compiled
// (through compile_cached) and the entry stored. Entries are checked as compile_cached's are.
// `built` receives the rule set when one was built. `build`: build_facts() ("" = no cache by
// input).
Filter filter_cached(const policy::SeccompPlan& plan, bool notify, const std::string& cache_dir,
                     const std::string& build, std::optional<RuleSet>* built = nullptr);

// The version of the libseccomp library in use ("2.5.4"), part of the cache key.
std::string libseccomp_version();

// The native name of syscall number `nr` ("mount"), or "syscall#NR" when unknown; for logging
// user notifications.
std::string syscall_name(int nr);

// What the filter compiled from `rs` does with one native syscall and its arguments: the
// action of any matching rule of that syscall (all rules of one syscall share an action),
// else the default. Pure; mirrors the compiled filter so rule sets can be tested without a
// kernel. `err` receives the errno of an errno_ action.
Action evaluate(const RuleSet& rs, std::string_view syscall,
                const std::array<std::uint64_t, 6>& args, int* err = nullptr);

}  // namespace agentbox::seccomp
