// The bubblewrap backend's starter for the launch both Linux backends share (linux/launch.cpp),
// and agentbox as init inside the sandbox bwrap built. The supervisor's half is the native
// backend's (linux/supervisor.cpp): the same poll loop, timeout, pty relay, seccomp
// notifications and proxy, with bwrap's monitor process where the native backend has init.
#include "sandbox/bwrap/launch.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "sandbox/bwrap/argv.hpp"
#include "sandbox/bwrap/spec.hpp"
#include "sandbox/linux/capture.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/guards.hpp"
#include "sandbox/linux/launch.hpp"
#include "sandbox/pty.hpp"
#include "sandbox/linux/report.hpp"
#include "sandbox/linux/stage_watch.hpp"
#include "sandbox/linux/supervisor.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "seccomp/rules.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace agentbox::sandbox::bwrap {

namespace {

using lnx::kExitSetup;

// The spec in a sealed memfd: init reads it once; nothing can change it in between.
sys::unique_fd spec_memfd(const std::string& bytes) {
    sys::unique_fd fd(::memfd_create("agentbox-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) throw sys::SysError("memfd_create", errno);
    sys::write_all(fd.get(), bytes, "spec memfd");
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        throw sys::SysError("fcntl(F_ADD_SEALS)", "spec memfd", errno);
    if (::lseek(fd.get(), 0, SEEK_SET) < 0) throw sys::SysError("lseek", "spec memfd", errno);
    return fd;
}

// An empty mode-0000 file the sandbox binds over each denied file, as the native backend's.
// bwrap needs a path for it (it looks the source up after entering its mount namespace, so
// /proc/self/fd of a memfd is no path). In the session's directory, which only we can write.
std::string ensure_empty_file(const StageDirs& stage) {
    if (stage.scratch.empty()) return {};
    const std::string path = stage.scratch + "/empty";
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0000));
    if (fd) return path;
    if (errno != EEXIST) throw sys::SysError("create", path, errno);
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) throw sys::SysError("stat", path, errno);
    if (!S_ISREG(st.st_mode) || st.st_size != 0)
        throw sys::SysError("create", path + " (exists and is not an empty file)", EEXIST);
    return path;
}

// Network capture: the sandbox's resolv.conf, in the session's directory like the empty file.
// None when the host's /etc/resolv.conf is a symlink (argv.hpp says why).
std::string ensure_resolv_conf(const StageDirs& stage) {
    struct stat host {};
    if (stage.scratch.empty() || (::lstat("/etc/resolv.conf", &host) == 0 && !S_ISREG(host.st_mode)))
        return {};
    const std::string path = stage.scratch + "/resolv.conf";
    sys::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) throw sys::SysError("create", path, errno);
    const std::size_t n = std::strlen(lnx::kResolvConf);
    if (::write(fd.get(), lnx::kResolvConf, n) != static_cast<ssize_t>(n))
        throw sys::SysError("write", path, errno);
    return path;
}

bool has_mask_file(const policy::Plan& plan) {
    for (const auto& m : plan.mounts)
        if (m.kind == policy::MountKind::mask_file) return true;
    return false;
}

// What the forked child needs, prepared before the fork: it only dup2s, closes and execs.
struct Exec {
    std::vector<std::string> argv_storage;
    std::vector<char*> argv;
    int in = 0, out = 1, err = 2;
    int sync = -1, report = -1, spec = -1, exe = -1, go = -1;
    bool release = false;  // wait for a count of `go` first: v1 cgroups to enter
    const sigset_t* mask = nullptr;
};

