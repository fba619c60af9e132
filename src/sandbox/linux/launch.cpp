// The launch sequence, as a list of named steps; the child's half is in init.cpp and
// command.cpp. Ordering constraints are noted at each step.
#include "sandbox/linux/launch.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "net/resolve.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/guards.hpp"
#include "sandbox/linux/mounts.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/pty.hpp"
#include "sandbox/linux/supervisor.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "seccomp/rules.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// A new child is queued on the CPU it was forked on, behind us: for the first half of a
// millisecond we have work of our own (the filter, the decision log) and the child, which
// builds the sandbox meanwhile, would only start when we block. Moving it to another CPU lets
// the two run side by side. Only a scheduling hint, so every failure is ignored; whatever
// the child inherits is put back before the command runs (command.cpp, after its go).
bool spread_child(pid_t pid, const cpu_set_t& cpus) {
    if (CPU_COUNT(&cpus) < 2) return false;
    const int here = ::sched_getcpu();
    if (here < 0) return false;
    cpu_set_t others = cpus;
    CPU_CLR(here, &others);
    return ::sched_setaffinity(pid, sizeof others, &others) == 0;
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

    // Step 1: the place for the seccomp filter. It is compiled by us, never in the child
    // (libseccomp allocates and may fail), while the child builds the sandbox (step 6).
    const bool notify = plan.seccomp.log_denials;
    SharedFilter filter;

    std::optional<net::ProxyOptions> proxy = proxy_options(plan, sink);
    if (proxy) proxy->intercept = io.intercept;

    ChildSetup cs;
    cs.plan = &plan;
    cs.stage = &stage;
    cs.shared_bpf = &filter;
    cs.notify = notify;
    cs.io = io;
    prepare_exec(cs);

    // Step 2: limits. The cgroups exist before the child does, so it never runs unlimited.
    Cgroups cgroups = Cgroups::create(plan);
    cs.release = cgroups.needs_add();
    cs.outside_uid = ::geteuid();
    cs.outside_gid = ::getegid();
    cs.restore_cpus = ::sched_getaffinity(0, sizeof cs.cpus, &cs.cpus) == 0;

    // Step 3: the terminal. The command opens its pty in the sandbox's devpts and sends us
    // the master (supervisor.cpp); raw mode on the user's side lasts exactly this scope.
    std::optional<RawMode> raw;
    cs.tty = io.tty;

    // Step 4: the channels (guards.hpp), and go: an eventfd whose one count releases init
    // (with v1 cgroups), the next lets the command exec (child.hpp, wait_go).
    Channels ch = Channels::make();
    cs.sync_fd = ch.sync_child.get();
    cs.report_fd = ch.report_write.get();
    sys::unique_fd go(::eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE));
    if (!go) throw sys::SysError("eventfd", errno);
    cs.go_fd = go.get();
    auto let_go = [&go](const char* what) {
        const std::uint64_t one = 1;
        if (::write(go.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one))
            throw sys::SysError(what, errno);
    };

    // Signals are blocked before clone: one arriving in between is queued, not lost.
    SignalBlock signals;

    // Step 5: clone. The child is PID 1 of the new pid namespace and waits for the release.
    int pidfd = -1;
    pid_t pid = sys_clone3(clone_flags(plan), &pidfd, cgroups.clone_into());
    if (pid < 0) throw sys::SysError("clone3", errno);
    if (pid == 0) {
        // Child: the supervisor's ends must go, or it could not notice the supervisor's
        // death (a hang-up on the sync socket) nor the pipe's EOF.
        ::close(ch.sync_parent.get());
        ::close(ch.report_read.get());
        ::close(signals.fd());
        child_main(cs);
    }
    ChildGuard guard(pid, pidfd);
    ch.close_child_ends();
    const bool spread = cs.restore_cpus && spread_child(pid, cs.cpus);

    // Step 6: v1 cgroups, then release: the child never runs a step outside them. (It writes
    // its own uid/gid maps, init.cpp.)
    if (cs.release) {
        cgroups.add(pid);
        let_go("write(release)");
    }
    // While the child builds the sandbox; a throw ends it (the guard) before the command runs.
    // The cached filter skips libseccomp entirely.
    const seccomp::RuleSet rules = seccomp::rules_for(plan.seccomp);
    const std::string cache = seccomp_cache_dir();
    filter.put(cache.empty() ? seccomp::compile(rules, notify)
                             : seccomp::compile_cached(rules, notify, cache));
    if (io.ready) io.ready();
    if (spread) ::sched_setaffinity(pid, sizeof cs.cpus, &cs.cpus);  // init's own set back
    let_go("write(go)");

    if (io.tty) raw.emplace(io.in);
    Supervised s;
    s.pid = pid;
    s.pidfd = guard.pidfd();
    s.sync_fd = ch.sync_parent.get();
    s.report_fd = ch.report_read.get();
    s.signal_fd = signals.fd();
    s.proxy = proxy ? &*proxy : nullptr;
    s.stage_upper = stage.upper;
    s.raw = raw ? &*raw : nullptr;
    supervise_to_end(plan, rules, io, sink, s, guard, cgroups, out);
    remove_mask_placeholders(plan, stage.upper);
}

}  // namespace

// Network mode proxy: the proxy's settings, before clone so that a bad resolver override is a
// setup failure (125) rather than a proxy that answers wrongly.
std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink) {
    if (plan.net.mode != profile::NetMode::proxy || !plan.ns.net) return std::nullopt;
    net::ProxyOptions o;
    o.net = plan.net;
    // The test overrides change where allowed names connect to and when connections end:
    // never silent.
    auto announce = [&sink](const char* what, const char* env, const std::string& how) {
        if (sink) sink(Event{"warning", {{what, std::string(env) + how}}});
    };
#ifdef AGENTBOX_TEST_RESOLVER
    if (const char* spec = std::getenv(net::kResolveOverrideEnv); spec && *spec) {
        o.resolve_override = net::parse_resolve_override(spec);
        announce("resolver", net::kResolveOverrideEnv, std::string(" is set: ") + spec);
    }
    if (const char* ms = std::getenv(net::kIdleOverrideEnv); ms && *ms) {
        char* end = nullptr;
        const long v = std::strtol(ms, &end, 10);
        if (*end != '\0' || v <= 0)
            throw std::invalid_argument(std::string(net::kIdleOverrideEnv) +
                                        ": not a number of milliseconds: " + ms);
        o.idle_timeout = std::chrono::milliseconds(v);
        announce("proxy", net::kIdleOverrideEnv, std::string(" is set: ") + ms);
    }
#else
    for (const auto& [what, env] : {std::pair{"resolver", net::kResolveOverrideEnv},
                                    std::pair{"proxy", net::kIdleOverrideEnv}})
        if (const char* v = std::getenv(env); v && *v)
            announce(what, env, " is ignored: this build has AGENTBOX_TEST_RESOLVER off");
#endif
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
    return timed_launch([&](Outcome& out) { run(plan, stage, io, sink, out); });
}

}  // namespace agentbox::sandbox::lnx
