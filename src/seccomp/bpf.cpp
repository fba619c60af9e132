// RuleSet -> BPF bytes. The only file that talks to libseccomp.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "seccomp/rules.hpp"
#include "sys/fd.hpp"
#include "util/strings.hpp"

namespace agentbox::seccomp {

namespace {

using Ctx = std::unique_ptr<std::remove_pointer_t<scmp_filter_ctx>, void (*)(scmp_filter_ctx)>;

// libseccomp returns -errno.
[[noreturn]] void fail(const std::string& what, int rc) {
    throw std::runtime_error(what + ": " + std::strerror(-rc));
}

std::uint32_t scmp_action(Action a, int err, bool notify) {
    switch (a) {
        case Action::allow:
            return SCMP_ACT_ALLOW;
        // Denials become user notifications so the supervisor can log them (and answer
        // EPERM). Only EPERM ones: clone3's ENOSYS must reach libc unchanged to trigger its
        // fallback, and nothing would be learned from logging it.
        case Action::errno_:
            return notify && err == EPERM ? SCMP_ACT_NOTIFY
                                          : SCMP_ACT_ERRNO(static_cast<std::uint32_t>(err));
        case Action::kill_process:
            return SCMP_ACT_KILL_PROCESS;
        case Action::notify:
            return SCMP_ACT_NOTIFY;
    }
    throw std::logic_error("seccomp: unknown action");
}

std::vector<std::string> native_names() {
    std::vector<std::string> out;
    for (int nr = 0; nr < 1024; ++nr) {
        char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!n) continue;
        out.emplace_back(n);
        std::free(n);
    }
    return out;
}

int resolve(const std::string& name, const std::string& where) {
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr != __NR_SCMP_ERROR) return nr;
    std::string msg = "unknown syscall " + util::quote(name) + " in " + where;
    const std::string guess = util::nearest(name, native_names());
    if (!guess.empty()) msg += "; did you mean " + util::quote(guess) + "?";
    throw std::runtime_error(msg);
}

// libseccomp keeps only the unconditional rule of a syscall that also has conditional ones,
// and orders rules of different actions by its own priorities. rules_for never produces
// either; refuse such a set rather than compile something other than what it says.
void check_consistent(const RuleSet& rs) {
    std::map<std::string, const Rule*> first;
    for (const auto& r : rs.rules) {
        auto [it, fresh] = first.emplace(r.syscall, &r);
        if (fresh) continue;
        const Rule& f = *it->second;
        if (f.action != r.action || f.err != r.err || f.args.empty() || r.args.empty())
            throw std::runtime_error("seccomp: rules for " + util::quote(r.syscall) +
                                     " mix actions or an unconditional rule with conditions");
    }
}

std::vector<scmp_arg_cmp> arg_cmps(const Rule& r) {
    std::vector<scmp_arg_cmp> out;
    for (const auto& c : r.args) {
        scmp_arg_cmp a{};
        a.arg = c.arg;
        switch (c.op) {
            case ArgCmp::eq:
                a.op = SCMP_CMP_EQ;
                a.datum_a = c.value;
                break;
            case ArgCmp::ne:
                a.op = SCMP_CMP_NE;
                a.datum_a = c.value;
                break;
            case ArgCmp::masked_eq:
                a.op = SCMP_CMP_MASKED_EQ;
                a.datum_a = c.mask;
                a.datum_b = c.value;
                break;
        }
        out.push_back(a);
    }
    return out;
}

// libseccomp 2.5 has no seccomp_export_bpf_mem: export into a memfd and read it back.
std::vector<std::uint8_t> export_bpf(scmp_filter_ctx ctx) {
    sys::unique_fd fd(memfd_create("agentbox-seccomp", MFD_CLOEXEC));
    if (!fd) fail("memfd_create(seccomp)", -errno);
    if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0) fail("seccomp_export_bpf", rc);
    struct stat st {};
    if (fstat(fd.get(), &st) < 0) fail("fstat(seccomp memfd)", -errno);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            pread(fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("pread(seccomp memfd)", n < 0 ? -errno : -EIO);
        done += static_cast<std::size_t>(n);
    }
    return out;
}

