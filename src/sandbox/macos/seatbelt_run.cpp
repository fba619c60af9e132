#include "sandbox/macos/seatbelt_run.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "net/portable.hpp"
#include "net/proxy.hpp"
#include "net/proxy_auth.hpp"
#include "sandbox/asks.hpp"
#include "sandbox/proxy_options.hpp"
#include "sandbox/pty.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::sandbox::macos {

void seatbelt_end(const RunEnd& end, Outcome& out) {
    if (end.setup_failed || end.exec_failed) {
        out.started = false;
        out.exit_code = util::kExitSetup;
        out.error = end.what + ": " + std::strerror(end.err);
    } else {
        command_end(end.status, end.timed_out, end.interrupted, out);
    }
}

namespace {

namespace fs = std::filesystem;

// The signals the supervisor handles. Its handlers only write the signal's number to a
// self-pipe, which the poll loop reads: nothing else is safe in a handler.
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGCHLD};
int g_signal_pipe = -1;

extern "C" void on_signal(int sig) {
    const int saved = errno;
    const unsigned char b = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(g_signal_pipe, &b, 1);
    errno = saved;
}

// The handlers for the length of a run, the previous ones back on every exit path. The
// signals stay blocked until the child has been forked: it resets them before it unblocks.
class SignalScope {
public:
    SignalScope() {
        int fds[2];
        if (!net::open_pipe(fds, true)) throw sys::SysError("pipe", "signals", errno);
        r_.reset(fds[0]);
        w_.reset(fds[1]);
        g_signal_pipe = w_.get();
        sigemptyset(&set_);
        for (int s : kSignals) sigaddset(&set_, s);
        ::sigprocmask(SIG_BLOCK, &set_, &old_mask_);
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        for (std::size_t i = 0; i < std::size(kSignals); ++i)
            ::sigaction(kSignals[i], &sa, &old_[i]);
    }
    ~SignalScope() {
        for (std::size_t i = 0; i < std::size(kSignals); ++i)
            ::sigaction(kSignals[i], &old_[i], nullptr);
        ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
        g_signal_pipe = -1;
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;

    int fd() const { return r_.get(); }
    void unblock() const { ::sigprocmask(SIG_UNBLOCK, &set_, nullptr); }
    // In the child, between fork and exec: the defaults and the mask agentbox was started with.
    void reset_in_child() const {
        for (int s : kSignals) ::signal(s, SIG_DFL);
        // An ignored signal stays ignored across exec, and agentbox ignores SIGPIPE while it
        // copies a run's output (stage/run_record.cpp): the command starts with the default.
        ::signal(SIGPIPE, SIG_DFL);
        ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    }

private:
    sys::unique_fd r_, w_;
    sigset_t set_ {}, old_mask_ {};
    struct sigaction old_[std::size(kSignals)] {};
};

// What the child reports when it fails before exec: the step, and errno. Nothing arrives
// and the pipe reaches EOF when the exec happened (the pipe is close-on-exec).
struct ChildFailure {
    char kind = 0;  // 's': a setup step, 'x': executing sandbox-exec
    int err = 0;
    // The operation and path: room for a long path, which 64 bytes cut off (the sandbox
    // program's path under a deep directory lost its name).
    char what[500] = {};
};
// One write, read whole by one read: at most _POSIX_PIPE_BUF (512, macOS's PIPE_BUF), which
// a pipe never splits.
static_assert(sizeof(ChildFailure) <= _POSIX_PIPE_BUF);

[[noreturn]] void child_fail(int fd, char kind, const char* what, int err) {
    ChildFailure f;
    f.kind = kind;
    f.err = err;
    std::strncpy(f.what, what, sizeof f.what - 1);
    [[maybe_unused]] const ssize_t n = ::write(fd, &f, sizeof f);
    ::_exit(util::kExitSetup);
}

// The proxy's listening socket: 127.0.0.1 and a port the system picks. There is no network
// namespace on macOS, so the proxy listens on the host's loopback and the profile lets the
// command connect to this one port (seatbelt_launch).
sys::unique_fd listen_loopback(std::uint16_t& port) {
    sys::unique_fd fd(net::open_socket(AF_INET, SOCK_STREAM, 0, false));
    if (!fd) throw sys::SysError("socket", "proxy listener", errno);
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd.get(), reinterpret_cast<const struct sockaddr*>(&a), sizeof a) < 0)
        throw sys::SysError("bind", "127.0.0.1 (proxy)", errno);
    if (::listen(fd.get(), 128) < 0) throw sys::SysError("listen", "proxy", errno);
    socklen_t len = sizeof a;
    if (::getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&a), &len) < 0)
        throw sys::SysError("getsockname", "proxy", errno);
    port = ntohs(a.sin_port);
    return fd;
}

