// The rule set as data: what rules_for() denies and allows, checked with evaluate() (which
// mirrors the compiled filter), and the canonical text / digest that key the cache.
#include "seccomp/rules.hpp"

#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>

#include <cerrno>
#include <set>
#include <string>

using namespace agentbox;
using seccomp::Action;

namespace {

using Args = std::array<std::uint64_t, 6>;

policy::SeccompPlan plan_of(profile::SeccompMode mode, std::vector<std::string> allow = {},
                            std::vector<std::string> deny = {}) {
    policy::SeccompPlan p;
    p.mode = mode;
    for (auto& n : allow) p.allow.push_back({n, {"test.toml", 3, 1}});
    for (auto& n : deny) p.deny.push_back({n, {"test.toml", 4, 1}});
    return p;
}

// "errno(1)", "errno(38)", "allow": what the filter answers for this call.
std::string verdict(const seccomp::RuleSet& rs, const char* name, Args args = {}) {
    int err = 0;
    switch (seccomp::evaluate(rs, name, args, &err)) {
        case Action::allow:
            return "allow";
        case Action::errno_:
            return "errno(" + std::to_string(err) + ")";
        case Action::kill_process:
            return "kill";
        case Action::notify:
            return "notify";
    }
    return "?";
}

const std::string kEperm = "errno(" + std::to_string(EPERM) + ")";
const std::string kEnosys = "errno(" + std::to_string(ENOSYS) + ")";

const char* const kDefaultDenied[] = {
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "nfsservctl",
    "vhangup",
    "pidfd_getfd",
    "settimeofday",
    "clock_settime",
    "adjtimex",
};

constexpr std::uint64_t kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                       CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                       CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;

// The guarded syscalls must behave the same in both modes.
void check_guards(const seccomp::RuleSet& rs) {
    CHECK(verdict(rs, "clone3") == kEnosys);
    CHECK(verdict(rs, "clone", {SIGCHLD}) == "allow");
    CHECK(verdict(rs, "clone", {kThreadFlags}) == "allow");
    for (std::uint64_t ns : {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                             CLONE_NEWUTS, CLONE_NEWCGROUP}) {
        CAPTURE(ns);
        CHECK(verdict(rs, "clone", {ns | SIGCHLD}) == kEperm);
        CHECK(verdict(rs, "clone", {ns | kThreadFlags}) == kEperm);
    }
    CHECK(verdict(rs, "ioctl", {0, TIOCSTI}) == kEperm);
    CHECK(verdict(rs, "ioctl", {0, TIOCLINUX}) == kEperm);
    // The kernel truncates cmd to 32 bits: high bits must not get TIOCSTI past the filter.
    CHECK(verdict(rs, "ioctl", {0, TIOCSTI | (1ULL << 32)}) == kEperm);
    CHECK(verdict(rs, "ioctl", {0, TIOCLINUX | 0xffffffff00000000ULL}) == kEperm);
    for (std::uint64_t ok :
         {std::uint64_t{TCGETS}, std::uint64_t{TIOCGWINSZ}, std::uint64_t{FIONREAD},
          std::uint64_t{TIOCSTI ^ 1}, std::uint64_t{TIOCSTI ^ 0x80000000}, std::uint64_t{0}}) {
        CAPTURE(ok);
        CHECK(verdict(rs, "ioctl", {0, ok}) == "allow");
    }
    CHECK(verdict(rs, "personality", {PER_LINUX}) == "allow");
    CHECK(verdict(rs, "personality", {0xffffffff}) == "allow");
    for (std::uint64_t bad :
         {std::uint64_t{READ_IMPLIES_EXEC}, std::uint64_t{ADDR_NO_RANDOMIZE},
          std::uint64_t{PER_LINUX32}, std::uint64_t{1}, std::uint64_t{0x80000000},
          std::uint64_t{0x7fffffff}, std::uint64_t{0xfffffffe}}) {
        CAPTURE(bad);
        CHECK(verdict(rs, "personality", {bad}) == kEperm);
    }
}

}  // namespace

TEST_CASE("default set denies every syscall DESIGN.md lists, with EPERM") {
    auto rs = seccomp::rules_for(plan_of(profile::SeccompMode::default_));
    CHECK(rs.default_action == Action::allow);
    CHECK(rs.kill_foreign_arch);
    for (const char* n : kDefaultDenied) {
        CAPTURE(n);
        CHECK(verdict(rs, n) == kEperm);
    }
    for (const char* n : {"read", "write", "openat", "execve", "getpid", "socket", "seccomp"}) {
        CAPTURE(n);
        CHECK(verdict(rs, n) == "allow");
    }
}

TEST_CASE("default set: clone3 ENOSYS, clone namespace flags, TIOCSTI/TIOCLINUX, personality") {
    check_guards(seccomp::rules_for(plan_of(profile::SeccompMode::default_)));
}