// The fence: a default-allow filter lets through every number libseccomp cannot name, and a
// kernel newer than libseccomp has such numbers (libseccomp 2.5.4 names up to 456; Linux 6.15's
// open_tree_attr, 467, makes detached mount trees, a call of the denied mount family that no
// rule could name). Numbers past the last one libseccomp names for an architecture answer
// ENOSYS, as on a kernel without them: callers fall back, as they do for clone3. Those below
// it that it cannot name are holes of the architecture's table, which the kernel answers
// ENOSYS itself.
constexpr std::uint32_t kX32Bit = 0x40000000;  // x32 calls: x86_64's arch, this bit in the number

// Calls the rule tables name that an older libseccomp than the kernel's may not: past the last
// number it names, so the fence (default-allow) or the default action (strict) denies them
// while it cannot name them, and their rule takes over once it can. Any other name it cannot
// resolve is a mistake in the tables, refused as before.
bool newer_than_libseccomp(const std::string& name) {
    static const char* const newer[] = {"open_tree_attr"};  // Linux 6.15, the mount family
    for (const char* n : newer)
        if (name == n) return true;
    return false;
}

// The last number libseccomp names on `arch` among `base` + [0, below).
std::uint32_t last_named(std::uint32_t arch, std::uint32_t base, std::uint32_t below) {
    std::uint32_t last = 0;
    for (std::uint32_t nr = 0; nr < below; ++nr)
        if (char* n = seccomp_syscall_resolve_num_arch(arch, static_cast<int>(base | nr))) {
            last = nr;
            std::free(n);
        }
    return last;
}

// `bpf` (libseccomp's program, which loads what it needs from its first instruction) behind a
// prefix answering ENOSYS for the numbers past the last named one of each architecture the
// filter holds, `compat` when i386 and x32 are filtered beside x86_64. Jumps are relative and
// forward only, so the program is unchanged behind the prefix.
std::vector<std::uint8_t> fence_unnamed(const std::vector<std::uint8_t>& bpf, bool compat) {
    struct Arch {
        std::uint32_t audit;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> deny;  // inclusive ranges
    };
    std::vector<Arch> arches;
    const std::uint32_t native = seccomp_arch_native();
    if (native == SCMP_ARCH_X86_64) {
        Arch x86_64{native, {{last_named(native, 0, 1024) + 1, kX32Bit - 1}}};
        // x32's own calls are numbered from 512: the common ones end below.
        if (compat)
            x86_64.deny.push_back(
                {kX32Bit + last_named(SCMP_ARCH_X32, kX32Bit, 512) + 1, kX32Bit + 511});
        arches.push_back(x86_64);
        if (compat) arches.push_back({SCMP_ARCH_X86, {{last_named(SCMP_ARCH_X86, 0, 1024) + 1, ~0u}}});
    } else {
        arches.push_back({native, {{last_named(native, 0, 1024) + 1, ~0u}}});
    }

    // Laid out with the targets as instruction indexes first, made relative at the end.
    constexpr std::size_t kDeny = ~std::size_t{0}, kPass = kDeny - 1;
    struct Insn {
        std::uint16_t code;
        std::uint32_t k;
        std::size_t jt = 0, jf = 0;  // absolute, or kDeny / kPass
    };
    std::vector<Insn> pre;
    pre.push_back({BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)});
    for (std::size_t n = 0; n < arches.size(); ++n) {
        const Arch& a = arches[n];
        const std::size_t test = pre.size();
        pre.push_back({BPF_JMP | BPF_JEQ | BPF_K, a.audit, test + 1, kPass});
        pre.push_back({BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)});
        for (const auto& [lo, hi] : a.deny) {
            const std::size_t at = pre.size();
            pre.push_back({BPF_JMP | BPF_JGE | BPF_K, lo, at + 1, at + 2});
            pre.push_back({BPF_JMP | BPF_JGT | BPF_K, hi, at + 2, kDeny});
        }
        pre.push_back({BPF_JMP | BPF_JA | BPF_K, 0});  // a number it names: to the program
        // Another architecture: its test, which still has the arch loaded.
        if (n + 1 < arches.size()) pre[test].jf = pre.size();
    }
    const std::size_t deny = pre.size();
    pre.push_back({BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)});
    const std::size_t program = pre.size();

    std::vector<sock_filter> out;
    for (std::size_t n = 0; n < pre.size(); ++n) {
        const Insn& i = pre[n];
        const auto rel = [&](std::size_t target) {
            const std::size_t t = target == kDeny ? deny : target == kPass ? program : target;
            if (t <= n || t - n - 1 > 255) throw std::logic_error("seccomp: fence jump out of range");
            return static_cast<std::uint8_t>(t - n - 1);
        };
        sock_filter f{i.code, 0, 0, i.k};
        if (BPF_CLASS(i.code) == BPF_JMP && BPF_OP(i.code) == BPF_JA) {
            f.k = static_cast<std::uint32_t>(program - n - 1);
        } else if (BPF_CLASS(i.code) == BPF_JMP) {
            f.jt = rel(i.jt);
            f.jf = rel(i.jf);
        }
        out.push_back(f);
    }
    std::vector<std::uint8_t> bytes(out.size() * sizeof(sock_filter) + bpf.size());
    std::memcpy(bytes.data(), out.data(), out.size() * sizeof(sock_filter));
    std::memcpy(bytes.data() + out.size() * sizeof(sock_filter), bpf.data(), bpf.size());
    return bytes;
}

}  // namespace