// The session's directories the Launch names: the copy less what the Plan hides, the
// private directories standing in for tmpfs mounts, the links to the host's grants.
void prepare(const Launch& l, const std::string& copy) {
    std::error_code ec;
    for (const auto& rel : l.copy_excludes) {
        fs::remove_all(copy + "/" + rel, ec);
        if (ec) throw sys::SysError("remove", copy + "/" + rel, ec.value());
    }
    for (const auto& dir : l.scratch_dirs) {
        fs::create_directories(dir, ec);
        if (ec) throw sys::SysError("mkdir", dir, ec.value());
        if (::chmod(dir.c_str(), 0700) < 0) throw sys::SysError("chmod", dir, errno);
    }
    for (const auto& [at, to] : l.links) {
        fs::create_directories(fs::path(at).parent_path(), ec);
        if (!ec) fs::create_symlink(to, at, ec);
        if (ec) throw sys::SysError("symlink", at, ec.value());
    }
}

// The child, between fork and exec: a session of its own, the terminal, the limits, the
// working directory, then sandbox-exec. Only async-signal-safe calls: the proxy's thread
// exists in the parent.
[[noreturn]] void child(const SignalScope& signals, int report, const Io& io,
                        const char* slave, const policy::Plan& plan, const char* cwd,
                        char* const* argv, char* const* envp) {
    signals.reset_in_child();
    // A new session: the command has no controlling terminal of the user's to inject input
    // into (TIOCSTI), is never stopped by reading one (SIGTTIN), and the user's terminal
    // signals reach it only through the supervisor -- as on Linux (linux/command.cpp).
    if (::setsid() < 0) child_fail(report, 's', "setsid", errno);
    int in = io.in, out = io.out, err = io.err;
    if (slave != nullptr) {
        const int fd = ::open(slave, O_RDWR | O_NOCTTY);
        if (fd < 0) child_fail(report, 's', "open pty", errno);
        // Its controlling terminal: macOS does not make it one on open, Linux would have
        // without O_NOCTTY; the ioctl says it the same way on both.
        if (::ioctl(fd, TIOCSCTTY, 0) < 0) child_fail(report, 's', "ioctl(TIOCSCTTY)", errno);
        in = out = err = fd;
    }
    // Copies above 2 first: dup2 onto 0..2 must not overwrite a source still to be copied.
    const int copies[3] = {::fcntl(in, F_DUPFD_CLOEXEC, 3), ::fcntl(out, F_DUPFD_CLOEXEC, 3),
                           ::fcntl(err, F_DUPFD_CLOEXEC, 3)};
    for (int i = 0; i < 3; ++i)
        if (copies[i] < 0 || ::dup2(copies[i], i) < 0) child_fail(report, 's', "dup2", errno);
    // A core dump could land in the copy; the Plan's rlimits mean the same here as on Linux.
    struct rlimit zero {0, 0};
    if (::setrlimit(RLIMIT_CORE, &zero) < 0) child_fail(report, 's', "setrlimit core", errno);
    for (const auto& lim : plan.limits) {
        if (lim.value == 0 || lim.how != policy::Mechanism::rlimit) continue;
        const int res = lim.name == "file_size" ? RLIMIT_FSIZE
                        : lim.name == "open_files" ? RLIMIT_NOFILE : -1;
        if (res < 0) continue;  // seatbelt_weakenings() refused what is not known here
        struct rlimit rl {static_cast<rlim_t>(lim.value), static_cast<rlim_t>(lim.value)};
        if (::setrlimit(res, &rl) < 0) child_fail(report, 's', "setrlimit", errno);
    }
    if (::chdir(cwd) < 0) child_fail(report, 's', "chdir", errno);
    ::execve(argv[0], argv, envp);
    child_fail(report, 'x', argv[0], errno);
}

// The run, once the child exists: until it has been reaped.
class Supervisor {
public:
    Supervisor(const policy::Plan& plan, const Io& io, const EventSink& sink, pid_t pid,
               int report, const SignalScope& signals, net::Proxy* proxy, Asks& asks)
        : plan_(plan), sink_(sink), pid_(pid), report_(report), signals_(signals),
          proxy_(proxy), asks_(asks), relay_(io.in, io.out, io.tty) {}

    PtyRelay& relay() { return relay_; }

