// Real filters on the real kernel: each attack runs in a forked child that loaded the
// compiled BPF (no_new_privs first, as the sandbox does). The child reports through its exit
// status; the parent checks it. Every call is chosen so that, WITHOUT the filter, it would
// give a different answer (or a different signal), so these tests fail if the filter is not
// there.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "seccomp/rules.hpp"

using namespace agentbox;

namespace {

constexpr int kOk = 0;

int load_filter(const std::vector<std::uint8_t>& bpf, unsigned flags) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
    prog.filter =
        static_cast<sock_filter*>(static_cast<void*>(const_cast<std::uint8_t*>(bpf.data())));
    return static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog));
}

// Fork; in the child load `bpf` (if non-empty) and _exit(body()). Returns the wait status.
int run_child(const std::vector<std::uint8_t>& bpf, const std::function<int()>& body) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // doctest's crash handlers would report the child's expected death as a test crash.
        for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) signal(sig, SIG_DFL);
        if (!bpf.empty() && load_filter(bpf, 0) < 0) _exit(100);
        _exit(body());
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

// Child exit code for "call returned rc/errno different from what we expected".
int expect_errno(long rc, int want) {
    return rc == -1 && errno == want ? kOk : 1;
}

std::string describe(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

std::vector<std::uint8_t> compiled(profile::SeccompMode mode, bool notify = false) {
    policy::SeccompPlan p;
    p.mode = mode;
    return seccomp::compile(seccomp::rules_for(p), notify);
}

long raw_clone3() {
    clone_args args{};
    args.exit_signal = SIGCHLD;
    const long rc = syscall(SYS_clone3, &args, sizeof args);
    if (rc == 0) _exit(0);  // no filter: the new child just leaves
    if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
    return rc;
}

// The common attacks, for either mode.
void check_denials(const std::vector<std::uint8_t>& bpf) {
    SUBCASE("mount is denied (would be ENOENT without the filter)") {
        auto st = run_child(bpf, [] {
            return expect_errno(mount("none", "/nonexistent-agentbox-test", "tmpfs", 0, nullptr),
                                EPERM);
        });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("a nested user namespace is denied") {
        auto st = run_child(bpf, [] { return expect_errno(unshare(CLONE_NEWUSER), EPERM); });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("clone with CLONE_NEWUSER is denied, plain fork still works") {
        auto st = run_child(bpf, [] {
            long rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
            if (rc == 0) _exit(0);
            if (rc != -1 || errno != EPERM) return 1;
            pid_t p = fork();
            if (p == 0) _exit(7);
            int s = 0;
            return p > 0 && waitpid(p, &s, 0) == p && WIFEXITED(s) && WEXITSTATUS(s) == 7 ? kOk : 2;
        });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("clone3 answers ENOSYS so libc falls back to clone") {
        auto st = run_child(bpf, [] { return expect_errno(raw_clone3(), ENOSYS); });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("TIOCSTI is denied, also with high bits set (CVE-2017-5226); other ioctls pass") {
        auto st = run_child(bpf, [] {
            const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            char c = 'x';
            // Without the filter each of these is ENOTTY on /dev/null.
            if (expect_errno(ioctl(fd, TIOCSTI, &c), EPERM)) return 1;
            if (expect_errno(syscall(SYS_ioctl, fd, TIOCSTI | (1UL << 32), &c), EPERM)) return 2;
            if (expect_errno(syscall(SYS_ioctl, fd, TIOCLINUX | (0xabcdUL << 32), &c), EPERM))
                return 3;
            if (expect_errno(ioctl(fd, TCGETS, &c), ENOTTY)) return 4;
            return kOk;
        });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("personality(PER_LINUX) works, READ_IMPLIES_EXEC is denied") {
        auto st = run_child(bpf, [] {
            if (personality(PER_LINUX) < 0) return 1;
            if (personality(0xffffffff) < 0) return 2;
            if (expect_errno(personality(READ_IMPLIES_EXEC), EPERM)) return 3;
            return kOk;
        });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("ordinary calls still work") {
        auto st = run_child(bpf, [] {
            if (getpid() <= 0) return 1;
            char buf[16];
            const int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
            if (fd < 0 || read(fd, buf, sizeof buf) <= 0) return 2;
            return kOk;
        });
        CHECK_MESSAGE(st == 0, describe(st));
    }
    SUBCASE("an x32 syscall (another ABI, same arch) kills the process with SIGSYS") {
        // Without the filter this kernel answers ENOSYS (no x32) and the child exits 1.
        auto st = run_child(bpf, [] {
            syscall(SYS_getpid | 0x40000000);
            return 1;
        });
        CHECK_MESSAGE((WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS), describe(st));
    }
}

long int80_getpid() {
    long rc = 20;  // __NR_getpid on i386
    __asm__ volatile("int $0x80" : "+a"(rc) : : "memory");
    return rc;
}

}  // namespace

TEST_CASE("default filter blocks the escapes on the real kernel") {
    check_denials(compiled(profile::SeccompMode::default_));
}

TEST_CASE("strict filter blocks the escapes and unlisted syscalls on the real kernel") {
    const auto bpf = compiled(profile::SeccompMode::strict);
    check_denials(bpf);
    SUBCASE("an unlisted syscall is denied") {
        auto st = run_child(bpf, [] { return expect_errno(sethostname("x", 1), EPERM); });
        CHECK_MESSAGE(st == 0, describe(st));
    }
}

TEST_CASE("an i386 syscall through int 0x80 kills the process with SIGSYS") {
    // Some kernels (ia32_emulation=0, some hypervisors) fault int 0x80 with SIGSEGV before
    // seccomp sees it; then there is no i386 ABI to filter and the case is moot.
    const int plain = run_child({}, [] { return int80_getpid() == getpid() ? 0 : 1; });
    if (WIFSIGNALED(plain) && WTERMSIG(plain) == SIGSEGV) {
        MESSAGE("int 0x80 faults on this kernel without any filter: no i386 ABI to test");
        return;
    }
    REQUIRE_MESSAGE(plain == 0, describe(plain));
    const int st = run_child(compiled(profile::SeccompMode::default_), [] {
        int80_getpid();
        return 1;
    });
    CHECK_MESSAGE((WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS), describe(st));
}

TEST_CASE("notify mode: a denied call waits for the supervisor's answer") {
    const auto bpf = compiled(profile::SeccompMode::default_, true);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        const int listener = load_filter(bpf, SECCOMP_FILTER_FLAG_NEW_LISTENER);
        if (listener < 0) _exit(100);
        // Hand the listener to the parent (the supervisor's role).
        char byte = 'L';
        iovec iov{&byte, 1};
        alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctrl;
        msg.msg_controllen = sizeof ctrl;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
        if (sendmsg(sv[1], &msg, 0) != 1) _exit(101);
        close(listener);
        // clone3 keeps ENOSYS (no notification); mount blocks until the parent answers.
        if (expect_errno(raw_clone3(), ENOSYS)) _exit(102);
        _exit(
            expect_errno(mount("none", "/nonexistent-agentbox-test", "tmpfs", 0, nullptr), EPERM));
    }
    close(sv[1]);
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    REQUIRE(recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) == 1);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    REQUIRE(c != nullptr);
    int listener = -1;
    std::memcpy(&listener, CMSG_DATA(c), sizeof(int));

    seccomp_notif req{};
    REQUIRE(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0);
    CHECK(req.pid == static_cast<__u32>(pid));
    CHECK(req.data.nr == SYS_mount);
    CHECK(seccomp::syscall_name(req.data.nr) == "mount");
    seccomp_notif_resp resp{};
    resp.id = req.id;
    resp.error = -EPERM;
    REQUIRE(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0);

    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK_MESSAGE(st == 0, describe(st));
    close(listener);
    close(sv[0]);
}

TEST_CASE("unknown syscall names in the profile are errors naming the list and the place") {
    policy::SeccompPlan p;
    p.deny.push_back({"ptrac", {"p.toml", 7, 18}});
    try {
        seccomp::compile(seccomp::rules_for(p), false);
        FAIL("compile accepted an unknown syscall");
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("unknown syscall \"ptrac\" in process.deny_syscalls (p.toml:7:18)") == 0);
        CHECK(msg.find("did you mean \"ptrace\"") != std::string::npos);
    }
    // An allow for a name that is not in the deny set produces no rule; it is still checked.
    policy::SeccompPlan a;
    a.allow.push_back({"getpidd", {"p.toml", 8, 1}});
    CHECK_THROWS_WITH_AS(seccomp::compile(seccomp::rules_for(a), false),
                         doctest::Contains("unknown syscall \"getpidd\" in process.allow_syscalls"),
                         std::runtime_error);
}

TEST_CASE("compiled programs are whole BPF programs within the kernel's limit") {
    for (auto mode : {profile::SeccompMode::default_, profile::SeccompMode::strict})
        for (bool notify : {false, true}) {
            const auto bpf = compiled(mode, notify);
            CHECK(!bpf.empty());
            CHECK(bpf.size() % sizeof(sock_filter) == 0);
            CHECK(bpf.size() / sizeof(sock_filter) <= BPF_MAXINSNS);
        }
    CHECK(compiled(profile::SeccompMode::default_) !=
          compiled(profile::SeccompMode::default_, true));
}

TEST_CASE("syscall_name names native syscalls and marks unknown numbers") {
    CHECK(seccomp::syscall_name(SYS_mount) == "mount");
    CHECK(seccomp::syscall_name(SYS_ptrace) == "ptrace");
    CHECK(seccomp::syscall_name(99999) == "syscall#99999");
}

// libseccomp 2.5.4 names syscalls up to 456; this kernel has more (open_tree_attr, 467, makes
// detached mount trees; setxattrat, 463), which a default-allow filter let through whatever
// they did (engineer AT). Each call has bad arguments: the kernel answers EBADF or EINVAL.
TEST_CASE("a number past the last one libseccomp names answers ENOSYS under the default filter") {
    constexpr long kOpenTreeAttr = 467, kSetxattrat = 463;
    const int plain = run_child({}, [] {
        return syscall(kOpenTreeAttr, -1, nullptr, 0, nullptr, 0) == -1 && errno == ENOSYS ? 1 : 0;
    });
    if (plain != 0) {
        MESSAGE("this kernel has no open_tree_attr: nothing past libseccomp's table to try");
        return;
    }
    const int st = run_child(compiled(profile::SeccompMode::default_), [] {
        if (expect_errno(syscall(kOpenTreeAttr, -1, nullptr, 0, nullptr, 0), ENOSYS)) return 1;
        if (expect_errno(syscall(kSetxattrat, -1, nullptr, 0, nullptr, nullptr, 0), ENOSYS))
            return 2;
        if (expect_errno(syscall(9999), ENOSYS)) return 3;  // past every table
        return getpid() > 0 ? kOk : 4;                      // named calls: the program's
    });
    CHECK_MESSAGE(st == 0, describe(st));
    // strict lists what it allows: the rest is denied, named or not.
    const int strict = run_child(compiled(profile::SeccompMode::strict), [] {
        return expect_errno(syscall(kOpenTreeAttr, -1, nullptr, 0, nullptr, 0), EPERM);
    });
    CHECK_MESSAGE(strict == 0, describe(strict));
}

TEST_CASE("with i386 filtered beside x86_64, its unnamed numbers answer ENOSYS too") {
    const auto int80 = [](long nr, long a1) {
        long rc = nr;
        __asm__ volatile("int $0x80" : "+a"(rc) : "b"(a1) : "memory");
        return rc;
    };
    const int plain = run_child({}, [&] { return int80(467, -1) == -ENOSYS ? 1 : 0; });
    if (WIFSIGNALED(plain) || plain != 0) {
        const std::string why = "no i386 ABI, or no open_tree_attr in it: " + describe(plain);
        MESSAGE(why);
        return;
    }
    policy::SeccompPlan p;
    p.mode = profile::SeccompMode::default_;
    seccomp::RuleSet rs = seccomp::rules_for(p);
    rs.kill_foreign_arch = false;
    const int st = run_child(seccomp::compile(rs, false), [&] {
        if (int80(467, -1) != -ENOSYS) return 1;
        return int80(20, 0) == getpid() ? kOk : 2;  // i386 getpid: named, allowed
    });
    CHECK_MESSAGE(st == 0, describe(st));
}