// The child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_bwrap(const Exec& x) {
    // Out of agentbox's process group: a terminal's Ctrl-C (or any kill of the group) is the
    // supervisor's to pass on, to the command, through init. bwrap's monitor process has no
    // handler for SIGINT, so in the group it died of it, and init with it (PDEATHSIG): the run
    // ended with 130 before the command's own handler ran.
    if (::setpgid(0, 0) < 0) {
        lnx::send_report(x.report, lnx::ReportKind::setup, "setpgid", "bwrap", errno);
        ::_exit(kExitSetup);
    }
    // Wait until the supervisor has put us in our v1 cgroups: bwrap must never run unlimited.
    if (x.release && !lnx::wait_go(x.go, x.sync)) ::_exit(kExitSetup);
    // The fixed numbers argv.hpp names, from wherever the fds are now: first all above the
    // targets, then down, so that no dup2 overwrites a source still needed.
    constexpr int kFds = 8;
    const int src[kFds] = {x.in, x.out, x.err, x.sync, x.report, x.spec, x.exe, x.go};
    int high[kFds];
    for (int i = 0; i < kFds; ++i) {
        high[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, 16);
        if (high[i] < 0) {
            lnx::send_report(x.report, lnx::ReportKind::setup, "dup", "bwrap descriptors", errno);
            ::_exit(kExitSetup);
        }
    }
    for (int i = 0; i < kFds; ++i)
        if (::dup2(high[i], i) < 0) ::_exit(kExitSetup);  // dup2 clears close-on-exec
    // Nothing else of the supervisor's reaches bwrap or the sandbox.
    ::close_range(kFds, ~0U, 0);
    ::sigprocmask(SIG_SETMASK, x.mask, nullptr);
    char* envp[] = {nullptr};  // init takes the command's environment from the spec
    ::execve(x.argv[0], x.argv.data(), envp);
    lnx::send_report(4, lnx::ReportKind::setup, "execve", x.argv[0], errno);
    ::_exit(kExitSetup);
}

// bwrap's starter: bubblewrap forked into the run's cgroups builds the sandbox from the argv
// (argv.cpp) and execs agentbox's own init inside, which reads the Plan's rest and the filter
// from a sealed spec (spec.cpp). The rest of the launch is the native one (linux/launch.cpp).
class BwrapStarter final : public lnx::Starter {
public:
    BwrapStarter(const policy::Plan& plan, const StageDirs& stage, const Io& io)
        : plan_(plan), stage_(stage), io_(io) {
        if (plan.staging == policy::Staging::copy && stage.snapshot.empty())
            throw sys::SysError("bwrap", "(no snapshot for the copy strategy)", EINVAL);
        spec_.notify = plan.seccomp.log_denials;
        spec_.plan.argv = plan.argv;
        spec_.plan.env = plan.env;
        spec_.plan.cwd = plan.cwd;
        spec_.plan.limits = plan.limits;
        spec_.plan.landlock = plan.landlock;
        spec_.plan.net.mode = plan.net.mode;
        spec_.plan.net.proxy_port = plan.net.proxy_port;
        spec_.plan.net.capture = plan.net.capture;
        spec_.plan.ns.net = plan.ns.net;
        spec_.tty = io.tty;
        // limits.stage_size: the snapshot is watched; what it holds now is the project, not
        // staged.
        const policy::Limit* stage_limit = plan.limit("stage_size");
        if (stage_limit != nullptr && stage_limit->value != 0 && !stage.snapshot.empty())
            stage_base_ = lnx::tree_bytes(stage.snapshot);
        // agentbox itself is run inside from a descriptor of this very binary, so the sandbox
        // needs no path to it and a replaced file on disk changes nothing.
        exe_.reset(::open("/proc/self/exe", O_PATH | O_CLOEXEC));
        if (!exe_) throw sys::SysError("open", "/proc/self/exe", errno);
        Inputs in;
        in.snapshot = stage.snapshot;
        if (plan.staging == policy::Staging::overlay) {
            in.upper = stage.upper;
            in.work = stage.work;
        }
        in.state_home = stage.home;
        if (has_mask_file(plan)) in.empty_file = empty_file_.path = ensure_empty_file(stage);
        if (plan.net.capture) in.resolv_conf = ensure_resolv_conf(stage);
        x_.argv_storage = make_argv(plan, in);
        for (auto& a : x_.argv_storage) x_.argv.push_back(a.data());
        x_.argv.push_back(nullptr);
    }

