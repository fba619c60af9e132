// Landlock: the kernel's own check of every file access, on top of the mount tree. Runs in the
// command's process after pivot_root, before capabilities are dropped; never throws.
//
// Debian 12's <linux/landlock.h> stops at ABI 2 (its ruleset_attr has no net or scope fields),
// so the ABI is spelled out here from the kernel's documentation. The kernel accepts a larger
// ruleset_attr than it knows as long as the unknown tail is zero, and only fields the running
// ABI knows are filled in.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

namespace {

namespace ll {
struct RulesetAttr {
    std::uint64_t handled_access_fs = 0;
    std::uint64_t handled_access_net = 0;  // ABI 4
    std::uint64_t scoped = 0;              // ABI 6
};
struct [[gnu::packed]] PathBeneathAttr {
    std::uint64_t allowed_access = 0;
    std::int32_t parent_fd = -1;
};

constexpr unsigned kCreateRulesetVersion = 1u << 0;
// ABI 7: the kernel logs denials only of the program that called restrict_self unless told
// to go on after an execve, and the command is always a later program (landlock_audit.hpp).
constexpr unsigned kRestrictSelfLogNewExecOn = 1u << 1;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;  // ABI 4
struct NetPortAttr {
    std::uint64_t allowed_access = 0;
    std::uint64_t port = 0;
};

// Filesystem rights, with the ABI that introduced them.
constexpr std::uint64_t kExecute = 1ULL << 0;
constexpr std::uint64_t kWriteFile = 1ULL << 1;
constexpr std::uint64_t kReadFile = 1ULL << 2;
constexpr std::uint64_t kReadDir = 1ULL << 3;
constexpr std::uint64_t kRemoveDir = 1ULL << 4;
constexpr std::uint64_t kRemoveFile = 1ULL << 5;
constexpr std::uint64_t kMakeChar = 1ULL << 6;
constexpr std::uint64_t kMakeDir = 1ULL << 7;
constexpr std::uint64_t kMakeReg = 1ULL << 8;
constexpr std::uint64_t kMakeSock = 1ULL << 9;
constexpr std::uint64_t kMakeFifo = 1ULL << 10;
constexpr std::uint64_t kMakeBlock = 1ULL << 11;
constexpr std::uint64_t kMakeSym = 1ULL << 12;
constexpr std::uint64_t kRefer = 1ULL << 13;     // ABI 2
constexpr std::uint64_t kTruncate = 1ULL << 14;  // ABI 3
constexpr std::uint64_t kIoctlDev = 1ULL << 15;  // ABI 5

constexpr std::uint64_t kFsAbi1 = (1ULL << 13) - 1;

// Network rights (ABI 4) and scopes (ABI 6).
constexpr std::uint64_t kNetBindTcp = 1ULL << 0;
constexpr std::uint64_t kNetConnectTcp = 1ULL << 1;
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
constexpr std::uint64_t kScopeSignal = 1ULL << 1;

// Rights that make sense on a file rather than a directory; add_rule refuses others (EINVAL)
// on a non-directory.
constexpr std::uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;
}  // namespace ll

int create_ruleset(const ll::RulesetAttr* attr, std::size_t size, unsigned flags) {
    return static_cast<int>(::syscall(SYS_landlock_create_ruleset, attr, size, flags));
}
int add_rule(int ruleset, int type, const void* attr) {
    return static_cast<int>(::syscall(SYS_landlock_add_rule, ruleset, type, attr, 0));
}
int restrict_self(int ruleset, unsigned flags) {
    return static_cast<int>(::syscall(SYS_landlock_restrict_self, ruleset, flags));
}

// Every filesystem right this ABI knows: handling all of them is what makes the ruleset deny
// by default.
std::uint64_t fs_rights(int abi) {
    std::uint64_t r = ll::kFsAbi1;
    if (abi >= 2) r |= ll::kRefer;
    if (abi >= 3) r |= ll::kTruncate;
    if (abi >= 5) r |= ll::kIoctlDev;
    return r;
}

std::uint64_t plan_rights(unsigned access) {
    std::uint64_t r = 0;
    if (access & policy::ll_read) r |= ll::kReadFile | ll::kReadDir;
    if (access & policy::ll_write)
        r |= ll::kWriteFile | ll::kRemoveDir | ll::kRemoveFile | ll::kMakeChar | ll::kMakeDir |
             ll::kMakeReg | ll::kMakeFifo | ll::kMakeBlock | ll::kMakeSym | ll::kRefer |
             ll::kTruncate;
    // Binding a unix socket only where the plan says no host process can reach it.
    if (access & policy::ll_make_sock) r |= ll::kMakeSock;
    if (access & policy::ll_exec) r |= ll::kExecute;
    if (access & policy::ll_ioctl_dev) r |= ll::kIoctlDev;
    return r;
}

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

int apply_landlock(const policy::LandlockPlan& plan, int* enforced_abi, StepError& e) {
    *enforced_abi = 0;
    const bool required = plan.mode == profile::LandlockMode::require;
    if (plan.mode == profile::LandlockMode::off) return 0;
    if (plan.abi <= 0) {
        // compile() found nothing to enforce on this host; that is only acceptable when the
        // profile settled for best effort (compile records the weakening).
        return required
                   ? fail(e, "landlock: required, but the plan enforces no ABI", "", EOPNOTSUPP)
                   : 0;
    }

    int kernel_abi = create_ruleset(nullptr, 0, ll::kCreateRulesetVersion);
    if (kernel_abi < 0) {
        if (!required && (errno == ENOSYS || errno == EOPNOTSUPP)) return 0;
        return fail(e, "landlock_create_ruleset(version)", "", errno);
    }
    const int abi = kernel_abi < plan.abi ? kernel_abi : plan.abi;

    ll::RulesetAttr attr;
    attr.handled_access_fs = fs_rights(abi);
    // With network restriction every TCP bind and connect is denied, behind the empty network
    // namespace that already does so, except a connect to the proxy's port (rules below).
    if (abi >= 4 && plan.restrict_network)
        attr.handled_access_net = ll::kNetBindTcp | ll::kNetConnectTcp;
    if (abi >= 6) {
        if (plan.scope_signals) attr.scoped |= ll::kScopeSignal;
        if (plan.scope_abstract_unix) attr.scoped |= ll::kScopeAbstractUnixSocket;
    }
    Fd ruleset{create_ruleset(&attr, sizeof attr, 0)};
    if (ruleset.fd < 0) return fail(e, "landlock_create_ruleset", "", errno);

    for (const auto& rule : plan.rules) {
        Fd dir{::open(rule.path.c_str(), O_PATH | O_CLOEXEC)};
        if (dir.fd < 0) {
            // A path the mount tree does not show cannot be reached, so granting nothing on it
            // loses nothing. Anything else (EACCES, ELOOP) is a plan we cannot honour.
            if (errno == ENOENT || errno == ENOTDIR) continue;
            return fail(e, "open(landlock rule)", rule.path, errno);
        }
        struct stat st {};
        if (::fstat(dir.fd, &st) < 0) return fail(e, "fstat(landlock rule)", rule.path, errno);
        std::uint64_t allowed = plan_rights(rule.access) & attr.handled_access_fs;
        if (!S_ISDIR(st.st_mode)) allowed &= ll::kFileRights;
        if (allowed == 0) continue;  // add_rule rejects an empty set (ENOMSG)
        ll::PathBeneathAttr pb;
        pb.allowed_access = allowed;
        pb.parent_fd = dir.fd;
        if (add_rule(ruleset.fd, ll::kRulePathBeneath, &pb) < 0)
            return fail(e, "landlock_add_rule", rule.path, errno);
    }
    if (attr.handled_access_net & ll::kNetConnectTcp)
        for (std::uint16_t port : plan.connect_ports) {
            ll::NetPortAttr np;
            np.allowed_access = ll::kNetConnectTcp;
            np.port = port;
            if (add_rule(ruleset.fd, ll::kRuleNetPort, &np) < 0)
                return fail(e, "landlock_add_rule(net port)", std::to_string(port), errno);
        }
    // Needs no_new_privs or CAP_SYS_ADMIN in our user namespace: the native child still holds
    // the latter here; under bubblewrap, bwrap has set the former.
    const unsigned flags = kernel_abi >= 7 ? ll::kRestrictSelfLogNewExecOn : 0;
    if (restrict_self(ruleset.fd, flags) < 0) return fail(e, "landlock_restrict_self", "", errno);
    *enforced_abi = abi;
    return 0;
}

}  // namespace agentbox::sandbox::lnx
