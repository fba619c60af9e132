// The clone()d child. First it builds the sandbox (as the user namespace's root, still able
// to mount), then it stays as PID 1 of the new pid namespace: it reaps every process, passes
// signals on to the command and exits with the command's status.
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "sandbox/linux/capture.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/mounts.hpp"
#include "sandbox/linux/report.hpp"
#include "sandbox/linux/rootfs.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// Signals the supervisor may send us to pass on to the command's process group.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2};

// "INSIDE OUTSIDE 1\n", the one line of an id map, into `line`; its length. std::to_chars,
// not snprintf: init's page tables start empty (fork copies no file-backed ones), and the few
// pages of libc's printf machinery cost a page fault each (~10-20 us on the benchmark's guest)
// on the path to the command's start.
std::size_t id_map_line(char (&line)[32], unsigned inside, unsigned outside) {
    char* p = std::to_chars(line, line + 10, inside).ptr;
    *p++ = ' ';
    p = std::to_chars(p, p + 10, outside).ptr;
    std::memcpy(p, " 1\n", 3);
    return static_cast<std::size_t>(p + 3 - line);
}

// Inside id = outside id, one entry each, written by init itself, as the one mapping an
// unprivileged process may write for its own new namespace: no round trip to the supervisor
// before the sandbox can be built. setgroups must be denied before gid_map may be written
// that way; it is denied for root too, so that supplementary groups cannot be dropped to get
// around a negative group permission. No allocation: we are a clone()d child.
void write_own_id_maps(const ChildSetup& cs) {
    auto put = [&cs](const char* path, const char* text, std::size_t len) {
        const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) die_errno(cs, "open", path);
        if (::write(fd, text, len) != static_cast<ssize_t>(len)) die_errno(cs, "write", path);
        ::close(fd);
    };
    char line[32];
    put("/proc/self/setgroups", "deny", 4);
    put("/proc/self/uid_map", line,
        id_map_line(line, static_cast<unsigned>(cs.plan->uid),
                    static_cast<unsigned>(cs.outside_uid)));
    put("/proc/self/gid_map", line,
        id_map_line(line, static_cast<unsigned>(cs.plan->gid),
                    static_cast<unsigned>(cs.outside_gid)));
}

// With v1 cgroups, the supervisor puts us in them and then releases us. A hang-up means it
// died before that: there is nobody to run for.
void wait_release(const ChildSetup& cs) {
    if (cs.release && !wait_go(cs.go_fd, cs.sync_fd)) ::_exit(kExitSetup);
}

void bind_to_supervisor(const ChildSetup& cs) {
    // If the supervisor dies (even by SIGKILL), init dies, and with PID 1 the whole pid
    // namespace. Set after the credential change below would be fine too: setresuid to the
    // same ids does not clear it. The poll closes the race with a supervisor that died
    // before prctl: its end of the socket is then already hung up.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno(cs, "prctl(PR_SET_PDEATHSIG)", "");
    struct pollfd p {cs.sync_fd, POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP))) ::_exit(kExitSetup);
}

void set_ids(const ChildSetup& cs) {
    // Inside id = outside id: the map has exactly one entry, so this only makes the real,
    // effective and saved ids agree (a no-op when they already do) and keeps capabilities.
    if (::setresgid(cs.plan->gid, cs.plan->gid, cs.plan->gid) < 0)
        die_errno(cs, "setresgid", "");
    if (::setresuid(cs.plan->uid, cs.plan->uid, cs.plan->uid) < 0)
        die_errno(cs, "setresuid", "");
}

// The new network namespace starts with lo down; tools expect 127.0.0.1 to work even when
// nothing else does.
void loopback_up(const ChildSetup& cs) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die_errno(cs, "socket", "lo");
    struct ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die_errno(cs, "ioctl(SIOCGIFFLAGS)", "lo");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die_errno(cs, "ioctl(SIOCSIFFLAGS)", "lo");
    ::close(s);
}

// Network mode proxy: the one listening socket of the sandbox, 127.0.0.1:PORT in its own
// network namespace, made here by init so that it exists before the command does (nothing
// inside can take the port first). The socket goes to the supervisor, which accepts on it from
// outside the namespace and runs the proxy there: no helper process, nothing listening on the
// host. Init keeps no copy, and the command never gets one.
void proxy_listener(const ChildSetup& cs) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) die_errno(cs, "socket", "proxy listener");
    const int one = 1;
    if (::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die_errno(cs, "setsockopt(SO_REUSEADDR)", "proxy listener");
    struct sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(cs.plan->net.proxy_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(s, reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) < 0)
        die_errno(cs, "bind(127.0.0.1)", "proxy listener");
    if (::listen(s, 4096) < 0) die_errno(cs, "listen", "proxy listener");
    if (send_tagged_fd(cs.sync_fd, 'P', s) < 0) die_errno(cs, "sendmsg", "proxy listener");
    ::close(s);
}

