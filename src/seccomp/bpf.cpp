// RuleSet -> BPF bytes. The only file that talks to libseccomp.
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

}  // namespace

void check_names(const RuleSet& rs) {
    for (const auto& n : rs.names) resolve(n.name, n.where);
}

std::vector<std::uint8_t> compile(const RuleSet& rs, bool notify) {
    check_names(rs);
    for (const auto& r : rs.rules) resolve(r.syscall, r.why.empty() ? "the rule set" : r.why);
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
        auto cmps = arg_cmps(r);
        const int rc = seccomp_rule_add_array(ctx.get(), scmp_action(r.action, r.err, notify), nr,
                                              static_cast<unsigned>(cmps.size()), cmps.data());
        if (rc == -EACCES)
            throw std::runtime_error("seccomp: rule for " + util::quote(r.syscall) +
                                     " has the default action");
        if (rc < 0) fail("seccomp_rule_add(" + r.syscall + ")", rc);
    }
    return export_bpf(ctx.get());
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