    bool filter_first() const override { return true; }
    // Into the spec, which init reads once from a sealed memfd.
    void take_filter(std::vector<std::uint8_t> bpf) override {
        spec_.bpf = std::move(bpf);
        spec_fd_ = spec_memfd(encode(spec_));
    }

    pid_t start(const lnx::Wiring& w, int* pidfd) override {
        x_.in = io_.in;
        x_.out = io_.out;
        x_.err = io_.err;
        x_.sync = w.ch.sync_child.get();
        x_.report = w.ch.report_write.get();
        x_.spec = spec_fd_.get();
        x_.exe = exe_.get();
        x_.go = w.go.fd();
        x_.release = w.release;
        x_.mask = &w.signals.old_mask();
        // bwrap becomes the monitor process; everything it starts is in the run's cgroups.
        const pid_t pid = lnx::sys_clone3(0, pidfd, w.cgroups.clone_into());
        if (pid < 0) throw sys::SysError("clone3", errno);
        if (pid == 0) exec_bwrap(x_);
        return pid;
    }

    void supervise_as(lnx::Supervised& s) const override {
        s.init_reports_start = true;
        if (plan_.staging == policy::Staging::copy) {
            s.stage_upper = stage_.snapshot;
            s.stage_base = stage_base_;
        } else if (plan_.staging == policy::Staging::overlay) {
            s.stage_upper = stage_.upper;  // what the command writes, as the native backend's
        }
    }

private:
    const policy::Plan& plan_;
    const StageDirs& stage_;
    const Io& io_;
    Spec spec_;
    sys::unique_fd spec_fd_, exe_;
    std::uint64_t stage_base_ = 0;
    // Gone with the sandbox: a mode-0000 file left in the session is noise for whoever reads
    // it.
    struct Unlink {
        std::string path;
        ~Unlink() {
            if (!path.empty()) ::unlink(path.c_str());
        }
    } empty_file_;
    Exec x_;
};

// Reads all of fd.
std::string read_all(int fd) {
    std::string s;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys::SysError("read", "spec", errno);
        if (n == 0) return s;
        s.append(buf, static_cast<std::size_t>(n));
    }
}

int parse_fd(const char* s) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 3 || v > 1000) return -1;
    return static_cast<int>(v);
}

// /proc/sys and /proc/sysrq-trigger read-only, as the native backend mounts them: bwrap's own
// cover of them is skipped when it runs as root, and a root sandbox (uid 0 mapped to 0) could
// then write the host's kernel.* and vm.* sysctls, whose permission is just the file mode.
// Without CAP_SYS_ADMIN (bwrap run by any other user) nothing can be remounted, and nothing
// needs to be: the files belong to the host's root, not to us.
int protect_proc(lnx::StepError& e) {
    for (const char* path : {"/proc/sys", "/proc/sysrq-trigger"}) {
        sys::unique_fd tree(::open_tree(AT_FDCWD, path,
                                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                            AT_SYMLINK_NOFOLLOW));
        if (!tree) {
            if (errno == ENOENT) continue;
            if (errno == EPERM && ::geteuid() != 0) return 0;
            e = {"open_tree", path, errno};
            return -1;
        }
        struct mount_attr attr {};
        attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
            e = {"mount_setattr(ro)", path, errno};
            return -1;
        }
        if (::move_mount(tree.get(), "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
            e = {"move_mount", path, errno};
            return -1;
        }
    }
    return 0;
}

}  // namespace

Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink) {
    return lnx::timed_launch([&](Outcome& out) {
        BwrapStarter starter(plan, stage, io);
        lnx::launch_with(starter, plan, io, sink, out);
    });
}

