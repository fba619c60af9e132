// Real-kernel tests of the native backend: a Plan built by hand, the same shape compile()
// makes for the default profile, running /bin/sh with stdout captured in a file.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sandbox/backend.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using namespace agentbox;
using policy::MountKind;

namespace {

struct Fixture {
    agentbox::test::TempDir tmp{"native", "/var/tmp"};
    fs::path dir, project, upper, work;
    policy::Plan plan;
    sandbox::StageDirs stage;
    std::vector<sandbox::Event> events;
    int launches = 0;

    Fixture() {
        dir = tmp.path();
        project = dir / "project";
        upper = dir / "upper";
        work = dir / "work";
        for (const auto& d : {project, upper, work}) fs::create_directory(d);
        std::ofstream(project / "README") << "original\n";
        stage.upper = upper.string();
        stage.work = work.string();

        plan.argv = {"sh", "-c", "true"};
        plan.project = project.string();
        plan.cwd = project.string();
        plan.home = "/home/agent";
        plan.uid = ::geteuid();
        plan.gid = ::getegid();
        plan.landlock.mode = profile::LandlockMode::off;
        auto m = [&](MountKind k, std::string src, std::string dst) {
            plan.mounts.push_back(policy::Mount{k, std::move(src), std::move(dst), "test", {}});
        };
        m(MountKind::bind_ro, "/usr", "/usr");
        for (const char* l : {"bin", "lib", "lib64", "sbin"})
            if (fs::is_symlink(std::string("/") + l))
                m(MountKind::symlink, fs::read_symlink(std::string("/") + l).string(),
                  std::string("/") + l);
        m(MountKind::proc, "", "/proc");
        m(MountKind::dev, "", "/dev");
        m(MountKind::tmpfs, "", "/tmp");
        m(MountKind::tmpfs, "", plan.home);
        m(MountKind::overlay, project.string(), project.string());
        plan.env = {{"PATH", "/usr/bin:/bin", "test"}, {"HOME", plan.home, "test"}};
    }

    // Runs `script` with sh -c; stdout goes to a file whose contents land in *output.
    sandbox::Outcome run(const std::string& script, std::string* output = nullptr) {
        plan.argv = {"sh", "-c", script};
        return launch(output);
    }
    sandbox::Outcome launch(std::string* output = nullptr, int in = -1, bool tty = false) {
        // A fresh overlay work dir per launch, as every run's new session has: the overlay is
        // volatile and the kernel refuses a work dir that a volatile mount used before.
        work = dir / ("work" + std::to_string(++launches));
        fs::create_directory(work);
        stage.work = work.string();
        fs::path out = dir / "stdout";
        int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        sandbox::Io io{in >= 0 ? in : devnull, fd, 2, tty};
        auto outcome = sandbox::make_native()->launch(
            plan, stage, io, [this](const sandbox::Event& e) { events.push_back(e); });
        ::close(fd);
        ::close(devnull);
        if (output) {
            std::ifstream file(out);
            std::stringstream ss;
            ss << file.rdbuf();
            *output = ss.str();
        }
        return outcome;
    }
};

}  // namespace

TEST_CASE("native: the command's exit code passes through and it ran") {
    Fixture f;
    auto o = f.run("exit 7");
    CHECK(o.error == "");
    CHECK(o.exit_code == 7);
    CHECK(o.started);
    CHECK(o.signal == 0);
    CHECK(f.run("true").exit_code == 0);
}

TEST_CASE("native: a command killed by signal N exits 128+N") {
    Fixture f;
    auto o = f.run("kill -TERM $$");
    CHECK(o.exit_code == 128 + SIGTERM);
    CHECK(o.signal == SIGTERM);
}

TEST_CASE("native: a command that exits 127 itself is not mistaken for not found") {
    Fixture f;
    auto o = f.run("exit 127");
    CHECK(o.exit_code == 127);
    CHECK(o.started);
    CHECK(o.error == "");
}

