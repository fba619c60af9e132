// The seccomp rule set as data (pure), and its compilation to BPF (libseccomp, bpf.cpp only).
#pragma once

#include <cstdint>
#include <string>
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
};

// The set of DESIGN.md §4 for this plan (default or strict, plus allow/deny from the profile).
RuleSet rules_for(const policy::SeccompPlan& plan);

// Canonical text of a rule set and its XXH3-64 digest (the cache key), in hex.
std::string canonical(const RuleSet& rs);
std::string digest(const RuleSet& rs);

// Compile to a BPF program (struct sock_filter array as bytes). With `notify`, denials are
// compiled as SECCOMP_RET_USER_NOTIF instead of errno so the supervisor can log them.
// Throws std::runtime_error naming the syscall or libseccomp call that failed.
std::vector<std::uint8_t> compile(const RuleSet& rs, bool notify);

}  // namespace agentbox::seccomp