// Network capture (capture.hpp): the DNS responder's socket, UDP in the sandbox's network
// namespace like the proxy listener, made before the command exists. Unbound: port 53 takes
// CAP_NET_BIND_SERVICE over the namespace, which init under bwrap lacks; the supervisor binds
// it.
void dns_socket(const ChildSetup& cs) {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die_errno(cs, "socket", "DNS responder");
    if (send_tagged_fd(cs.sync_fd, 'D', s) < 0) die_errno(cs, "sendmsg", "DNS responder");
    ::close(s);
}

bool captures(const policy::Plan& plan) {
    return plan.ns.net && plan.net.mode == profile::NetMode::proxy && plan.net.capture;
}

void build_sandbox(const ChildSetup& cs) {
    const policy::Plan& plan = *cs.plan;
    StepError e;
    // A cgroup namespace rooted at the cgroup the supervisor just moved us into: unshared
    // here rather than at clone so that its root is that cgroup, not the supervisor's.
    if (plan.ns.cgroup && ::unshare(CLONE_NEWCGROUP) < 0)
        die_errno(cs, "unshare(CLONE_NEWCGROUP)", "");
    RootFds fds;
    if (enter_base(fds, e) < 0) die(cs, e);
    stamp(cs, ChildPoint::base);
    if (build_root(plan, *cs.stage, fds, e) < 0) die(cs, e);
    stamp(cs, ChildPoint::mounts);
    // After the plan's mounts, so that it lands on the /etc/resolv.conf they put there.
    if (captures(plan) && mount_resolv_conf(fds.newroot, e) < 0) die(cs, e);
    ::close(fds.newroot);
    ::close(fds.empty_file);
    if (leave_host(e) < 0) die(cs, e);
    stamp(cs, ChildPoint::pivot);
    if (plan.ns.net) loopback_up(cs);
    if (plan.ns.net && plan.net.mode == profile::NetMode::proxy) proxy_listener(cs);
    if (captures(plan)) dns_socket(cs);
    if (plan.ns.uts && ::sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
        die_errno(cs, "sethostname", plan.hostname.c_str());
    if (::chdir(plan.cwd.c_str()) < 0) die_errno(cs, "chdir", plan.cwd.c_str());
}

// Kill what is left, reap all of it, tell the supervisor, and exit with the command's status
// (128+N for signal N).
//
// The record is sent only once nothing but init is left: every process of the sandbox has
// exited, so every file it wrote is closed and upper/ no longer changes. The supervisor can
// then end the run (and review what was staged) without waiting for init's own exit, which
// tears down the namespaces -- unmounting the sandbox's tree, freeing the network namespace --
// and takes longer than everything else at the end of a short command.
[[noreturn]] void finish(const ChildSetup& cs, int status) {
    ::kill(-1, SIGKILL);  // daemons the command left behind; PID 1 itself is immune
    // Orphans are reparented to us, so waiting until ECHILD waits for every process in the
    // namespace; none can start after the kill (a fatal signal pending stops fork).
    for (;;) {
        if (::waitpid(-1, nullptr, 0) > 0) continue;
        if (errno != EINTR) break;
    }
    stamp(cs, ChildPoint::reaped);
    Report r;
    r.kind = ReportKind::done;
    r.status = status;
    ::getrusage(RUSAGE_CHILDREN, &r.usage);
    ::send(cs.sync_fd, &r, sizeof r, MSG_NOSIGNAL);
    if (WIFSIGNALED(status)) ::_exit(128 + WTERMSIG(status));
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : kExitSetup);
}

[[noreturn]] void init_loop(const ChildSetup& cs, int sfd, pid_t command) {
    for (;;) {
        struct signalfd_siginfo si {};
        ssize_t n = ::read(sfd, &si, sizeof si);
        if (n < 0 && errno == EINTR) continue;
        if (n != static_cast<ssize_t>(sizeof si)) ::_exit(kExitSetup);
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            // Reap everything that exited: orphans are reparented to us, and zombies would
            // otherwise pile up until the pids limit is reached.
            int status = 0;
            pid_t p;
            while ((p = ::waitpid(-1, &status, WNOHANG)) > 0)
                if (p == command) finish(cs, status);
            continue;
        }
        // The command leads its own process group (setsid): signal the group so a shell's
        // children get it too, as they would from a terminal.
        if (::kill(-command, sig) < 0) ::kill(command, sig);
    }
}