TEST_CASE("native: a missing command exits 127 and says so") {
    Fixture f;
    f.plan.argv = {"no-such-command-agentbox"};
    auto o = f.launch();
    CHECK(o.exit_code == 127);
    CHECK_FALSE(o.started);
    CHECK(o.error == "no-such-command-agentbox: command not found");
}

TEST_CASE("native: a file that is not executable exits 126") {
    Fixture f;
    std::ofstream(f.project / "script.sh") << "#!/bin/sh\necho hi\n";
    ::chmod((f.project / "script.sh").c_str(), 0644);
    f.plan.argv = {"./script.sh"};
    auto o = f.launch();
    CHECK(o.exit_code == 126);
    CHECK_FALSE(o.started);
}

TEST_CASE("native: the wall-clock limit ends the run with 124, promptly") {
    Fixture f;
    f.plan.limits.push_back(policy::Limit{"timeout", 300, policy::Mechanism::supervisor, {}});
    auto t0 = std::chrono::steady_clock::now();
    auto o = f.run("sleep 30");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(o.exit_code == 124);
    CHECK(o.timed_out);
    // Half the command's own time: a limit that did not end it waits the whole 30 s; a loaded
    // machine (CI, the suites beside it) can take seconds to start and reap a sandbox.
    CHECK(secs < 15.0);
}

TEST_CASE("native: writes to the project land in upper/, never in the project") {
    Fixture f;
    auto o = f.run("echo new > created.txt && echo changed >> README && cat README");
    std::string out;
    o = f.run("cat README created.txt", &out);
    CHECK(o.exit_code == 0);
    CHECK(out == "original\nchanged\nnew\n");
    CHECK(fs::exists(f.upper / "created.txt"));
    CHECK_FALSE(fs::exists(f.project / "created.txt"));
    std::ifstream readme(f.project / "README");
    std::string line;
    std::getline(readme, line);
    CHECK(line == "original");
}

TEST_CASE("native: the host's /root and home directories are not visible") {
    Fixture f;
    std::string out;
    auto o = f.run("for p in /root /home/agent/.ssh /etc/shadow /var/lib /opt; do "
                   "test -e $p && echo visible $p; done; echo done",
                   &out);
    CHECK(o.exit_code == 0);
    CHECK(out == "done\n");
}

TEST_CASE("native: PID 1 inside is agentbox's init and the hostname is agentbox") {
    Fixture f;
    std::string out;
    auto o = f.run("echo $PPID; cat /proc/sys/kernel/hostname", &out);
    CHECK(o.exit_code == 0);
    CHECK(out == "1\nagentbox\n");
}

TEST_CASE("native: the new root, /usr and /proc/sys are read-only") {
    Fixture f;
    std::string out;
    auto o = f.run("touch /x 2>/dev/null && echo root-writable; "
                   "touch /usr/x 2>/dev/null && echo usr-writable; "
                   "echo 1 2>/dev/null >/proc/sys/kernel/hostname && echo sys-writable; "
                   "touch /tmp/x && echo tmp-ok",
                   &out);
    CHECK(o.exit_code == 0);
    CHECK(out == "tmp-ok\n");
}

TEST_CASE("native: a symlink planted in the project cannot redirect a mask") {
    Fixture f;
    fs::create_directory(f.dir / "secret");
    fs::create_directory_symlink(f.dir / "secret", f.project / "link");
    f.plan.mounts.push_back(
        policy::Mount{MountKind::mask_dir, "", (f.project / "link").string(), "test", {}});
    auto o = f.run("true");
    CHECK(o.exit_code == 125);
    CHECK_FALSE(o.started);
    CHECK(o.error.find("mount(mask)") != std::string::npos);
    CHECK(o.error.find("symbolic links") != std::string::npos);
}

