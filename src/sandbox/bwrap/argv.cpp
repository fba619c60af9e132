#include "sandbox/bwrap/argv.hpp"

#include <stdexcept>

#include "sandbox/linux/mount_paths.hpp"

namespace agentbox::sandbox::bwrap {

namespace {

using policy::MountKind;

void add(std::vector<std::string>& a, std::initializer_list<std::string> xs) {
    a.insert(a.end(), xs);
}

// One Plan mount as bwrap options. bwrap mounts every bind nosuid and (outside --dev-bind)
// nodev, and keeps the source's other flags, noexec among them: the native backend's rules.
void add_mount(std::vector<std::string>& a, const policy::Plan& plan, const policy::Mount& m,
               const Inputs& in) {
    switch (m.kind) {
        case MountKind::bind_ro: add(a, {"--ro-bind", m.source, m.target}); break;
        case MountKind::bind_rw: add(a, {"--bind", m.source, m.target}); break;
        case MountKind::overlay:
            // The staged project: bwrap's own overlay (0.11+, probed), the project read-only
            // below the session's upper/, as the native backend mounts it. Before 0.11 the copy
            // strategy binds the session's snapshot read-write at the project's path instead.
            if (plan.staging == policy::Staging::overlay && !in.upper.empty() &&
                !in.work.empty()) {
                add(a, {"--overlay-src", m.source, "--overlay", in.upper, in.work, m.target});
                break;
            }
            if (plan.staging != policy::Staging::copy || in.snapshot.empty())
                throw std::invalid_argument("bwrap: the staged project " + m.target +
                                            " needs its upper and work directories (overlay) "
                                            "or the copy strategy and its snapshot");
            add(a, {"--bind", in.snapshot, m.target});
            break;
        case MountKind::tmpfs:
            // The native backend's modes: sticky shared temp dirs, a private home.
            add(a, {"--perms", lnx::tmpfs_mode(m.target, plan.home), "--tmpfs", m.target});
            break;
        case MountKind::proc: add(a, {"--proc", m.target}); break;
        case MountKind::dev: add(a, {"--dev", m.target}); break;
        case MountKind::mask_dir:
            // An empty directory nobody can write: a tmpfs, then remounted read-only.
            add(a, {"--perms", "0755", "--tmpfs", m.target, "--remount-ro", m.target});
            break;
        case MountKind::mask_file:
            if (in.empty_file.empty())
                throw std::invalid_argument("bwrap: masking " + m.target + " needs an empty file");
            add(a, {"--ro-bind", in.empty_file, m.target});
            break;
        case MountKind::symlink: add(a, {"--symlink", m.source, m.target}); break;
        case MountKind::dir: add(a, {"--dir", m.target}); break;
        case MountKind::state_home:
            // The session's home directory, holding the agent state copies (Plan::state).
            if (in.state_home.empty())
                throw std::invalid_argument("bwrap: the home " + m.target +
                                            " needs the session's home directory");
            add(a, {"--bind", in.state_home, m.target});
            break;
    }
}

bool has_proc(const policy::Plan& plan) {
    for (const auto& m : plan.mounts)
        if (m.kind == MountKind::proc && m.target == "/proc") return true;
    return false;
}

}  // namespace

std::vector<std::string> make_argv(const policy::Plan& plan, const Inputs& in) {
    if (in.bwrap.empty() || in.bwrap.front() != '/')
        throw std::invalid_argument("bwrap: not an absolute path: " + in.bwrap);
    if (plan.argv.empty()) throw std::invalid_argument("bwrap: no command");
    if (!has_proc(plan))
        throw std::invalid_argument("bwrap: agentbox's init is started as /proc/self/fd/N and "
                                    "needs /proc in the sandbox");
    std::vector<std::string> a{in.bwrap};
    // Each namespace by name rather than --unshare-all: that one means --unshare-user-try and
    // --unshare-cgroup-try, which carry on without the namespace where it cannot be made.
    // Missing one here is a bwrap failure, so the run fails closed.
    add(a, {"--die-with-parent", "--unshare-user", "--unshare-pid"});
    if (plan.ns.ipc) a.push_back("--unshare-ipc");
    if (plan.ns.net) a.push_back("--unshare-net");
    if (plan.ns.uts) a.push_back("--unshare-uts");
    if (plan.ns.cgroup) a.push_back("--unshare-cgroup");
    // No --disable-userns: bwrap makes it a second, nested user namespace, which would leave
    // init without CAP_SYS_ADMIN over its mount namespace, so init could not make /proc/sys
    // read-only (launch.cpp). The seccomp filter denies unshare, setns and namespace clones.
    // Our init is PID 1, as in the native backend: it reaps, forwards signals, and its exit
    // takes every process of the sandbox with it.
    a.push_back("--as-pid-1");
    add(a, {"--uid", std::to_string(plan.uid), "--gid", std::to_string(plan.gid)});
    if (plan.ns.uts) add(a, {"--hostname", plan.hostname});
    for (const auto& m : plan.mounts) add_mount(a, plan, m, in);
    if (!in.resolv_conf.empty()) add(a, {"--ro-bind", in.resolv_conf, "/etc/resolv.conf"});
    add(a, {"--chdir", plan.cwd});
    // No --new-session: the command's process calls setsid() itself (linux/command.cpp), after
    // opening its pty when there is one. No --seccomp: init loads the filter as the last step
    // before execve, after Landlock, with the user-notification listener the native backend
    // uses to log denials; bwrap would load it before init and without a listener.
    a.push_back("--");
    add(a, {"/proc/self/fd/" + std::to_string(in.exe_fd), kInitArg, std::to_string(in.sync_fd),
            std::to_string(in.report_fd), std::to_string(in.spec_fd), std::to_string(in.go_fd)});
    return a;
}

std::vector<policy::Weakening> check(const policy::Plan& plan) {
    std::vector<policy::Weakening> w;
    auto add_w = [&](std::string rule, profile::Source src, std::string missing) {
        w.push_back(policy::Weakening{std::move(rule), std::move(src), std::move(missing)});
    };
    if (!plan.ns.user || !plan.ns.mount || !plan.ns.pid)
        add_w("namespaces", {}, "the bwrap backend always needs user, mount and pid namespaces");
    if (plan.net.mode == profile::NetMode::proxy && !plan.ns.net)
        add_w("network.mode = \"proxy\"", plan.net.mode_src,
              "the proxy needs the sandbox's own network namespace");
    if (!has_proc(plan))
        add_w("filesystem.proc", {},
              "the bwrap backend starts agentbox's init through /proc inside the sandbox");
    for (const policy::Limit& l : plan.limits) {
        using policy::Mechanism;
        // Mechanism none is already one of the plan's weakenings (compile): not twice.
        if (l.value == 0 || l.how == Mechanism::none) continue;
        bool ok = false;
        if (l.name == "memory" || l.name == "pids")
            ok = l.how == Mechanism::cgroup1 || l.how == Mechanism::cgroup2;
        else if (l.name == "timeout") ok = l.how == Mechanism::supervisor;
        else if (l.name == "file_size" || l.name == "open_files") ok = l.how == Mechanism::rlimit;
        // stage_size: the supervisor watches the snapshot, less what it held at the start.
        else if (l.name == "stage_size") ok = l.how == Mechanism::stage;
        if (!ok)
            add_w("limits." + l.name, l.src,
                  std::string("the bwrap backend cannot enforce it with ") +
                      policy::to_string(l.how));
    }
    return w;
}

}  // namespace agentbox::sandbox::bwrap