    RunEnd run(Outcome& out) {
        using Clock = std::chrono::steady_clock;
        const policy::Limit* t = plan_.limit("timeout");
        std::optional<Clock::time_point> deadline;
        if (t != nullptr && t->value != 0)
            deadline = Clock::now() + std::chrono::milliseconds(t->value);
        while (!reaped_) {
            enum { SIG, REPORT, PROXY, ANSWERS, TTY, MASTER, IN, OUT, N };
            struct pollfd p[N];
            for (auto& x : p) x = {-1, 0, 0};
            p[SIG] = {signals_.fd(), POLLIN, 0};
            if (report_open_) p[REPORT] = {report_, POLLIN, 0};
            if (proxy_ != nullptr) p[PROXY] = {proxy_->event_fd(), POLLIN, 0};
            if (proxy_ != nullptr) p[ANSWERS] = {asks_.answers_fd(), POLLIN, 0};
            // A prompt on the terminal pauses the relay until the answer is in.
            const bool paused = asks_.prompting();
            if (paused) p[TTY] = {asks_.tty_fd(), POLLIN, 0};
            relay_.want(p[MASTER], p[IN], p[OUT], paused);
            int wait_ms = -1;
            if (deadline && !end_.timed_out) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    *deadline - Clock::now()).count();
                wait_ms = left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60000));
            }
            if (::poll(p, N, wait_ms) < 0) {
                if (errno == EINTR) continue;
                const int err = errno;
                kill_group(SIGKILL);
                throw sys::SysError("poll", err);
            }
            if (p[REPORT].revents) read_report(out);
            if (p[PROXY].revents) deliver();
            if (p[ANSWERS].revents && proxy_ != nullptr) asks_.on_answers(*proxy_);
            if (p[TTY].revents && proxy_ != nullptr) asks_.on_tty(*proxy_);
            if (p[SIG].revents) on_signals(out);
            if (deadline && !end_.timed_out && Clock::now() >= *deadline) {
                end_.timed_out = true;
                kill_group(SIGKILL);
            }
            relay_.on_ready(p[MASTER], p[IN], p[OUT]);
        }
        // What the command left running in its session ends with it, as the pid namespace
        // does on Linux.
        kill_group(SIGKILL);
        if (report_open_) read_report(out);
        return end_;
    }

    void deliver() {
        if (proxy_ == nullptr) return;
        for (auto& e : proxy_->take_events()) {
            if (e.type == "ask") asks_.add(*proxy_, e.fields);
            else if (sink_) sink_(Event{std::move(e.type), std::move(e.fields)});
        }
    }

private:
    void kill_group(int sig) const {
        if (::kill(-pid_, sig) < 0 && !reaped_) ::kill(pid_, sig);
    }

    void read_report(Outcome& out) {
        ChildFailure f;
        ssize_t n;
        do n = ::read(report_, &f, sizeof f);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN) return;
        report_open_ = false;
        if (n == static_cast<ssize_t>(sizeof f)) {
            f.what[sizeof f.what - 1] = '\0';
            (f.kind == 'x' ? end_.exec_failed : end_.setup_failed) = true;
            end_.err = f.err;
            end_.what = f.kind == 'x' ? std::string("execute ") + f.what : f.what;
            return;
        }
        // EOF: the exec happened (the pipe is close-on-exec).
        out.started = true;
        if (sink_) sink_(Event{"exec", {{"argv0", plan_.argv.empty() ? "" : plan_.argv[0]},
                                        {"backend", "seatbelt"}}});
    }

    void on_signals(Outcome& out) {
        unsigned char buf[64];
        ssize_t n;
        while ((n = ::read(signals_.fd(), buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; ++i) {
                const int sig = buf[i];
                if (sig == SIGCHLD) {
                    reap(out);
                } else if (sig == SIGWINCH) {
                    relay_.resize();
                } else if (sig == SIGINT && asks_.prompting() && proxy_ != nullptr) {
                    asks_.interrupt(*proxy_);  // Ctrl-C at our prompt is a no, not the command's
                } else if (sig == SIGINT && ++sigints_ >= 2) {
                    // The first Ctrl-C is the command's to handle; a second one means the
                    // user wants out, whatever the command does with SIGINT (as on Linux).
                    end_.interrupted = true;
                    kill_group(SIGKILL);
                } else if (!reaped_) {
                    // To the whole group, so that a shell's children get it too, as from a
                    // terminal.
                    kill_group(sig);
                }
            }
        }
    }

    void reap(Outcome& out) {
        if (reaped_) return;
        int status = 0;
        pid_t r;
        do r = ::wait4(pid_, &status, WNOHANG, &out.usage);
        while (r < 0 && errno == EINTR);
        if (r == pid_) {
            reaped_ = true;
            end_.status = status;
        } else if (r < 0) {
            reaped_ = true;  // ECHILD: someone else reaped it; nothing to wait for
        }
    }

    const policy::Plan& plan_;
    const EventSink& sink_;
    pid_t pid_;
    int report_;
    const SignalScope& signals_;
    net::Proxy* proxy_;
    Asks& asks_;
    PtyRelay relay_;
    RunEnd end_;
    bool report_open_ = true;
    bool reaped_ = false;
    int sigints_ = 0;
};

}  // namespace

