// The last steps before execve, each on the real kernel in a forked child that reports through
// its exit status (the steps are irreversible, so never in the test process itself).
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "sandbox/linux/hardening.hpp"
#include "seccomp/rules.hpp"
#include "../temp_dir.hpp"

using namespace agentbox;
using namespace agentbox::sandbox::lnx;

namespace {

// Run body() in a forked child; returns its exit code (or 128+signal).
int in_child(const std::function<int()>& body) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) signal(sig, SIG_DFL);
        _exit(body());
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string read_fd(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

bool write_file(const char* path, const std::string& s) {
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
    close(fd);
    return ok;
}

// Become root of a fresh user namespace: full capabilities there, so there is something to
// drop, and uid 0 so that exec would hand capabilities back without securebits.
bool enter_userns_as_root(unsigned uid, unsigned gid) {
    return unshare(CLONE_NEWUSER) == 0 && write_file("/proc/self/setgroups", "deny") &&
           write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
           write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

struct TempDir {
    agentbox::test::TempDir tmp{"landlock"};
    std::string path = tmp.path();
};

}  // namespace

TEST_CASE(
    "root of a user namespace keeps no capability after drop_capabilities, even across exec") {
    const unsigned uid = getuid(), gid = getgid();
    int out[2];
    REQUIRE(pipe(out) == 0);
    const int code = in_child([&] {
        close(out[0]);
        if (!enter_userns_as_root(uid, gid)) return 10;
        StepError e;
        if (drop_capabilities(e) < 0) return 11;
        if (drop_capabilities(e) < 0) return 12;  // init drops, then the command again
        const int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        const int want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                         SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                         SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
        if ((bits & want) != want || (bits & SECBIT_KEEP_CAPS)) return 13;
        if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0) return 14;  // locked
        if (set_no_new_privs(e) < 0) return 15;
        // Still uid 0 here: without NOROOT and an empty bounding set, exec would restore the
        // full set. Let a fresh program report what it got.
        dup2(out[1], 1);
        execl("/bin/grep", "grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status", nullptr);
        return 16;
    });
    close(out[1]);
    const std::string status = read_fd(out[0]);
    close(out[0]);
    REQUIRE_MESSAGE(code == 0, "child failed at step " << code);
    for (const char* line :
         {"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
          "CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"}) {
        CAPTURE(status);
        CHECK(status.find(line) != std::string::npos);
    }
}

TEST_CASE("set_no_new_privs sets NoNewPrivs") {
    CHECK(in_child([] {
              StepError e;
              if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
                  return 1;  // the test needs a clean start
              if (set_no_new_privs(e) < 0) return 2;
              return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 3;
          }) == 0);
}

TEST_CASE("Landlock limits the command to the planned paths") {
    TempDir tmp;
    const std::string file = tmp.path + "/ok.txt";
    policy::LandlockPlan plan;
    plan.mode = profile::LandlockMode::require;
    plan.abi = 7;  // apply_landlock lowers it to what the kernel has
    plan.rules.push_back({tmp.path, policy::ll_read | policy::ll_write, "test"});
    // A file rule with directory rights: only the file rights may be applied.
    plan.rules.push_back(
        {"/etc/passwd", policy::ll_read | policy::ll_write | policy::ll_exec, "test"});
    // Mount visibility decides about paths that do not exist; they are skipped.
    plan.rules.push_back({"/nonexistent/agentbox", policy::ll_read, "test"});
    plan.rules.push_back({"/etc/passwd/below-a-file", policy::ll_read, "test"});
    // The test binary and its libraries must stay executable after the fork: nothing is
    // exec'd below, so no exec rules are needed.

    const int code = in_child([&] {
        StepError e;
        int abi = -1;
        if (set_no_new_privs(e) < 0) return 10;
        if (apply_landlock(plan, &abi, e) < 0) {
            std::fprintf(stderr, "apply_landlock: %s \"%s\": %s\n", e.op, e.path.c_str(),
                         std::strerror(e.err));
            return 11;
        }
        if (abi < 1) return 12;
        // Outside the rules: denied, although the file is world-readable.
        if (open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES) return 13;
        if (opendir("/etc") != nullptr || errno != EACCES) return 14;
        // Inside: write, read back, list, remove.
        const int w = open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (w < 0 || write(w, "hi", 2) != 2) return 15;
        close(w);
        char buf[4] = {};
        const int r = open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (r < 0 || read(r, buf, sizeof buf) != 2) return 16;
        close(r);
        if (mkdir((tmp.path + "/sub").c_str(), 0700) < 0) return 17;
        if (unlink(file.c_str()) < 0) return 18;
        // The single-file rule works.
        if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) < 0) return 19;
        return 0;
    });
    CHECK_MESSAGE(code == 0, "child failed at step " << code);
    // The test process itself is not restricted.
    CHECK(access("/etc/hostname", R_OK) == 0);
}

