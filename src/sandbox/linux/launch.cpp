// The launch sequence, as a list of named steps; the child's half is in init.cpp and
// command.cpp. Ordering constraints are noted at each step.
#include "sandbox/linux/launch.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "net/resolve.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/guards.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/pty.hpp"
#include "sandbox/linux/supervisor.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "seccomp/rules.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

namespace {

void write_file(const std::string& path, const std::string& text) {
    sys::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) throw sys::SysError("open", path, errno);
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw sys::SysError("write", path, errno);
}

// Step 3: inside id = outside id, one entry each. setgroups must be denied before an
// unprivileged writer may write gid_map; we deny it as root too, so supplementary groups
// cannot be dropped to get around a negative group permission.
void write_id_maps(pid_t pid, const policy::Plan& plan) {
    const std::string proc = "/proc/" + std::to_string(pid);
    write_file(proc + "/setgroups", "deny");
    write_file(proc + "/uid_map",
               std::to_string(plan.uid) + " " + std::to_string(::geteuid()) + " 1\n");
    write_file(proc + "/gid_map",
               std::to_string(plan.gid) + " " + std::to_string(::getegid()) + " 1\n");
}

std::uint64_t clone_flags(const policy::Plan& plan) {
    // The cgroup namespace is unshared by the child after it was moved into its cgroups
    // (init.cpp), so that its root is the run's cgroup.
    std::uint64_t f = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID;
    if (plan.ns.net) f |= CLONE_NEWNET;
    if (plan.ns.ipc) f |= CLONE_NEWIPC;
    if (plan.ns.uts) f |= CLONE_NEWUTS;
    return f;
}

void run(const policy::Plan& plan, const StageDirs& stage, const Io& io, const EventSink& sink,
         Outcome& out) {
    if (plan.argv.empty()) throw sys::SysError("run", "(no command)", EINVAL);

    // Step 1: seccomp is compiled here, before clone: libseccomp allocates and may fail, and
    // neither may happen in the child. The cached path skips libseccomp entirely on a hit.
    const seccomp::RuleSet rules = seccomp::rules_for(plan.seccomp);
    const bool notify = plan.seccomp.log_denials;
    const std::string cache = seccomp_cache_dir();
    const std::vector<std::uint8_t> bpf = cache.empty()
                                              ? seccomp::compile(rules, notify)
                                              : seccomp::compile_cached(rules, notify, cache);

    const std::optional<net::ProxyOptions> proxy = proxy_options(plan, sink);

    ChildSetup cs;
    cs.plan = &plan;
    cs.stage = &stage;
    cs.bpf = &bpf;
    cs.notify = notify;
    cs.io = io;
    prepare_exec(cs);

    // Step 2: limits. The cgroups exist before the child does, so it never runs unlimited.
    Cgroups cgroups = Cgroups::create(plan);

    // Step 3: the terminal. The command opens its pty in the sandbox's devpts and sends us
    // the master (supervisor.cpp); raw mode on the user's side lasts exactly this scope.
    std::optional<RawMode> raw;
    cs.tty = io.tty;

    // Step 4: the channels. sync: release (us -> child), seccomp listener and init's status
    // (child -> us). report: failure records; EOF once the command has exec'd.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        throw sys::SysError("socketpair", errno);
    sys::unique_fd sync_parent(sv[0]), sync_child(sv[1]);
    int pv[2];
    if (::pipe2(pv, O_CLOEXEC) < 0) throw sys::SysError("pipe2", errno);
    sys::unique_fd report_read(pv[0]), report_write(pv[1]);
    cs.sync_fd = sync_child.get();
    cs.report_fd = report_write.get();

    // Signals are blocked before clone: one arriving in between is queued, not lost.
    SignalBlock signals;

    // Step 5: clone. The child is PID 1 of the new pid namespace and waits for the release.
    int pidfd = -1;
    pid_t pid = sys_clone3(clone_flags(plan), &pidfd, cgroups.clone_into());
    if (pid < 0) throw sys::SysError("clone3", errno);
    if (pid == 0) {
        // Child: the supervisor's ends must go, or it could not notice the supervisor's
        // death (a hang-up on the sync socket) nor the pipe's EOF.
        ::close(sync_parent.get());
        ::close(report_read.get());
        ::close(signals.fd());
        child_main(cs);
    }
    ChildGuard guard(pid, pidfd);
    sync_child.reset();
    report_write.reset();

    // Step 6: identity and limits, then release. Both before the child runs a single step.
    write_id_maps(pid, plan);
    cgroups.add(pid);
    if (::send(sync_parent.get(), "R", 1, MSG_NOSIGNAL) != 1)
        throw sys::SysError("send(release)", errno);

    if (io.tty) raw.emplace(io.in);
    Supervised s;
    s.pid = pid;
    s.pidfd = guard.pidfd();
    s.sync_fd = sync_parent.get();
    s.report_fd = report_read.get();
    s.signal_fd = signals.fd();
    s.proxy = proxy ? &*proxy : nullptr;
    s.stage_upper = stage.upper;
    s.raw = raw ? &*raw : nullptr;
    supervise(plan, rules, io, sink, s, out);
    guard.reaped();
    if (raw) raw->restore();

    out.peak_memory = cgroups.peak_memory();
    if (out.peak_memory == 0) out.peak_memory = static_cast<std::uint64_t>(out.usage.ru_maxrss) * 1024;
}

}  // namespace

// Network mode proxy: the proxy's settings, before clone so that a bad resolver override is a
// setup failure (125) rather than a proxy that answers wrongly.
std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink) {
    if (plan.net.mode != profile::NetMode::proxy || !plan.ns.net) return std::nullopt;
    net::ProxyOptions o;
    o.net = plan.net;
    if (const char* spec = std::getenv(net::kResolveOverrideEnv); spec && *spec) {
#ifdef AGENTBOX_TEST_RESOLVER
        o.resolve_override = net::parse_resolve_override(spec);
        // Never silent: it decides where allowed names connect to.
        if (sink)
            sink(Event{"warning",
                       {{"resolver", std::string(net::kResolveOverrideEnv) + " is set: " + spec}}});
#else
        if (sink)
            sink(Event{"warning",
                       {{"resolver", std::string(net::kResolveOverrideEnv) +
                                         " is ignored: this build has AGENTBOX_TEST_RESOLVER off"}}});
#endif
    }
    return o;
}

std::string seccomp_cache_dir() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/')
        return std::string(x) + "/agentbox/seccomp";
    if (const char* h = std::getenv("HOME"); h && *h == '/')
        return std::string(h) + "/.cache/agentbox/seccomp";
    return {};
}

Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink) {
    Outcome out;
    const auto start = std::chrono::steady_clock::now();
    try {
        run(plan, stage, io, sink, out);
    } catch (const std::exception& ex) {
        out.exit_code = kExitSetup;
        out.started = false;
        out.error = ex.what();
    }
    out.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
}

}  // namespace agentbox::sandbox::lnx
