// The command's process: forked by init inside the finished sandbox. The order of its steps
// matters and each is explained where it happens; the short version: terminal and fds first
// (they need nothing), then rlimits, then the hardening steps, seccomp LAST because its filter
// denies calls the earlier steps make, then execve.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/linux/child.hpp"
#include "sandbox/linux/hardening.hpp"
#include "sandbox/linux/report.hpp"
#include "sys/pass_fd.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// 0, 1 and 2 from `in`, `out`, `err`, whatever numbers those have now (one may already be 0,
// or two may be the same fd): first copy all three above 2, then dup2 down.
void install_stdio(const ChildSetup& cs, int in, int out, int err) {
    int src[3] = {in, out, err};
    int high[3];
    for (int i = 0; i < 3; ++i) {
        high[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, 3);
        if (high[i] < 0) die_errno(cs, "dup", "stdio");
    }
    for (int i = 0; i < 3; ++i)
        if (::dup2(high[i], i) < 0) die_errno(cs, "dup2", "stdio");
}

void send_fd(const ChildSetup& cs, char tag, int fd, const char* what) {
    if (send_tagged_fd(cs.sync_fd, tag, fd) < 0) die_errno(cs, "sendmsg", what);
}

}  // namespace

bool wait_go(int go_fd, int sync_fd) noexcept {
    for (;;) {
        struct pollfd p[2] = {{go_fd, POLLIN, 0}, {sync_fd, POLLRDHUP, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (p[0].revents & POLLIN) {
            std::uint64_t one = 0;  // EFD_SEMAPHORE: takes exactly one count
            return ::read(go_fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one);
        }
        if (p[1].revents & (POLLHUP | POLLRDHUP | POLLERR)) return false;
    }
}

int send_tagged_fd(int sync_fd, char tag, int fd) noexcept {
    return sys::send_fd(sync_fd, &tag, 1, fd);
}

namespace {

// The pty comes from the sandbox's own devpts, not the host's: only then does the slave have
// a name inside (ttyname, `tty`, programs that reopen /dev/tty by path), and the host's pty
// namespace stays out of reach. The master goes to the supervisor, which relays it to the
// user's terminal; the command keeps only the slave.
int open_sandbox_pty(const ChildSetup& cs) {
    const int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) die_errno(cs, "open", "/dev/ptmx");
    int unlock = 0;
    if (::ioctl(master, TIOCSPTLCK, &unlock) < 0) die_errno(cs, "ioctl(TIOCSPTLCK)", "/dev/ptmx");
    const int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) die_errno(cs, "ioctl(TIOCGPTPEER)", "/dev/ptmx");
    send_fd(cs, 'T', master, "pty master");
    ::close(master);
    return slave;
}

void setup_terminal(const ChildSetup& cs) {
    // A new session: the command has no controlling terminal of the user's to inject input
    // into (TIOCSTI, CVE-2017-5226), and signals from the user's terminal reach it only
    // through the supervisor.
    if (::setsid() < 0) die_errno(cs, "setsid", "");
    if (cs.tty) {
        const int slave = open_sandbox_pty(cs);
        if (::ioctl(slave, TIOCSCTTY, 0) < 0) die_errno(cs, "ioctl(TIOCSCTTY)", "pty");
        install_stdio(cs, slave, slave, slave);
        if (slave > 2) ::close(slave);
    } else {
        install_stdio(cs, cs.io.in, cs.io.out, cs.io.err);
    }
}

void set_limit(const ChildSetup& cs, int resource, rlim_t value, const char* name) {
    struct rlimit rl {value, value};
    if (::setrlimit(resource, &rl) < 0) die_errno(cs, "setrlimit", name);
}

void apply_rlimits(const ChildSetup& cs) {
    set_limit(cs, RLIMIT_CORE, 0, "core");  // a core dump could land in a staged directory
    for (const policy::Limit& l : cs.plan->limits) {
        if (l.how != policy::Mechanism::rlimit || l.value == 0) continue;
        if (l.name == "file_size") set_limit(cs, RLIMIT_FSIZE, l.value, "file_size");
        else if (l.name == "open_files") set_limit(cs, RLIMIT_NOFILE, l.value, "open_files");
    }
}

void send_listener(const ChildSetup& cs, int listener) {
    send_fd(cs, 'L', listener, "seccomp listener");
    ::close(listener);  // the command must never hold the fd that answers its own syscalls
}

[[noreturn]] void exec_command(const ChildSetup& cs) {
    stamp(cs, ChildPoint::exec);
    int saved = ENOENT;
    bool denied = false;
    for (const std::string& c : cs.candidates) {
        ::execve(c.c_str(), cs.argv.data(), cs.envp.data());
        // As execvp: keep looking past a missing entry, remember that one was not executable.
        if (errno == EACCES) denied = true;
        else if (errno != ENOENT && errno != ENOTDIR) {
            saved = errno;
            break;
        }
    }
    if (denied && (saved == ENOENT || saved == ENOTDIR)) saved = EACCES;
    if (saved == ENOTDIR) saved = ENOENT;
    send_report(cs.report_fd, ReportKind::exec, "execve", cs.argv[0], saved);
    ::_exit(saved == ENOENT ? kExitNotFound : kExitNotExecutable);
}

}  // namespace

void command_main(const ChildSetup& cs) {
    stamp(cs, ChildPoint::command);
    // init blocked these to read them from a signalfd; the command starts with a clean slate.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);

    setup_terminal(cs);

    // Every other fd closes at execve (CVE-2024-21626: nothing of init or the host leaks);
    // report_fd and sync_fd are already close-on-exec and still needed until then.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) die_errno(cs, "close_range", "");

    apply_rlimits(cs);

    // The supervisor lets the command go once its own part of the start is done (Io::ready,
    // the decision log): a run that cannot be recorded never runs. EOF means it gave up.
    stamp(cs, ChildPoint::waiting);
    if (!wait_go(cs.go_fd, cs.sync_fd)) ::_exit(kExitSetup);
    stamp(cs, ChildPoint::went);
    // Every CPU the user's processes may use, whatever init was started on. Only a scheduling
    // matter: if the set cannot be put back, the command still runs, on fewer CPUs.
    if (cs.restore_cpus) ::sched_setaffinity(0, sizeof cs.cpus, &cs.cpus);

    StepError e;
    int abi = 0;
    // Landlock before dropping capabilities and before no_new_privs is fine: it needs neither,
    // and the ruleset fd it opens is closed again before we return here.
    if (apply_landlock(cs.plan->landlock, &abi, e) < 0) die(cs, e);
    if (drop_capabilities(e) < 0) die(cs, e);
    if (set_no_new_privs(e) < 0) die(cs, e);
    // Seccomp last: the filter denies calls the steps above make (prctl variants, landlock).
    int listener = -1;
    const int rc = cs.shared_bpf != nullptr
                       ? install_seccomp(cs.shared_bpf->data(), cs.shared_bpf->size(),
                                         cs.notify ? &listener : nullptr, e)
                       : install_seccomp(*cs.bpf, cs.notify ? &listener : nullptr, e);
    if (rc < 0) die(cs, e);
    if (cs.notify && listener >= 0) send_listener(cs, listener);

    exec_command(cs);
}

}  // namespace agentbox::sandbox::lnx
