// The seccomp rule set of DESIGN.md §4 as plain data. Pure: no libseccomp here (bpf.cpp turns
// a RuleSet into BPF), so what the filter does can be unit-tested with evaluate().
#include "seccomp/rules.hpp"

#include <linux/sched.h>
#include <sys/ioctl.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <set>

namespace agentbox::seccomp {

const std::vector<Observed>& observed() {
    // Names this architecture has: the old path calls (open, stat, access...) exist on x86_64
    // only; the *at forms everywhere. creat, truncate and the write-side calls are not here:
    // learning grants what is read, looked at and executed.
    static const std::vector<Observed> kObserved = {
#if defined(__x86_64__)
        {"open", 0, -1, false},      {"stat", 0, -1, false},     {"lstat", 0, -1, false},
        {"access", 0, -1, false},    {"readlink", 0, -1, false},
#endif
        {"openat", 1, 0, false},     {"openat2", 1, 0, false},   {"newfstatat", 1, 0, false},
        {"statx", 1, 0, false},      {"faccessat", 1, 0, false}, {"faccessat2", 1, 0, false},
        {"readlinkat", 1, 0, false}, {"execve", 0, -1, true},    {"execveat", 1, 0, true},
    };
    return kObserved;
}

std::vector<const char*> observed_syscalls() {
    std::vector<const char*> names;
    for (const auto& o : observed()) names.push_back(o.name);
    return names;
}

namespace {

// Every namespace a clone() flag can create. CLONE_NEWTIME shares its bit with CSIGNAL in
// clone() (the kernel would refuse it as an exit signal anyway); it is listed so the rule
// reads "any namespace flag" and stays right if that ever changes.
constexpr std::uint64_t kCloneNamespaceFlags[] = {
    CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
    CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */,
};

constexpr std::uint32_t kPerLinux = 0;                   // personality(PER_LINUX)
constexpr std::uint32_t kPersonalityQuery = 0xffffffff;  // personality(0xffffffff) only reads

struct Family {
    const char* why;
    std::vector<const char*> names;
};

// Denied with EPERM in both modes (in strict they are simply never allowed).
const std::vector<Family>& default_denials() {
    static const std::vector<Family> families = {
        {"the mount table is fixed before exec; includes the new mount API "
         "(flatpak CVE-2021-41133)",
         {"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
          "move_mount", "open_tree", "mount_setattr", "open_tree_attr"}},
        {"a nested namespace hands the command a fresh set of capabilities", {"unshare", "setns"}},
        {"reads or steals another process's memory or file descriptors",
         {"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"}},
        {"large kernel attack surface; io_uring also performs operations seccomp never sees",
         {"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
          "io_uring_register"}},
        {"the kernel keyring is shared with the host", {"keyctl", "add_key", "request_key"}},
        {"loads code into the kernel",
         {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module"}},
        {"file handles reopen files outside the mount tree (the 'shocker' escape)",
         {"open_by_handle_at", "name_to_handle_at"}},
        {"host administration",
         {"swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup"}},
        {"raw x86 port I/O", {"iopl", "ioperm"}},
        {"obsolete interfaces nobody needs", {"lookup_dcookie", "nfsservctl", "uselib"}},
        {"the clock is not namespaced (and needs CAP_SYS_TIME anyway)",
         {"settimeofday", "clock_settime", "adjtimex", "clock_adjtime"}},
    };
    return families;
}

// A syscall denied only for some arguments. Both forms are needed because libseccomp drops
// conditional rules of a syscall that also has an unconditional one: a default-allow filter
// lists when to deny, a default-deny (strict) filter lists when to allow.
struct Guard {
    const char* name;
    const char* why;
    std::vector<std::vector<ArgCmp>> deny_when;   // any of these: EPERM
    std::vector<std::vector<ArgCmp>> allow_when;  // strict: any of these: allowed
};

ArgCmp masked(unsigned arg, std::uint64_t mask, std::uint64_t value) {
    return ArgCmp{arg, ArgCmp::masked_eq, mask, value};
}

// Conditions whose union is "the low 32 bits of argument `arg` are none of `values`".
// libseccomp takes one comparison per argument in a rule and has no masked not-equal, so the
// complement is a prefix cover: walking the bits from the top, wherever a branch leaves every
// excluded value behind, one masked compare on the bits so far covers that whole branch.
void cover_low32(unsigned arg, std::uint32_t prefix, int depth,
                 const std::vector<std::uint32_t>& values, std::vector<std::vector<ArgCmp>>& out) {
    if (depth == 32) return;  // the prefix is an excluded value
    const int bit = 31 - depth;
    const auto mask = static_cast<std::uint32_t>(0xffffffffULL << bit);
    for (std::uint32_t b : {0u, 1u}) {
        const std::uint32_t p = prefix | (b << bit);
        std::vector<std::uint32_t> rest;
        for (auto v : values)
            if ((v & mask) == p) rest.push_back(v);
        if (rest.empty())
            out.push_back({masked(arg, mask, p)});
        else
            cover_low32(arg, p, depth + 1, rest, out);
    }
}

std::vector<std::vector<ArgCmp>> low32_not_in(unsigned arg, std::vector<std::uint32_t> values) {
    std::vector<std::vector<ArgCmp>> out;
    cover_low32(arg, 0, 0, values, out);
    return out;
}

// The kernel reads ioctl's cmd and personality's persona as 32-bit ints, so the comparisons
// look at the low 32 bits only: comparing all 64 would let TIOCSTI | (1 << 32) through
// (bubblewrap CVE-2017-5226).
const std::vector<Guard>& guards() {
    static const std::vector<Guard> list = [] {
        std::vector<Guard> g;

        Guard clone{
            "clone", "clone with a CLONE_NEW* flag creates namespaces like unshare", {}, {}};
        std::uint64_t all_ns = 0;
        for (auto f : kCloneNamespaceFlags) {
            clone.deny_when.push_back({masked(0, f, f)});
            all_ns |= f;
        }
        clone.allow_when.push_back({masked(0, all_ns, 0)});
        g.push_back(std::move(clone));

        Guard ioctl{"ioctl",
                    "TIOCSTI/TIOCLINUX inject input into the user's terminal (CVE-2017-5226)",
                    {{masked(1, 0xffffffff, TIOCSTI)}, {masked(1, 0xffffffff, TIOCLINUX)}},
                    low32_not_in(1, {TIOCSTI, TIOCLINUX})};
        g.push_back(std::move(ioctl));

        Guard pers{
            "personality",
            "personality flags (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE) weaken memory "
            "protections",
            low32_not_in(0, {kPerLinux, kPersonalityQuery}),
            {{masked(0, 0xffffffff, kPerLinux)}, {masked(0, 0xffffffff, kPersonalityQuery)}}};
        g.push_back(std::move(pers));
        return g;
    }();
    return list;
}

constexpr const char* kClone3Why =
    "clone3's flags live in memory seccomp cannot inspect; ENOSYS makes libc fall back to clone";

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string action_text(Action a, int err) {
    switch (a) {
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

std::string where(const char* list, const policy::SyscallRule& r) {
    std::string s = list;
    if (!r.src.file.empty()) s += " (" + r.src.str() + ")";
    return s;
}

// Per syscall, the rules it ends up with. Kept in a map so the set comes out sorted by name.
using Table = std::map<std::string, std::vector<Rule>>;

// issue 18 #8: Landlock cannot refuse a connect to a pathname unix socket, so every connect
// goes to the supervisor, which checks the address and connects for the caller
// (sandbox/linux/unix_connect.hpp). Only with a listener to answer it (log_denials); a profile
// that denies connect outright keeps its deny.
constexpr const char* kConnectWhy =
    "connect() is checked and made by the supervisor: unix sockets of the host stay closed";

void gate_connect(Table& t, const policy::SeccompPlan& plan) {
    if (!plan.log_denials) return;
    for (const auto& d : plan.deny)
        if (d.name == "connect") return;
    t["connect"] = {Rule{"connect", Action::notify, 0, {}, kConnectWhy}};
}

// `agentbox learn`: the calls that name a path the command reads, looks at or executes are
// sent to the supervisor, which records the path and lets the call continue
// (sandbox/linux/notify.cpp). Continuing is safe here only because nothing is decided: the
// mounts and Landlock judge the call exactly as without the observer, and a path swapped after
// the supervisor's look can only make the learned profile wrong, which its re-run shows. A
// call the rule set denies stays denied.
constexpr const char* kObserveWhy = "agentbox learn: the path is recorded, the call goes on";

void observe_files(Table& t, const policy::SeccompPlan& plan, bool strict) {
    if (!plan.observe_files || !plan.log_denials) return;
    for (const char* n : observed_syscalls()) {
        auto it = t.find(n);
        if (strict ? (it == t.end() || it->second.empty() ||
                      it->second.front().action != Action::allow ||
                      !it->second.front().args.empty())
                   : it != t.end())
            continue;  // denied (or guarded by arguments): left as it is
        t[n] = {Rule{n, Action::notify, 0, {}, kObserveWhy}};
    }
}

Rule deny_rule(const std::string& name, std::string why, int err = EPERM) {
    return Rule{name, Action::errno_, err, {}, std::move(why)};
}

RuleSet finish(Table table, Action def, int def_err, const policy::SeccompPlan& plan) {
    RuleSet rs;
    rs.default_action = def;
    rs.default_err = def_err;
    for (auto& [name, rules] : table)
        for (auto& r : rules) rs.rules.push_back(std::move(r));
    for (const auto& a : plan.allow)
        rs.names.push_back({a.name, where("process.allow_syscalls", a)});
    for (const auto& d : plan.deny) rs.names.push_back({d.name, where("process.deny_syscalls", d)});
    return rs;
}

// default: allow everything but the deny set. The profile's allow_syscalls take names out of
// the deny set; its deny_syscalls add them (a name in both is denied: fail closed).
RuleSet default_rules(const policy::SeccompPlan& plan) {
    Table t;
    for (const auto& fam : default_denials())
        for (const char* n : fam.names) t[n] = {deny_rule(n, fam.why)};
    for (const auto& g : guards())
        for (const auto& when : g.deny_when)
            t[g.name].push_back(Rule{g.name, Action::errno_, EPERM, when, g.why});
    t["clone3"] = {deny_rule("clone3", kClone3Why, ENOSYS)};

    for (const auto& a : plan.allow) t.erase(a.name);
    for (const auto& d : plan.deny) {
        auto& rules = t[d.name];
        const bool already = rules.size() == 1 && rules[0].args.empty();
        if (!already) rules = {deny_rule(d.name, where("process.deny_syscalls", d))};
    }
    gate_connect(t, plan);
    observe_files(t, plan, /*strict=*/false);
    return finish(std::move(t), Action::allow, 0, plan);
}

// strict: deny (EPERM) everything but an allowlist in the style of the container runtimes'
// default profiles. The deny set above is never on it; guarded syscalls are allowed only for
// harmless arguments.
RuleSet strict_rules(const policy::SeccompPlan& plan) {
    std::set<std::string> denied;
    for (const auto& fam : default_denials())
        for (const char* n : fam.names) denied.insert(n);

    Table t;
    for (const char* n : strict_allowlist())
        if (!denied.count(n)) t[n] = {Rule{n, Action::allow, 0, {}, "strict allowlist"}};
    for (const auto& g : guards()) {
        auto& rules = t[g.name];
        rules.clear();
        for (const auto& when : g.allow_when)
            rules.push_back(Rule{g.name, Action::allow, 0, when, g.why});
    }
    t["clone3"] = {deny_rule("clone3", kClone3Why, ENOSYS)};

    for (const auto& a : plan.allow)
        t[a.name] = {Rule{a.name, Action::allow, 0, {}, where("process.allow_syscalls", a)}};
    for (const auto& d : plan.deny) {
        auto it = t.find(d.name);
        // clone3 keeps its ENOSYS: it is denied either way, and libc's fallback still works.
        if (it != t.end() && d.name != "clone3") t.erase(it);
    }
    gate_connect(t, plan);
    observe_files(t, plan, /*strict=*/true);
    return finish(std::move(t), Action::errno_, EPERM, plan);
}

bool arg_matches(const ArgCmp& c, std::uint64_t v) {
    switch (c.op) {
        case ArgCmp::eq:
            return v == c.value;
        case ArgCmp::ne:
            return v != c.value;
        case ArgCmp::masked_eq:
            return (v & c.mask) == c.value;
    }
    return false;
}

std::string rule_line(const Rule& r) {
    std::string s = r.syscall + " " + action_text(r.action, r.err);
    for (const auto& c : r.args) {
        s += " a" + std::to_string(c.arg);
        switch (c.op) {
            case ArgCmp::eq:
                s += "==" + hex(c.value);
                break;
            case ArgCmp::ne:
                s += "!=" + hex(c.value);
                break;
            case ArgCmp::masked_eq:
                s += "&" + hex(c.mask) + "==" + hex(c.value);
                break;
        }
    }
    return s;
}

}  // namespace

RuleSet rules_for(const policy::SeccompPlan& plan) {
    return plan.mode == profile::SeccompMode::strict ? strict_rules(plan) : default_rules(plan);
}

// One line per rule, sorted, so that equal filters have equal text whatever order the profile
// listed names in. `why` is left out: it documents a rule without changing the filter.
std::string canonical(const RuleSet& rs) {
    std::vector<std::string> lines;
    for (const auto& r : rs.rules) lines.push_back(rule_line(r));
    std::sort(lines.begin(), lines.end());
    std::set<std::string> names;
    for (const auto& n : rs.names) names.insert(n.name);

    std::string out = "seccomp 1\n";
    out += "default " + action_text(rs.default_action, rs.default_err) + "\n";
    out += std::string("foreign-arch ") + (rs.kill_foreign_arch ? "kill" : "filter") + "\n";
    for (const auto& l : lines) out += l + "\n";
    for (const auto& n : names) out += "name " + n + "\n";
    return out;
}

std::string digest(const RuleSet& rs) {
    const std::string text = canonical(rs);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
    return buf;
}

Action evaluate(const RuleSet& rs, std::string_view syscall,
                const std::array<std::uint64_t, 6>& args, int* err) {
    for (const auto& r : rs.rules) {
        if (r.syscall != syscall) continue;
        bool all = true;
        for (const auto& c : r.args)
            if (c.arg >= args.size() || !arg_matches(c, args[c.arg])) all = false;
        if (all) {
            if (err) *err = r.err;
            return r.action;
        }
    }
    if (err) *err = rs.default_err;
    return rs.default_action;
}

}  // namespace agentbox::seccomp