TEST_CASE("TIOCSTI is compared on the low 32 bits with a masked compare") {
    auto rs = seccomp::rules_for(plan_of(profile::SeccompMode::default_));
    bool found = false;
    for (const auto& r : rs.rules)
        if (r.syscall == "ioctl" && r.args.size() == 1 && r.args[0].value == TIOCSTI) {
            CHECK(r.args[0].arg == 1);
            CHECK(r.args[0].op == seccomp::ArgCmp::masked_eq);
            CHECK(r.args[0].mask == 0xffffffffULL);
            found = true;
        }
    CHECK(found);
}

TEST_CASE("personality: any 32-bit value but PER_LINUX and the query is denied") {
    auto rs = seccomp::rules_for(plan_of(profile::SeccompMode::default_));
    // Every single-bit and two-bit value, plus a spread of others: the prefix cover must
    // leave exactly two holes.
    std::size_t allowed = 0, tried = 0;
    for (int i = 0; i < 32; ++i)
        for (int j = i; j < 32; ++j) {
            const std::uint64_t v = (1ULL << i) | (1ULL << j);
            ++tried;
            if (verdict(rs, "personality", {v}) == "allow") ++allowed;
            if (verdict(rs, "personality", {0xffffffff ^ v}) == "allow") ++allowed;
        }
    CHECK(tried > 500);
    CHECK(allowed == 0);
}

TEST_CASE("allow_syscalls takes names out of the deny set; deny_syscalls adds them") {
    auto rs = seccomp::rules_for(
        plan_of(profile::SeccompMode::default_, {"ptrace", "personality"}, {"chmod", "mount"}));
    CHECK(verdict(rs, "ptrace") == "allow");
    CHECK(verdict(rs, "personality", {READ_IMPLIES_EXEC}) == "allow");
    CHECK(verdict(rs, "chmod") == kEperm);
    CHECK(verdict(rs, "mount") == kEperm);
    CHECK(verdict(rs, "process_vm_readv") == kEperm);  // the rest of the family stays
    // A name in both lists is denied: fail closed.
    auto both = seccomp::rules_for(plan_of(profile::SeccompMode::default_, {"ptrace"}, {"ptrace"}));
    CHECK(verdict(both, "ptrace") == kEperm);
    // A deny of a guarded syscall replaces the guard with a plain deny.
    auto ioctl = seccomp::rules_for(plan_of(profile::SeccompMode::default_, {}, {"ioctl"}));
    CHECK(verdict(ioctl, "ioctl", {0, TCGETS}) == kEperm);
    // The profile's names are kept for compile() to validate, with where they came from.
    REQUIRE(rs.names.size() == 4);
    CHECK(rs.names[0].name == "ptrace");
    CHECK(rs.names[0].where == "process.allow_syscalls (test.toml:3:1)");
    CHECK(rs.names[2].where == "process.deny_syscalls (test.toml:4:1)");
}

TEST_CASE("strict: deny by default, an allowlist for ordinary programs, same guards") {
    auto rs = seccomp::rules_for(plan_of(profile::SeccompMode::strict));
    CHECK(rs.default_action == Action::errno_);
    CHECK(rs.default_err == EPERM);
    for (const char* n :
         {"read",         "write",      "openat",     "close",           "mmap",  "mprotect",
          "brk",          "execve",     "exit_group", "wait4",           "futex", "rt_sigaction",
          "rt_sigreturn", "fstat",      "newfstatat", "getdents64",      "pipe2", "socket",
          "bind",         "epoll_wait", "getrandom",  "set_robust_list", "rseq",  "prlimit64",
          "fork",         "vfork",      "kill"}) {
        CAPTURE(n);
        CHECK(verdict(rs, n) == "allow");
    }
    for (const char* n : kDefaultDenied) {
        CAPTURE(n);
        CHECK(verdict(rs, n) == kEperm);
    }
    for (const char* n : {"sethostname", "modify_ldt", "kcmp", "fanotify_init", "move_pages"}) {
        CAPTURE(n);
        CHECK(verdict(rs, n) == kEperm);
    }
    check_guards(rs);
}

TEST_CASE("strict allowlist is sane: large, unique, and disjoint from the deny set") {
    const auto& list = seccomp::strict_allowlist();
    CHECK(list.size() > 250);
    std::set<std::string> seen;
    for (const char* n : list) {
        CAPTURE(n);
        CHECK(seen.insert(n).second);
    }
    for (const char* n : kDefaultDenied) {
        CAPTURE(n);
        CHECK(seen.count(n) == 0);
    }
    for (const char* n : {"clone", "clone3", "ioctl", "personality"}) CHECK(seen.count(n) == 0);
}