void run_seatbelt(const std::string& sandbox_exec, const policy::Plan& plan,
                  const std::string& copy, const std::string& scratch, LaunchFacts facts,
                  const Io& io, const EventSink& sink, Outcome& out) {
    if (plan.argv.empty()) throw std::invalid_argument("run: no command");
    if (sandbox_exec.empty() || sandbox_exec.front() != '/')
        throw std::invalid_argument("sandbox-exec: not an absolute path: " + sandbox_exec);

    // Step 1: the proxy's port on this host and the run's pty: the profile names both.
    std::optional<net::ProxyOptions> proxy_opts = proxy_options(plan, sink);
    sys::unique_fd listener;
    if (proxy_opts) {
        listener = listen_loopback(facts.proxy_port);
        proxy_opts->intercept = io.intercept;  // the run's CA and secrets, never in the Plan
        // `ask` verdicts are questions for Io::approver or the terminal prompt (asks.hpp), as
        // on Linux; with neither, Asks denies them.
        proxy_opts->ask = true;
        // Every process on this host can reach that port: the proxy serves only who has the
        // run's credential, which the command gets in its proxy variables.
        facts.proxy_token = net::new_proxy_token();
        proxy_opts->credential = std::string(net::kProxyUser) + ":" + facts.proxy_token;
    }
    std::optional<HostPty> pty;
    if (io.tty) {
        pty = open_pty();
        facts.tty = pty->slave;
        // Non-blocking: after the command has gone, the relay reads what is left and stops at
        // EAGAIN, even if a process that left the session still holds the slave open.
        const int fl = ::fcntl(pty->master.get(), F_GETFL);
        if (fl < 0 || ::fcntl(pty->master.get(), F_SETFL, fl | O_NONBLOCK) < 0)
            throw sys::SysError("fcntl(O_NONBLOCK)", "pty master", errno);
    }

    // Step 2: the profile and the session's directories.
    Launch l = seatbelt_launch(plan, copy, scratch, facts);
    l.argv[0] = sandbox_exec;
    prepare(l, copy);
    std::vector<char*> argv, envp;
    for (auto& a : l.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : l.env) envp.push_back(e.data());
    envp.push_back(nullptr);

    // Step 3: the caller's part before the command may run (the decision log).
    if (io.ready) io.ready(Prepared{});

    // Step 4: the terminal in raw mode for exactly the run (the prompt of `asks` gives it back
    // while it asks); the proxy serves before the command can connect. `asks` is declared
    // before the proxy so that it outlives it: the proxy's stop answers every waiting
    // connection before the approvers go.
    std::optional<RawMode> raw;
    if (io.tty) raw.emplace(io.in);
    Asks asks(io, sink, raw ? &*raw : nullptr);
    std::unique_ptr<net::Proxy> proxy;
    if (proxy_opts) proxy = std::make_unique<net::Proxy>(std::move(*proxy_opts), std::move(listener));

    // Step 5: the child. Signals are blocked from before the fork until the loop reads them.
    int fds[2];
    if (!net::open_pipe(fds, false)) throw sys::SysError("pipe", "child report", errno);
    sys::unique_fd report_r(fds[0]), report_w(fds[1]);
    SignalScope signals;
    const pid_t pid = ::fork();
    if (pid < 0) throw sys::SysError("fork", errno);
    if (pid == 0)
        child(signals, report_w.get(), io, pty ? pty->slave.c_str() : nullptr, plan,
              l.cwd.c_str(), argv.data(), envp.data());
    report_w.reset();
    // No setpgid(pid, pid) from here: a group leader cannot setsid(). Until the child's setsid
    // has made the group, kill_group() falls back to the child alone.
    const int fl = ::fcntl(report_r.get(), F_GETFL);
    if (fl >= 0) ::fcntl(report_r.get(), F_SETFL, fl | O_NONBLOCK);

    // Step 6: supervise.
    Supervisor sup(plan, io, sink, pid, report_r.get(), signals, proxy.get(), asks);
    if (pty) sup.relay().take_master(pty->master.release());
    signals.unblock();
    RunEnd end = sup.run(out);
    if (proxy) {
        // The command is gone, so every client connection is closing: each logs its
        // net.close, then the proxy ends.
        proxy->stop();
        sup.deliver();
        asks.finish(proxy.get());
    }
    sup.relay().flush();
    if (raw) raw->restore();
    seatbelt_end(end, out);
#ifdef __APPLE__
    out.peak_memory = static_cast<std::uint64_t>(out.usage.ru_maxrss);  // bytes on macOS
#else
    out.peak_memory = static_cast<std::uint64_t>(out.usage.ru_maxrss) * 1024;  // KiB
#endif
}

}  // namespace agentbox::sandbox::macos
