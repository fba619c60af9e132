// The launch sequence of both Linux backends, as a list of numbered steps (launch_with), and the
// native backend's starter; bwrap's is in bwrap/launch.cpp. The child's half is in init.cpp
// and command.cpp. Ordering constraints are noted at each step.
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
#include <stdexcept>
#include <string>
#include <utility>

#include "net/resolve.hpp"
#include "sandbox/proxy_options.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/guards.hpp"
#include "sandbox/linux/mounts.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/pty.hpp"
#include "sandbox/linux/supervisor.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "sandbox/linux/unix_connect.hpp"
#include "seccomp/rules.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "util/own_dirs.hpp"
#include "util/phases.hpp"

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

// The native starter: clone3 straight into the namespaces, the child becomes agentbox's init
// (init.cpp), which builds the sandbox itself. The filter is made before the clone and
// handed over in memory shared with it (child.hpp, SharedFilter), read after the go.
class NativeStarter final : public Starter {
public:
    NativeStarter(const policy::Plan& plan, const StageDirs& stage, const Io& io) : plan_(plan) {
        cs_.plan = &plan;
        cs_.stage = &stage;
        cs_.shared_bpf = &filter_;
        cs_.notify = plan.seccomp.log_denials;
        cs_.stamps = util::phases::on();
        cs_.io = io;
        // The command opens its pty in the sandbox's devpts and sends us the master
        // (supervisor.cpp).
        cs_.tty = io.tty;
        cs_.outside_uid = ::geteuid();
        cs_.outside_gid = ::getegid();
        cs_.restore_cpus = ::sched_getaffinity(0, sizeof cs_.cpus, &cs_.cpus) == 0;
        prepare_exec(cs_);
    }

    // The filter before the clone, although the sandbox could be built meanwhile: after the
    // clone every page we write is copied first (copy-on-write with the child), and the step
    // that takes ~0.2 ms before it took 1.4-2.4 ms after it (thread CPU time, 34 page faults
    // against 3), while the command's go waited for it.
    bool filter_first() const override { return true; }
    void take_filter(std::vector<std::uint8_t> bpf) override { filter_.put(bpf); }

    pid_t start(const Wiring& w, int* pidfd) override {
        cs_.release = w.release;
        cs_.sync_fd = w.ch.sync_child.get();
        cs_.report_fd = w.ch.report_write.get();
        cs_.go_fd = w.go.fd();
        // The child is PID 1 of the new pid namespace and waits for its release.
        const pid_t pid = sys_clone3(clone_flags(plan_), pidfd, w.cgroups.clone_into());
        if (pid < 0) throw sys::SysError("clone3", errno);
        if (pid == 0) {
            // Child: the supervisor's ends must go, or it could not notice the supervisor's
            // death (a hang-up on the sync socket) nor the pipe's EOF.
            ::close(w.ch.sync_parent.get());
            ::close(w.ch.report_read.get());
            ::close(w.signals.fd());
            child_main(cs_);
        }
        return pid;
    }

    void started(pid_t pid) override { spread_ = cs_.restore_cpus && spread_child(pid, cs_.cpus); }
    // init's own set back before the command's go (the command puts its own back after it).
    void before_go(pid_t pid) override {
        if (spread_) ::sched_setaffinity(pid, sizeof cs_.cpus, &cs_.cpus);
    }
    void supervise_as(Supervised& s) const override { s.stage_upper = cs_.stage->upper; }
    void finished() override { filter_.mark_points(); }

private:
    const policy::Plan& plan_;
    SharedFilter filter_;
    ChildSetup cs_;
    bool spread_ = false;
};

}  // namespace

// Network mode proxy, in the sandbox's own network namespace: the proxy's settings, before
// clone (sandbox/proxy_options.cpp).
std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink) {
    if (!plan.ns.net) return std::nullopt;
    return sandbox::proxy_options(plan, sink);
}

std::string seccomp_cache_dir() {
    const char* x = std::getenv(util::xdg_variable(util::OwnDir::cache));
    const char* h = std::getenv("HOME");
    const std::string dir = util::own_dir(util::OwnDir::cache, x ? x : "", h ? h : "");
    return dir.empty() ? dir : dir + "/seccomp";
}