TEST_CASE("native: setup failures exit 125 naming the operation and the path") {
    Fixture f;
    f.plan.cwd = "/does/not/exist";
    auto o = f.run("true");
    CHECK(o.exit_code == 125);
    CHECK(o.error == "chdir \"/does/not/exist\": No such file or directory");
}

TEST_CASE("native: no file descriptor of the supervisor leaks into the command") {
    Fixture f;
    int leak = ::open("/etc/hostname", O_RDONLY);  // not CLOEXEC on purpose
    std::string out;
    auto o = f.run("ls /proc/self/fd", &out);
    ::close(leak);
    CHECK(o.exit_code == 0);
    CHECK(out == "0\n1\n2\n3\n");  // 3 is ls's own directory fd
}

TEST_CASE("native: processes left behind by the command do not outlive it") {
    Fixture f;
    auto t0 = std::chrono::steady_clock::now();
    auto o = f.run("(sleep 30 &) ; exit 0");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(o.exit_code == 0);
    CHECK(secs < 15.0);  // a leftover that outlived it would hold the run for 30 s
}

TEST_CASE("native: a denied syscall fails with EPERM and is reported as an event") {
    Fixture f;
    std::string out;
    auto o = f.run("unshare -U true 2>/dev/null || echo denied", &out);
    CHECK(o.exit_code == 0);
    CHECK(out == "denied\n");
    bool seen = false;
    for (const auto& e : f.events)
        if (e.type == "syscall.denied")
            for (const auto& [k, v] : e.fields)
                if (k == "syscall" && v == "unshare") seen = true;
    CHECK(seen);
}

TEST_CASE("native: with a terminal the command gets a pty of its own, relayed") {
    Fixture f;
    // Stand in for the user's terminal with a pty we own.
    int user_master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(user_master >= 0);
    REQUIRE(::grantpt(user_master) == 0);
    REQUIRE(::unlockpt(user_master) == 0);
    int user_tty = ::open(::ptsname(user_master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(user_tty >= 0);
    std::string out;
    f.plan.argv = {"sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty"};
    auto o = f.launch(&out, user_tty, true);
    ::close(user_tty);
    ::close(user_master);
    CHECK(o.exit_code == 0);
    CHECK(out == "is-a-tty\r\n");  // the pty's line discipline adds the \r
}

TEST_CASE("native: a memory bomb is stopped by the cgroup v1 memory limit") {
    if (::access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) != 0 ||
        ::access("/usr/bin/python3", X_OK) != 0) {
        MESSAGE("skipped: needs a writable cgroup v1 memory hierarchy (root) and python3");
        return;
    }
    Fixture f;
    f.plan.limits.push_back(policy::Limit{"memory", 64u << 20, policy::Mechanism::cgroup1, {}});
    f.plan.limits.push_back(policy::Limit{"pids", 64, policy::Mechanism::cgroup1, {}});
    auto o = f.run("exec python3 -c 'b = bytearray(512 << 20); b[::4096] = b\"x\" * len(b[::4096])'");
    CHECK(o.exit_code == 128 + SIGKILL);
    CHECK(o.peak_memory > (32u << 20));
    CHECK(o.peak_memory <= (64u << 20));
    // A fork bomb: the shell cannot fork past the pids limit and gives up.
    auto t0 = std::chrono::steady_clock::now();
    o = f.run("{ for i in $(seq 200); do sleep 30 & done; wait; } 2>/dev/null");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(o.exit_code != 0);
    CHECK(secs < 15.0);  // 200 sleeps started would hold the run for 30 s
    // The run's cgroups are gone afterwards.
    std::ifstream self("/proc/self/cgroup");
    std::string line, mine;
    while (std::getline(self, line))
        if (line.find(":memory:") != std::string::npos) mine = line.substr(line.rfind(':') + 1);
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup/memory" + mine))
        CHECK(e.path().filename().string().rfind("agentbox-" + std::to_string(::getpid()), 0) ==
              std::string::npos);
}