TEST_CASE("Landlock modes: off and best effort without an ABI do nothing; require fails") {
    policy::LandlockPlan plan;
    plan.rules.push_back({"/tmp", policy::ll_read, "test"});
    CHECK(in_child([&] {
              StepError e;
              int abi = -1;
              plan.mode = profile::LandlockMode::off;
              plan.abi = 7;
              if (apply_landlock(plan, &abi, e) != 0 || abi != 0) return 1;
              plan.mode = profile::LandlockMode::best_effort;
              plan.abi = 0;
              if (apply_landlock(plan, &abi, e) != 0 || abi != 0) return 2;
              plan.mode = profile::LandlockMode::require;
              if (apply_landlock(plan, &abi, e) != -1 || e.err != EOPNOTSUPP) return 3;
              // Nothing was enforced by any of these.
              return open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0 ? 0 : 4;
          }) == 0);
}

TEST_CASE("install_seccomp refuses to load without no_new_privs") {
    policy::SeccompPlan p;
    const auto bpf = seccomp::compile(seccomp::rules_for(p), false);
    CHECK(in_child([&] {
              StepError e;
              if (install_seccomp(bpf, nullptr, e) != -1) return 1;
              if (std::string(e.op).find("no_new_privs") == std::string::npos) return 2;
              // And nothing was loaded.
              return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 ? 0 : 3;
          }) == 0);
}

TEST_CASE("install_seccomp loads the filter with TSYNC, and hands out a listener") {
    policy::SeccompPlan p;
    const auto bpf = seccomp::compile(seccomp::rules_for(p), false);
    const auto notify_bpf = seccomp::compile(seccomp::rules_for(p), true);
    CHECK(in_child([&] {
              StepError e;
              if (set_no_new_privs(e) < 0) return 1;
              if (install_seccomp(bpf, nullptr, e) < 0) return 2;
              if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) return 3;
              if (mount("none", "/nonexistent-agentbox", "tmpfs", 0, nullptr) == 0 ||
                  errno != EPERM)
                  return 4;
              return 0;
          }) == 0);
    CHECK(in_child([&] {
              StepError e;
              int listener = -1;
              if (set_no_new_privs(e) < 0) return 1;
              if (install_seccomp(notify_bpf, &listener, e) < 0) return 2;
              if (listener < 0 || fcntl(listener, F_GETFD) != FD_CLOEXEC) return 3;
              return 0;
          }) == 0);
    CHECK(in_child([&] {
              StepError e;
              if (set_no_new_privs(e) < 0) return 1;
              const std::vector<std::uint8_t> torn(bpf.begin(), bpf.begin() + 3);
              if (install_seccomp(torn, nullptr, e) != -1 || e.err != EINVAL) return 2;
              if (install_seccomp({}, nullptr, e) != -1 || e.err != EINVAL) return 3;
              return 0;
          }) == 0);
}