seccomp::Filter compile_filter(const policy::Plan& plan,
                               std::optional<seccomp::RuleSet>* built) {
    // Keyed by the rule set's inputs: a hit builds no rule set and skips libseccomp.
    return seccomp::filter_cached(plan.seccomp, plan.seccomp.log_denials, seccomp_cache_dir(),
                                  seccomp::build_facts(), built);
}

void launch_with(Starter& starter, const policy::Plan& plan,
                 const Io& io, const EventSink& sink, Outcome& out) {
    if (plan.argv.empty()) throw sys::SysError("run", "(no command)", EINVAL);

    // Step 1: the seccomp filter: compiled by us, never in the sandbox (libseccomp allocates
    // and may fail). A cache hit builds no rule set at all (the entry carries its digest and
    // size for the log); a miss builds it once, and hands it to the supervisor, which reads
    // it to tell a notified denial's errno (notify.cpp builds it on its first notification
    // otherwise). Made before the start by a starter that needs the filter first (both do
    // today: see NativeStarter); else after it (step 7), while the sandbox is being built.
    std::optional<seccomp::RuleSet> rules;
    Prepared prepared;  // for Io::ready: the caller logs the digest rather than build it again
    bool filtered = false;
    auto filter = [&] {
        seccomp::Filter f = compile_filter(plan, &rules);
        prepared.seccomp_digest = std::move(f.digest);
        prepared.seccomp_rules = f.rules;
        starter.take_filter(std::move(f.bpf));
        filtered = true;
    };
    if (starter.filter_first()) filter();
    std::optional<net::ProxyOptions> proxy = lnx::proxy_options(plan, sink);
    if (proxy) proxy->intercept = io.intercept;  // the run's CA and secrets, never in the Plan

    // Step 2: limits. The cgroups exist before the sandbox does, so it never runs unlimited.
    Cgroups cgroups = Cgroups::create(plan);

    // Step 3: the terminal. Raw mode on the user's side lasts exactly this scope.
    std::optional<RawMode> raw;

    // Step 4: the channels (guards.hpp) and the go. Signals are blocked before the start: one
    // arriving in between is queued, not lost.
    Channels ch = Channels::make();
    const Go go;
    SignalBlock signals;

    // Step 5: the sandbox's first process, in the run's cgroup v2 from its first instruction.
    int pidfd = -1;
    const bool release = cgroups.needs_add();
    const pid_t pid = starter.start(Wiring{ch, go, release, signals, cgroups}, &pidfd);
    ChildGuard guard(pid, pidfd);
    util::phases::mark("started");
    ch.close_child_ends();
    starter.started(pid);

    // Step 6: v1 cgroups, then the release: the sandbox never runs a step outside them.
    if (release) {
        cgroups.add(pid);
        go.let("write(release)");
    }
    // Step 7: while the sandbox is being built; a throw ends it (the guard) before the command
    // runs. The command waits for its go, which comes only once the filter is in place and
    // the caller's part (Io::ready: the session's record, the decision log) is done.
    if (!filtered) filter();
    util::phases::mark("filter");
    if (io.ready) io.ready(prepared);
    util::phases::mark("ready");
    starter.before_go(pid);
    // Listening before the command may run: no denial of it goes unheard.
    LandlockAudit landlock = LandlockAudit::open();
    // Before the command may run, too: nothing it does to a host path changes what a grant
    // of a socket names.
    SocketIds named = named_sockets(plan);
    go.let("write(go)");
    util::phases::mark("go");
    landlock.keep_if_enabled();

    // Step 8: supervise until nothing of the sandbox runs any more.
    if (io.tty) raw.emplace(io.in);
    Supervised s;
    s.pid = pid;
    s.pidfd = guard.pidfd();
    s.sync_fd = ch.sync_parent.get();
    s.report_fd = ch.report_read.get();
    s.signal_fd = signals.fd();
    s.proxy = proxy ? &*proxy : nullptr;
    s.raw = raw ? &*raw : nullptr;
    s.landlock = &landlock;
    s.named_sockets = std::move(named);
    starter.supervise_as(s);
    supervise_to_end(plan, rules ? &*rules : nullptr, io, sink, s, guard, cgroups, out);
    util::phases::mark("ended");
    starter.finished();
}

Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink) {
    return timed_launch([&](Outcome& out) {
        NativeStarter starter(plan, stage, io);
        launch_with(starter, plan, io, sink, out);
    });
}

}  // namespace agentbox::sandbox::lnx