void check_names(const RuleSet& rs) {
    for (const auto& n : rs.names) resolve(n.name, n.where);
}

std::vector<std::uint8_t> compile(const RuleSet& rs, bool notify) {
    check_names(rs);
    for (const auto& r : rs.rules)
        if (!newer_than_libseccomp(r.syscall))
            resolve(r.syscall, r.why.empty() ? "the rule set" : r.why);
    check_consistent(rs);

    Ctx ctx(seccomp_init(scmp_action(rs.default_action, rs.default_err, notify)), seccomp_release);
    if (!ctx) throw std::runtime_error("seccomp_init: failed");

    if (rs.kill_foreign_arch) {
        // Only the native architecture is in the filter; any other (i386 via int 0x80, x32
        // via the 0x40000000 bit) takes the bad-arch action. Their syscall numbers differ, so
        // a deny list written for x86_64 would not hold there.
        if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
            rc < 0)
            fail("seccomp_attr_set(ACT_BADARCH)", rc);
    } else if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
        // Filter the compat ABIs with the same rules, resolved per architecture.
        for (std::uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32})
            if (int rc = seccomp_arch_add(ctx.get(), arch); rc < 0 && rc != -EEXIST)
                fail("seccomp_arch_add", rc);
    }
    // A binary search over syscall numbers instead of a linear chain: the strict allowlist has
    // ~280 entries. Only speed depends on it, so an older libseccomp without it is fine.
    (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

    const std::uint32_t def = scmp_action(rs.default_action, rs.default_err, notify);
    for (const auto& r : rs.rules) {
        // strict with a listener: the default (a denial) is a notification already, and the
        // supervisor tells a gated connect from a denial by the rule set, not the filter.
        if (r.action == Action::notify && def == SCMP_ACT_NOTIFY) continue;
        const int nr = seccomp_syscall_resolve_name(r.syscall.c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // newer than libseccomp: the fence answers it
        auto cmps = arg_cmps(r);
        const int rc = seccomp_rule_add_array(ctx.get(), scmp_action(r.action, r.err, notify), nr,
                                              static_cast<unsigned>(cmps.size()), cmps.data());
        if (rc == -EACCES)
            throw std::runtime_error("seccomp: rule for " + util::quote(r.syscall) +
                                     " has the default action");
        if (rc < 0) fail("seccomp_rule_add(" + r.syscall + ")", rc);
    }
    std::vector<std::uint8_t> bpf = export_bpf(ctx.get());
    // strict denies what it does not list, named or not.
    if (rs.default_action == Action::allow) bpf = fence_unnamed(bpf, !rs.kill_foreign_arch);
    return bpf;
}

std::string libseccomp_version() {
    const scmp_version* v = seccomp_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->micro);
}

std::string syscall_name(int nr) {
    char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (!n) return "syscall#" + std::to_string(nr);
    std::string s(n);
    std::free(n);
    return s;
}

}  // namespace agentbox::seccomp