TEST_CASE("strict: allow_syscalls adds, deny_syscalls removes") {
    auto rs = seccomp::rules_for(
        plan_of(profile::SeccompMode::strict, {"ptrace", "sethostname"}, {"socket", "ioctl"}));
    CHECK(verdict(rs, "ptrace") == "allow");
    CHECK(verdict(rs, "sethostname") == "allow");
    CHECK(verdict(rs, "socket") == kEperm);
    CHECK(verdict(rs, "ioctl", {0, TCGETS}) == kEperm);
    CHECK(verdict(rs, "read") == "allow");
}

TEST_CASE("canonical text and digest are stable, order-independent and change with the rules") {
    using M = profile::SeccompMode;
    const auto base = seccomp::rules_for(plan_of(M::default_, {}, {"chmod", "chown"}));
    const auto again = seccomp::rules_for(plan_of(M::default_, {}, {"chmod", "chown"}));
    const auto swapped = seccomp::rules_for(plan_of(M::default_, {}, {"chown", "chmod"}));
    CHECK(seccomp::canonical(base) == seccomp::canonical(again));
    CHECK(seccomp::digest(base) == seccomp::digest(again));
    CHECK(seccomp::digest(base) == seccomp::digest(swapped));

    const std::string d = seccomp::digest(base);
    CHECK(d.size() == 16);
    CHECK(d.find_first_not_of("0123456789abcdef") == std::string::npos);

    CHECK(seccomp::digest(seccomp::rules_for(plan_of(M::default_, {}, {"chmod"}))) != d);
    CHECK(seccomp::digest(
              seccomp::rules_for(plan_of(M::default_, {"ptrace"}, {"chmod", "chown"}))) != d);
    CHECK(seccomp::digest(seccomp::rules_for(plan_of(M::strict, {}, {"chmod", "chown"}))) != d);
    auto noarch = base;
    noarch.kill_foreign_arch = false;
    CHECK(seccomp::digest(noarch) != d);
    auto err = base;
    err.rules[0].err = EACCES;
    CHECK(seccomp::digest(err) != d);
    auto why = base;
    why.rules[0].why = "reworded";
    CHECK(seccomp::digest(why) == d);  // comments do not change the filter

    const std::string text = seccomp::canonical(base);
    CHECK(text.find("default allow\n") != std::string::npos);
    CHECK(text.find("clone3 errno(38)\n") != std::string::npos);
    CHECK(text.find("ioctl errno(1) a1&0xffffffff==0x5412\n") != std::string::npos);
    CHECK(text.find("mount errno(1)\n") != std::string::npos);
}

TEST_CASE("connect goes to the supervisor's check in both modes (issue 18 #8)") {
    for (auto mode : {profile::SeccompMode::default_, profile::SeccompMode::strict}) {
        auto plan = plan_of(mode);
        CHECK(verdict(seccomp::rules_for(plan), "connect") == "notify");
        // No listener to answer it (a host without user notification): left to the kernel,
        // and the plan names that as a weakening (policy).
        plan.log_denials = false;
        CHECK(verdict(seccomp::rules_for(plan), "connect") == "allow");
    }
}

TEST_CASE("a profile that denies connect keeps its deny, not the check") {
    CHECK(verdict(seccomp::rules_for(plan_of(profile::SeccompMode::default_, {}, {"connect"})),
                  "connect") == kEperm);
    CHECK(verdict(seccomp::rules_for(plan_of(profile::SeccompMode::strict, {}, {"connect"})),
                  "connect") == kEperm);
}

TEST_CASE("agentbox learn: path calls are notified for observation, denials stay denials") {
    for (auto mode : {profile::SeccompMode::default_, profile::SeccompMode::strict}) {
        CAPTURE(static_cast<int>(mode));
        auto plan = plan_of(mode, {}, {"readlinkat"});
        const auto before = seccomp::rules_for(plan);
        CHECK(seccomp::evaluate(before, "openat", Args{}) == Action::allow);
        plan.observe_files = true;
        const auto rs = seccomp::rules_for(plan);
        for (const char* n : {"openat", "newfstatat", "statx", "execve", "execveat"})
            CHECK_MESSAGE(seccomp::evaluate(rs, n, Args{}) == Action::notify, n);
        // The profile denied it: observation does not turn a denial into a CONTINUE.
        CHECK(seccomp::evaluate(rs, "readlinkat", Args{}) == Action::errno_);
        // The digest moves with it: a cached filter without observation is never reused.
        CHECK(seccomp::digest(rs) != seccomp::digest(before));
        // Without a listener nothing can observe, and nothing changes.
        plan.log_denials = false;
        CHECK(seccomp::evaluate(seccomp::rules_for(plan), "openat", Args{}) == Action::allow);
    }
}
