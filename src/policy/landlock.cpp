// The Landlock part of the Plan: a second, kernel-enforced statement of the mount list, so that
// a hole in the mount setup (or a path reached some other way) is still refused. Rules are in
// sandbox paths and derived from the mounts, never from the profile directly.
#include <algorithm>

#include "policy/compile_steps.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

// The highest ABI this code knows how to use (Linux 6.12+: scopes; 6.15: ABI 7).
constexpr int kMaxAbi = 7;

bool under_any(const std::string& path, const std::vector<std::string>& dirs) {
    return std::any_of(dirs.begin(), dirs.end(),
                       [&](const std::string& d) { return util::path_within(path, d); });
}

}  // namespace

void plan_landlock(Plan& plan, const std::vector<FsRule>& rules, const profile::Profile& profile,
                   const HostFacts& host) {
    const profile::Process& process = profile.process;
    LandlockPlan& ll = plan.landlock;
    ll.mode = process.landlock.set ? process.landlock.value : profile::LandlockMode::best_effort;
    const profile::Source mode_src =
        process.landlock.set ? process.landlock.src : profile::Source{"<default>", 0, 0};
    ll.abi = ll.mode == profile::LandlockMode::off ? 0 : std::clamp(host.landlock_abi, 0, kMaxAbi);

    if (ll.mode == profile::LandlockMode::require && ll.abi == 0)
        plan.weakenings.push_back(Weakening{"process.landlock \"require\"", mode_src,
                                            "Landlock (kernel 5.13+ with landlock in lsm=)"});
    if (!plan.exec_allow.empty() && ll.abi == 0)
        plan.weakenings.push_back(
            Weakening{"filesystem.exec", profile.filesystem.exec.front().src,
                      "Landlock, to restrict execution to filesystem.exec (kernel 5.13+ with "
                      "landlock in lsm=, and process.landlock not \"off\")"});
    if (ll.abi == 0) return;  // nothing will be enforced: listing rules would mislead

    // With an exec allowlist, exec is granted only beneath its entries; otherwise wherever
    // the files are visible (noexec mount flags still apply).
    auto with_exec = [&](const std::string& path, unsigned access) {
        if (plan.exec_allow.empty() || under_any(path, plan.exec_allow)) access |= ll_exec;
        return access;
    };
    // A unix socket the command binds in a directory the host shares serves host clients
    // (issue 18 #8): sockets may be made only on the sandbox's own tmpfs mounts and in the
    // staged project, and only where no direct host bind lies beneath (a Landlock grant
    // covers everything below it).
    auto may_make_sockets = [&](const Mount& t) {
        return std::none_of(plan.mounts.begin(), plan.mounts.end(), [&](const Mount& m) {
            return m.kind == MountKind::bind_rw && util::path_within(m.target, t.target);
        });
    };
    for (const auto& m : plan.mounts) {
        unsigned access = 0;
        switch (m.kind) {
            case MountKind::bind_ro: access = with_exec(m.target, ll_read); break;
            case MountKind::bind_rw: access = with_exec(m.target, ll_read | ll_write); break;
            case MountKind::overlay:  // its socket inodes land in the session's upper layer
            case MountKind::state_home:  // the session's own directory, as the upper layer
            case MountKind::tmpfs:
                access = with_exec(m.target, ll_read | ll_write);
                if (may_make_sockets(m)) access |= ll_make_sock;
                break;
            case MountKind::proc: access = ll_read | ll_write; break;
            case MountKind::dev: access = ll_read | ll_write | ll_ioctl_dev; break;
            case MountKind::mask_dir:
            case MountKind::mask_file:
            case MountKind::symlink:
            case MountKind::dir: continue;
        }
        ll.rules.push_back(LandlockRule{m.target, access, m.rule});
    }
    for (const auto& e : plan.exec_allow) {
        // An exec entry that is not visible would make the backend fail to open it.
        const FsMatch m = best_fs_rule(rules, e);
        if (!m.rule || m.rule->kind == FsKind::deny) {
            plan.notes.push_back("filesystem.exec " + util::quote(e) +
                                 " is not visible in the sandbox; no Landlock rule for it");
            continue;
        }
        auto same = std::find_if(ll.rules.begin(), ll.rules.end(),
                                 [&](const LandlockRule& r) { return r.path == e; });
        if (same != ll.rules.end())
            same->access |= ll_read | ll_exec;
        else
            ll.rules.push_back(LandlockRule{e, ll_read | ll_exec, "filesystem.exec " + util::quote(e)});
    }
    // No TCP rules (ABI 4's bind/connect restriction stays unused). In modes "none" and
    // "proxy" the network namespace is the boundary: it holds only lo, so a TCP socket there
    // reaches either something the sandbox itself listens on or the proxy's listener, which
    // init bound before the command existed and which is the only way out. Landlock's TCP
    // rules name ports, never addresses, so they cannot say "loopback only": denying bind
    // broke every dev server and test suite that listens on 127.0.0.1, and allowing connect
    // to the ports those pick (often ephemeral) would allow every port. In mode "host" the
    // sandbox shares the host's network and nothing is filtered (a note says so).
    ll.restrict_network = false;
    ll.scope_signals = ll.abi >= 6;
    ll.scope_abstract_unix = ll.abi >= 6;
}

}  // namespace agentbox::policy