int init_main(int argc, char** argv) {
    // Runs inside the sandbox bwrap built, before anything of the command. Until the report
    // channel is known, stderr is the only way to say what is wrong.
    if (argc != 6) {
        std::fputs("agentbox: __bwrap-init is started by agentbox run --backend bwrap\n", stderr);
        return kExitSetup;
    }
    const int sync = parse_fd(argv[2]), report = parse_fd(argv[3]), spec_fd = parse_fd(argv[4]),
              go = parse_fd(argv[5]);
    if (sync < 0 || report < 0 || spec_fd < 0 || go < 0 || sync == report || go == sync ||
        go == report || ::fcntl(sync, F_GETFD) < 0 || ::fcntl(report, F_GETFD) < 0 ||
        ::fcntl(go, F_GETFD) < 0) {
        std::fputs("agentbox: __bwrap-init: bad descriptors\n", stderr);
        return kExitSetup;
    }
    // Static: init never returns, and the ChildSetup points into these.
    static Spec spec;
    static StageDirs none;
    try {
        spec = decode(read_all(spec_fd));
    } catch (const std::exception& e) {
        lnx::send_report(report, lnx::ReportKind::setup, "read spec", e.what(), EINVAL);
        return kExitSetup;
    }
    // Only the two channels and the go stay open, close-on-exec, as the native init has them:
    // the spec, agentbox's own descriptor and anything else inherited through bwrap are closed.
    int keep[3] = {sync, report, go};
    std::sort(keep, keep + 3);
    unsigned next = 3;
    for (int fd : keep) {
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
            lnx::send_report(report, lnx::ReportKind::setup, "fcntl(FD_CLOEXEC)", "", errno);
            return kExitSetup;
        }
        if (static_cast<unsigned>(fd) > next)
            ::close_range(next, static_cast<unsigned>(fd - 1), 0);
        next = static_cast<unsigned>(fd) + 1;
    }
    ::close_range(next, ~0U, 0);

    // Our name in ps and /proc/1/comm, rather than the descriptor number we were run as.
    ::prctl(PR_SET_NAME, "agentbox", 0, 0, 0);
    lnx::StepError e;
    if (protect_proc(e) < 0) {
        lnx::send_report(report, lnx::ReportKind::setup, e);
        return kExitSetup;
    }

    static lnx::ChildSetup cs;
    cs.plan = &spec.plan;
    cs.stage = &none;
    cs.bpf = &spec.bpf;
    cs.notify = spec.notify;
    cs.sync_fd = sync;
    cs.report_fd = report;
    cs.go_fd = go;
    cs.tty = spec.tty;
    cs.io.tty = spec.tty;  // 0, 1 and 2 are the command's, passed through bwrap
    lnx::prepare_exec(cs);
    lnx::bwrap_child_main(cs);
}

namespace {

// What `bwrap ARG` prints on its standard output; nothing when it cannot be run or fails.
std::optional<std::string> bwrap_says(const std::string& bwrap, const char* arg) {
    if (::access(bwrap.c_str(), X_OK) != 0) return std::nullopt;
    int pv[2];
    if (::pipe2(pv, O_CLOEXEC) < 0) return std::nullopt;
    sys::unique_fd r(pv[0]), w(pv[1]);
    pid_t pid = ::fork();
    if (pid < 0) return std::nullopt;
    if (pid == 0) {
        ::dup2(w.get(), 1);
        int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 2);
        char* args[] = {const_cast<char*>(bwrap.c_str()), const_cast<char*>(arg), nullptr};
        char* envp[] = {nullptr};
        ::execve(args[0], args, envp);
        ::_exit(127);
    }
    w.reset();
    std::string text;
    try {
        text = read_all(r.get());
    } catch (...) {
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    return text;
}

}  // namespace

Version probe_version(const std::string& bwrap) {
    Version v;
    auto said = bwrap_says(bwrap, "--version");
    if (!said) return v;
    std::string text = std::move(*said);
    if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
    v.text = text;
    int a = -1, b = -1, c = 0;
    if (std::sscanf(text.c_str(), "bubblewrap %d.%d.%d", &a, &b, &c) >= 2) {
        v.major = a;
        v.minor = b;
        v.patch = c;
    }
    return v;
}

bool probe_overlay(const std::string& bwrap) {
    const auto help = bwrap_says(bwrap, "--help");
    return help && sandbox::lists_overlay(*help);
}

}  // namespace agentbox::sandbox::bwrap
