#include "sandbox/linux/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "sandbox/asks.hpp"
#include "sandbox/linux/capture.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/notify.hpp"
#include "sandbox/pty.hpp"
#include "sandbox/linux/report.hpp"
#include "sandbox/linux/stage_watch.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/pass_fd.hpp"
#include "util/exit_codes.hpp"
#include "util/phases.hpp"

namespace agentbox::sandbox::lnx {

namespace {

sys::unique_fd make_timer(const policy::Plan& plan) {
    const policy::Limit* t = plan.limit("timeout");
    if (t == nullptr || t->value == 0) return {};
    sys::unique_fd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
    if (!fd) throw sys::SysError("timerfd_create", errno);
    struct itimerspec its {};
    its.it_value.tv_sec = static_cast<time_t>(t->value / 1000);
    its.it_value.tv_nsec = static_cast<long>((t->value % 1000) * 1000000);
    if (::timerfd_settime(fd.get(), 0, &its, nullptr) < 0)
        throw sys::SysError("timerfd_settime", errno);
    return fd;
}

// Descriptors the command sends over the sync socket, each tagged by a one-byte message.
struct Passed {
    std::optional<int> listener;  // 'L': the seccomp notification listener
    std::optional<int> master;    // 'T': the pty master, from the sandbox's own devpts
    std::optional<int> proxy;     // 'P': init's listening socket, 127.0.0.1:PORT inside
    std::optional<int> init;      // 'I': init's pidfd, when init is not our child (bwrap)
    std::optional<int> dns;       // 'D': init's UDP socket for the DNS responder (capture)
};

// One message on the sync socket: a tagged descriptor (SCM_RIGHTS) from the command, or init's
// final record. Returns false on EOF.
bool read_sync(int fd, Passed& passed, std::optional<Report>& done) {
    Report r;
    int received = -1;
    const ssize_t n = sys::recv_fd(fd, &r, sizeof r, MSG_DONTWAIT, received);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) return false;
    if (received >= 0) {
        const char tag = n == 1 ? *reinterpret_cast<const char*>(&r) : '\0';
        std::optional<int>& slot = tag == 'T'   ? passed.master
                                   : tag == 'P' ? passed.proxy
                                   : tag == 'I' ? passed.init
                                   : tag == 'D' ? passed.dns
                                                : passed.listener;
        // Only one of each is ever expected; anything else is closed, never used.
        if (slot || (tag != 'T' && tag != 'L' && tag != 'P' && tag != 'I' && tag != 'D'))
            ::close(received);
        else slot = received;
    }
    if (static_cast<std::size_t>(n) == sizeof r && r.kind == ReportKind::done) done = r;
    return true;
}

// The report pipe (report.hpp): the first failure record, and its EOF, which says that the
// command has exec'd (or that everything that could write a record is gone).
class ReportReader {
public:
    explicit ReportReader(int fd) : fd_(fd) {}
    int fd() const { return eof_ ? -1 : fd_; }
    bool eof() const { return eof_; }
    const std::optional<Report>& failure() const { return failure_; }
    // Reads records until there are none now, or EOF. True when this call saw the EOF.
    bool read() {
        if (eof_) return false;
        for (;;) {
            struct pollfd p {fd_, POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) return false;
            Report r;
            ssize_t n = ::read(fd_, &r, sizeof r);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof_ = true;
                return true;
            }
            if (static_cast<std::size_t>(n) == sizeof r && !failure_) failure_ = r;
        }
    }

private:
    int fd_;
    bool eof_ = false;
    std::optional<Report> failure_;  // the first setup or exec failure record
};

struct State {
    bool init_exited = false;
    bool timed_out = false;
    bool stage_full = false;  // limits.stage_size was exceeded
    bool interrupted = false;  // a second SIGINT killed the sandbox
    int sigints = 0;
    std::optional<Report> done;  // init's final record: the command's status, all reaped
};

// The events of a run in the order they happened: what the command does (a denied syscall, a
// connection) is passed on only after its "exec". It can reach us first: EOF on the report
// pipe, which says the command has exec'd, waits for init's copy of the pipe to close, and
// init closes it only once it runs again after the command's exec (init.cpp). What is held
// is passed on at the exec, or when the supervisor is done without one.
class InOrder {
public:
    explicit InOrder(const EventSink& out) : out_(out) {}
    InOrder(const InOrder&) = delete;
    InOrder& operator=(const InOrder&) = delete;
    ~InOrder() {
        try {
            flush();
        } catch (...) {  // a sink that fails while the supervisor unwinds: nothing to add
        }
    }
    void operator()(const Event& e) {
        if (!out_) return;
        if (!exec_ && e.type != "exec") {
            held_.push_back(e);
            return;
        }
        out_(e);
        if (e.type == "exec") {
            exec_ = true;
            flush();
        }
    }
    void flush() {
        std::vector<Event> held;
        held.swap(held_);
        for (const Event& e : held) out_(e);
    }

private:
    const EventSink& out_;
    bool exec_ = false;
    std::vector<Event> held_;
};