int command_entry(void* cs) {
    command_main(*static_cast<const ChildSetup*>(cs));
}

// The sandbox is built: from here on init only starts the command, reaps and passes signals.
[[noreturn]] void become_init(const ChildSetup& cs) {
    // Non-dumpable: /proc/1 becomes inaccessible to the command (no ptrace, no /proc/1/fd,
    // no /proc/1/mem), even though init keeps its capabilities in the user namespace.
    if (::prctl(PR_SET_DUMPABLE, 0) < 0) die_errno(cs, "prctl(PR_SET_DUMPABLE)", "");

    // PID 1 gets no signal it has no handler for, but blocked signals are still queued: read
    // them from a signalfd. Blocked before the command starts so that no SIGCHLD is lost.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (int sig : kForwarded) sigaddset(&set, sig);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) die_errno(cs, "sigprocmask", "");
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) die_errno(cs, "signalfd", "");

    // The command is started the way posix_spawn starts one: in init's memory (CLONE_VM), on
    // a stack of its own, init suspended until it has exec'd or exited (CLONE_VFORK). A fork
    // would copy init's page tables (init is a copy of the supervisor, profile, plan and all)
    // only for the command to fault on each page it writes before execve replaces them.
    // Init does nothing meanwhile, so nothing of its state is touched by two at once. The
    // command has its own credentials, signal handlers, Landlock domain and seccomp filter:
    // none of those is shared by CLONE_VM, and TSYNC reaches threads of its own process only.
    alignas(16) static char stack[256 * 1024];
    const pid_t command = ::clone(command_entry, stack + sizeof stack,
                                  CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildSetup*>(&cs));
    if (command < 0) die_errno(cs, "clone(command)", "");

    // Init keeps nothing the command could use: not its capabilities (it only reaps and
    // signals from now on), not the host's stdio, not the pty. We run again only once the
    // command has exec'd (or failed to), and its copy of report_fd went with that exec: closing
    // ours gives the supervisor the EOF that says so -- a moment after the exec, which is why
    // the supervisor holds back what the command does until then (supervisor.cpp, InOrder).
    StepError e;
    if (drop_capabilities(e) < 0) {
        ::kill(command, SIGKILL);
        die(cs, e);
    }
    stamp(cs, ChildPoint::resumed);
    ::close(cs.report_fd);
    for (int fd : {0, 1, 2, cs.io.in, cs.io.out, cs.io.err})
        if (fd >= 0 && fd != cs.sync_fd && fd != sfd) ::close(fd);
    init_loop(cs, sfd, command);
}

}  // namespace

void child_main(const ChildSetup& cs) {
    // Out of agentbox's process group, as bwrap is (bwrap/launch.cpp): a signal to the group
    // reaches the sandbox once, passed on by the supervisor, not a second time through init.
    if (::setpgid(0, 0) < 0) die_errno(cs, "setpgid", "");
    write_own_id_maps(cs);
    wait_release(cs);
    stamp(cs, ChildPoint::maps);
    set_ids(cs);
    bind_to_supervisor(cs);
    build_sandbox(cs);
    stamp(cs, ChildPoint::built);
    become_init(cs);
}

void bwrap_child_main(const ChildSetup& cs) {
    // bubblewrap made the namespaces, id maps, mounts, hostname and working directory and
    // brought lo up; we are PID 1 (--as-pid-1), exec'd by it. Our parent is bwrap's monitor
    // process, which the supervisor waits for and kills: PDEATHSIG ties us to it.
    bind_to_supervisor(cs);
    // The supervisor signals bwrap's monitor to end the sandbox, but bwrap forwards no
    // signal: a pidfd of ours lets the supervisor pass SIGTERM and friends to us directly.
    // Sending it also tells the supervisor that bwrap's setup worked and init runs.
    const int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    if (self < 0) die_errno(cs, "pidfd_open", "");
    if (send_tagged_fd(cs.sync_fd, 'I', self) < 0) die_errno(cs, "sendmsg", "init pidfd");
    ::close(self);
    if (cs.plan->ns.net && cs.plan->net.mode == profile::NetMode::proxy) proxy_listener(cs);
    if (captures(*cs.plan)) dns_socket(cs);
    become_init(cs);
}

}  // namespace agentbox::sandbox::lnx