// The poll loop. Returns true when init was reaped here; false when init reported the end
// (every process of the sandbox reaped) and is still exiting -- tearing down the namespaces --
// so that the caller reaps it when it suits.
bool supervise(const policy::Plan& plan, const seccomp::RuleSet* rules, const Io& io,
               const EventSink& events, const Supervised& s, Outcome& out) {
    InOrder in_order(events);
    const EventSink sink = [&in_order](const Event& e) { in_order(e); };
    State st;
    sys::unique_fd timer = make_timer(plan);
    // Tools that ignore the proxy variables (capture.hpp): its DNS socket arrives from init,
    // its connects through the notifier, once the proxy runs.
    std::unique_ptr<Capture> capture;
    if (plan.net.capture && s.proxy != nullptr) capture = std::make_unique<Capture>(plan.net, sink);
    Notifier notifier(rules, sink, &plan, s.named_sockets);
    Passed passed;
    bool listener_taken = false;  // the notifier owns passed.listener (and may have closed it)
    bool sync_open = true;
    ReportReader reports(s.report_fd);
    PtyRelay relay(io.in, io.out, io.tty);
    auto take_master = [&] {
        if (passed.master) relay.take_master(*std::exchange(passed.master, std::nullopt));
    };

    auto kill_init = [&] { sys_pidfd_send_signal(s.pidfd, SIGKILL); };
    // With bwrap, the report pipe also reaches EOF when bwrap fails before init runs: only
    // init's pidfd ('I') says the sandbox was built and init started.
    auto init_ran = [&] { return !s.init_reports_start || passed.init.has_value(); };
    // 'I' is the first message init sends, so this reads nothing else.
    auto drain_sync = [&] {
        while (s.init_reports_start && sync_open && !passed.init) {
            struct pollfd q {s.sync_fd, POLLIN, 0};
            if (::poll(&q, 1, 0) <= 0) break;
            sync_open = read_sync(s.sync_fd, passed, st.done);
        }
    };
    const policy::Limit* stage_limit = plan.limit("stage_size");
    // The copy strategy watches the whole snapshot: what it had at the start is not staged.
    const std::uint64_t stage_max = stage_limit != nullptr ? stage_limit->value : 0;
    StageWatch stage(s.stage_upper, stage_max == 0 ? 0 : stage_max + s.stage_base);
    auto staged = [&] { return stage.last() > s.stage_base ? stage.last() - s.stage_base : 0; };

    // The proxy starts when init's listener arrives; its events reach the sink from this
    // thread only (proxy.hpp explains the thread).
    // Its questions (`ask` verdicts) go to `asks`, declared first so that it outlives the
    // proxy: the proxy's stop answers every waiting connection before the approvers go.
    Asks asks(io, sink, s.raw);
    std::unique_ptr<net::Proxy> proxy;
    auto deliver = [&] {
        if (!proxy) return;
        for (auto& e : proxy->take_events()) {
            if (e.type == "ask") asks.add(*proxy, e.fields);
            else if (sink) sink(Event{std::move(e.type), std::move(e.fields)});
        }
    };
    auto take_proxy = [&] {
        if (!passed.proxy || proxy) return;
        sys::unique_fd fd(*passed.proxy);
        if (s.proxy == nullptr) return;  // not asked for: the socket is closed, never served
        net::ProxyOptions o = *s.proxy;
        o.ask = true;  // answered here, through `asks`
        proxy = std::make_unique<net::Proxy>(std::move(o), std::move(fd));
        if (capture) {
            capture->set_proxy(proxy.get());
            notifier.set_capture(capture.get());
        }
    };
    auto take_dns = [&] {
        if (!passed.dns) return;
        const int fd = *std::exchange(passed.dns, std::nullopt);
        if (!capture) {
            ::close(fd);  // not asked for: never served
            return;
        }
        capture->take_dns(fd);
    };

    // Landlock's denials are placed by pid namespace: init's, ours to read (native) or sent
    // by init (bwrap, below).
    LandlockAudit* const landlock = s.landlock != nullptr && s.landlock->active() ? s.landlock
                                                                                   : nullptr;
    if (landlock && !s.init_reports_start) landlock->set_sandbox(s.pid);
    auto place_landlock = [&] {
        if (landlock && s.init_reports_start && passed.init)
            landlock->set_sandbox(pid_of_pidfd(*passed.init));
    };

    // Until init exits, or says that the command and everything else in the sandbox is gone
    // (init.cpp, finish); in the second case init's own exit is left to the caller.
    while (!st.init_exited && !st.done) {
        enum { PIDFD, REPORT, SYNC, SIG, TIMER, NOTIFY, MASTER, IN, OUT, PROXY, STAGE, ANSWERS, TTY, LANDLOCK, DNS, N };
        struct pollfd p[N];
        for (auto& x : p) x = {-1, 0, 0};
        p[PIDFD] = {s.pidfd, POLLIN, 0};
        p[REPORT] = {reports.fd(), POLLIN, 0};
        if (sync_open) p[SYNC] = {s.sync_fd, POLLIN, 0};
        p[SIG] = {s.signal_fd, POLLIN, 0};
        if (timer) p[TIMER] = {timer.get(), POLLIN, 0};
        if (stage.fd() >= 0 && !st.stage_full) p[STAGE] = {stage.fd(), POLLIN, 0};
        if (notifier.fd() >= 0) p[NOTIFY] = {notifier.fd(), POLLIN, 0};
        // A prompt on the terminal pauses the relay until the answer is in.
        const bool paused = asks.prompting();
        relay.want(p[MASTER], p[IN], p[OUT], paused);
        if (proxy) p[PROXY] = {proxy->event_fd(), POLLIN, 0};
        if (proxy) p[ANSWERS] = {asks.answers_fd(), POLLIN, 0};
        if (paused) p[TTY] = {asks.tty_fd(), POLLIN, 0};
        if (landlock) p[LANDLOCK] = {landlock->fd(), POLLIN, 0};
        if (capture && capture->dns_fd() >= 0) p[DNS] = {capture->dns_fd(), POLLIN, 0};

        if (::poll(p, N, -1) < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            kill_init();
            throw sys::SysError("poll", err);
        }
        if (p[REPORT].revents && reports.read()) {
            // Init sent its pidfd before the command could exec, so it is queued by now.
            drain_sync();
            place_landlock();
            if (!reports.failure() && init_ran()) {
                out.started = true;
                util::phases::mark("exec");
                if (sink) sink(Event{"exec", {{"argv0", plan.argv.empty() ? "" : plan.argv[0]}}});
            }
        }
        if (p[SYNC].revents) {
            sync_open = read_sync(s.sync_fd, passed, st.done);
            if (passed.listener && !listener_taken) {
                notifier.set_listener(*passed.listener);
                listener_taken = true;
            }
            take_master();
            place_landlock();
            try {
                take_proxy();
                take_dns();
            } catch (...) {
                kill_init();
                throw;
            }
        }
        if (p[LANDLOCK].revents) landlock->handle(sink);
        if (p[DNS].revents) capture->on_dns();
        if (p[PROXY].revents) deliver();
        if (p[ANSWERS].revents) asks.on_answers(*proxy);
        if (p[TTY].revents && proxy) asks.on_tty(*proxy);
        if (p[NOTIFY].revents & POLLIN) {
            notifier.handle();
        } else if (p[NOTIFY].revents) {
            // POLLHUP: no process uses the filter any more (the command and its children have
            // exited), and none ever will again. Polled on, the listener would report it at
            // once, forever: a busy loop that took a core from the namespace teardown.
            notifier.close();
        }
        if (p[SIG].revents & POLLIN) {
            struct signalfd_siginfo si {};
            if (::read(s.signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
                int sig = static_cast<int>(si.ssi_signo);
                if (sig == SIGWINCH) {
                    relay.resize();
                } else if (sig == SIGINT && asks.prompting() && proxy) {
                    asks.interrupt(*proxy);  // Ctrl-C at our prompt is a no, not the command's
                } else if (sig == SIGINT && ++st.sigints >= 2) {
                    // The first Ctrl-C is the command's to handle; a second one means the
                    // user wants out, whatever the command does with SIGINT.
                    st.interrupted = true;
                    kill_init();
                } else if (sig != SIGCHLD) {
                    // init passes it to the command
                    sys_pidfd_send_signal(passed.init ? *passed.init : s.pidfd, sig);
                }
            }
        }
        if ((p[STAGE].revents & POLLIN) && stage.over()) {
            st.stage_full = true;
            if (sink)
                sink(Event{"limit", {{"limit", "stage_size"},
                                     {"staged_bytes", std::to_string(staged())},
                                     {"max_bytes", std::to_string(stage_max)}}});
            kill_init();
        }
        if (p[TIMER].revents & POLLIN) {
            st.timed_out = true;
            kill_init();  // PID 1's death takes the whole pid namespace with it
            timer.reset();
        }
        relay.on_ready(p[MASTER], p[IN], p[OUT]);
        if (p[PIDFD].revents) st.init_exited = true;
    }

    // Every process inside is gone (init is, or has reaped them all): what they wrote is all
    // there.
    const bool exec_now = reports.read();
    drain_sync();
    if (exec_now && !reports.failure() && !st.timed_out && !st.interrupted && init_ran()) {
        out.started = true;
        if (sink) sink(Event{"exec", {{"argv0", plan.argv.empty() ? "" : plan.argv[0]}}});
    }
    while (sync_open && read_sync(s.sync_fd, passed, st.done)) {
        struct pollfd p {s.sync_fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
    }
    place_landlock();
    if (landlock) landlock->finish(sink);  // every process is gone: their last denials
    in_order.flush();  // no exec after all (it failed, or the sandbox was ended first)
    if (passed.listener && !listener_taken) ::close(*passed.listener);
    if (passed.init) ::close(*passed.init);
    if (passed.dns) ::close(*passed.dns);
    if (capture) capture->set_proxy(nullptr);
    if (proxy) {
        // Every process inside is gone, so every client connection is closing: give the proxy
        // a moment to log each net.close, then end it.
        proxy->stop();
        deliver();
        asks.finish(proxy.get());
    } else if (passed.proxy) {
        ::close(*passed.proxy);
    }
    take_master();  // a command that exited at once may have sent it only now
    relay.flush();

    int status = 0;
    if (st.done) {
        status = st.done->status;
        out.usage = st.done->usage;
    } else {
        pid_t r;
        do r = ::wait4(s.pid, &status, 0, &out.usage);
        while (r < 0 && errno == EINTR);
        if (r < 0) throw sys::SysError("wait4(init)", errno);
        // Init died without its record (the OOM killer, or our SIGKILL): its status is the
        // command's as far as anyone can tell.
    }

    EndFacts f;
    f.failure = reports.failure() ? &*reports.failure() : nullptr;
    f.init_ran = init_ran();
    f.timed_out = st.timed_out;
    f.interrupted = st.interrupted;
    f.stage_full = st.stage_full;
    f.staged = staged();
    f.stage_max = stage_max;
    f.status = status;
    f.argv0 = plan.argv.empty() ? "" : plan.argv[0];
    end_outcome(f, out);
    return !st.done;
}

}  // namespace

void end_outcome(const EndFacts& f, Outcome& out) {
    if (f.failure != nullptr && f.failure->kind == ReportKind::setup) {
        out.exit_code = kExitSetup;
        out.error = describe(*f.failure);
        out.started = false;
    } else if (f.failure != nullptr && f.failure->kind == ReportKind::exec) {
        out.started = false;
        if (f.failure->err == ENOENT) {
            out.exit_code = kExitNotFound;
            out.error = f.argv0 + ": command not found";
        } else {
            out.exit_code = kExitNotExecutable;
            out.error = f.argv0 + ": " + std::strerror(f.failure->err);
        }
    } else if (!f.init_ran && !f.timed_out && !f.interrupted) {
        out.started = false;
        out.exit_code = kExitSetup;
        out.error = "bubblewrap could not build the sandbox (its message is above; exit status " +
                    std::to_string(WIFEXITED(f.status) ? WEXITSTATUS(f.status)
                                                       : 128 + WTERMSIG(f.status)) +
                    ")";
    } else if (f.stage_full) {
        // Like a memory limit: the sandbox is killed, the work staged so far is kept.
        out.exit_code = 128 + SIGKILL;
        out.signal = SIGKILL;
        out.error = "the staged changes reached " + std::to_string(f.staged) +
                    " bytes, over limits.stage_size (" + std::to_string(f.stage_max) +
                    "): the sandbox was ended; what was staged is kept";
    } else {
        command_end(f.status, f.timed_out, f.interrupted, out);
    }
}

void supervise_to_end(const policy::Plan& plan, const seccomp::RuleSet* rules, const Io& io,
                      const EventSink& sink, const Supervised& s, ChildGuard& guard,
                      const Cgroups& cgroups, Outcome& out) {
    const bool reaped = supervise(plan, rules, io, sink, s, out);
    if (s.raw != nullptr) s.raw->restore();
    out.peak_memory = cgroups.peak_memory();
    if (out.peak_memory == 0)
        out.peak_memory = static_cast<std::uint64_t>(out.usage.ru_maxrss) * 1024;
    if (reaped) {
        guard.reaped();
    } else if (cgroups.active()) {
        guard.wait_exit();
    } else {
        out.reap_later = guard.forget();
    }
}

}  // namespace agentbox::sandbox::lnx
