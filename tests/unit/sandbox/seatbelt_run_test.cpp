// The Seatbelt launcher's supervisor (macos/seatbelt_run.cpp), run on Linux: the real launcher
// with a stand-in for /usr/bin/sandbox-exec that drops the profile (saving it for the test)
// and executes the command. What is tested is what agentbox does around sandbox-exec -- the
// exit codes, signals, the wall clock, the pty, the rlimits, the proxy -- not Seatbelt itself.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../temp_dir.hpp"
#include "policy/plan.hpp"
#include "sandbox/macos/seatbelt_run.hpp"

using namespace agentbox;
using namespace agentbox::sandbox;
using namespace agentbox::sandbox::macos;

namespace {

// Drops -p PROFILE, -f FILE and -D NAME=VALUE as sandbox-exec takes them, keeps the profile
// next to itself, then runs the command as sandbox-exec would (execvp).
constexpr const char* kFakeSandboxExec = R"(#!/bin/sh
dir=$(dirname "$0")
while [ $# -gt 0 ]; do
  case "$1" in
    -p) printf '%s' "$2" > "$dir/profile.sb"; shift 2 ;;
    -f|-D) shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
exec "$@"
)";

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Fixture {
    // Not under /tmp, /var or /etc: the launch names paths as macOS sees them (/private/tmp).
    test::TempDir dir{"seatbelt-run", std::filesystem::current_path().string()};
    std::string fake = dir.path() + "/sandbox-exec";
    std::string out_file = dir.path() + "/out";
    std::vector<Event> events;

    Fixture() {
        std::ofstream(fake) << kFakeSandboxExec;
        ::chmod(fake.c_str(), 0755);
    }

    // `sh -c SCRIPT` with nothing of the filesystem planned (the stand-in enforces nothing).
    policy::Plan plan(const std::string& script) const {
        policy::Plan p;
        p.argv = {"/bin/sh", "-c", script};
        p.project = dir.path();
        p.staging = policy::Staging::none;
        p.cwd = "/";
        p.env = {{"PATH", "/usr/bin:/bin", "env.pass \"PATH\""}, {"OUT", out_file, "env.set"}};
        return p;
    }

    Outcome run(const policy::Plan& p, Io io = {}, const std::string& program = "") {
        Outcome out;
        int fd = -1;
        if (io.in == 0 && io.out == 1 && !io.tty) {
            fd = ::open("/dev/null", O_RDWR);
            io.in = fd;
        }
        run_seatbelt(program.empty() ? fake : program, p, "/nonexistent", "/nonexistent", {},
                     io, [this](const Event& e) { events.push_back(e); }, out);
        if (fd >= 0) ::close(fd);
        return out;
    }

    bool saw(const std::string& type) const {
        for (const auto& e : events)
            if (e.type == type) return true;
        return false;
    }
};

policy::Limit limit(const char* name, std::uint64_t value, policy::Mechanism how) {
    return policy::Limit{name, value, how, profile::Source{"test.toml", 1, 1}};
}

void wait_for_file(const std::string& path) {
    for (int i = 0; i < 500 && !std::filesystem::exists(path); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace

TEST_CASE("seatbelt launcher: the command's exit status is agentbox's") {
    Fixture f;
    const Outcome out = f.run(f.plan("exit 7"));
    CHECK(out.exit_code == 7);
    CHECK(out.started);
    CHECK(out.signal == 0);
    CHECK(f.saw("exec"));
    CHECK(slurp(f.dir.path() + "/profile.sb").starts_with("(version 1)"));
}

TEST_CASE("seatbelt launcher: death by signal N is 128+N") {
    Fixture f;
    const Outcome out = f.run(f.plan("kill -TERM $$"));
    CHECK(out.exit_code == 128 + SIGTERM);
    CHECK(out.signal == SIGTERM);
}

TEST_CASE("seatbelt launcher: the wall-clock limit kills the command with 124") {
    Fixture f;
    policy::Plan p = f.plan("sleep 30");
    p.limits = {limit("timeout", 300, policy::Mechanism::supervisor)};
    const auto t0 = std::chrono::steady_clock::now();
    const Outcome out = f.run(p);
    CHECK(out.exit_code == 124);
    CHECK(out.timed_out);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
}

TEST_CASE("seatbelt launcher: what the command leaves running in its session ends with it") {
    Fixture f;
    const std::string pidfile = f.dir.path() + "/bg";
    const Outcome out = f.run(f.plan("sleep 300 & echo $! > " + pidfile + "; exit 3"));
    CHECK(out.exit_code == 3);
    const pid_t bg = std::stoi(slurp(pidfile));
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
        const std::string stat = slurp("/proc/" + std::to_string(bg) + "/stat");
        gone = stat.empty() || stat.find(") Z") != std::string::npos;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(gone);
    if (!gone) ::kill(bg, SIGKILL);
}

TEST_CASE("seatbelt launcher: SIGTERM to agentbox reaches the command's process group") {
    Fixture f;
    const std::string ready = f.dir.path() + "/ready";
    std::thread killer([&] {
        wait_for_file(ready);
        ::kill(::getpid(), SIGTERM);
    });
    policy::Plan p = f.plan("trap 'exit 42' TERM; : > " + ready + "; while :; do sleep 0.05; done");
    p.limits = {limit("timeout", 20000, policy::Mechanism::supervisor)};  // never hangs
    const Outcome out = f.run(p);
    killer.join();
    CHECK(out.exit_code == 42);
    CHECK(out.started);
}

TEST_CASE("seatbelt launcher: a second SIGINT ends a command that ignores SIGINT, with 130") {
    Fixture f;
    const std::string ready = f.dir.path() + "/ready";
    std::thread killer([&] {
        wait_for_file(ready);
        ::kill(::getpid(), SIGINT);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ::kill(::getpid(), SIGINT);
    });
    policy::Plan p = f.plan("trap '' INT; : > " + ready + "; while :; do sleep 0.05; done");
    p.limits = {limit("timeout", 20000, policy::Mechanism::supervisor)};  // never hangs
    const Outcome out = f.run(p);
    killer.join();
    CHECK(out.exit_code == 130);
    CHECK(out.signal == SIGINT);
}

TEST_CASE("seatbelt launcher: the command gets SIGPIPE's default even when agentbox ignores it") {
    Fixture f;
    const auto old = std::signal(SIGPIPE, SIG_IGN);
    const Outcome out = f.run(f.plan("awk '/^SigIgn/ {print $2}' /proc/self/status > \"$OUT\""));
    std::signal(SIGPIPE, old);
    CHECK(out.exit_code == 0);
    const std::string mask = slurp(f.out_file);
    REQUIRE_FALSE(mask.empty());
    CHECK((std::stoull(mask, nullptr, 16) & (1ull << (SIGPIPE - 1))) == 0);
}

TEST_CASE("seatbelt launcher: the Plan's rlimits are set before the command runs") {
    Fixture f;
    policy::Plan p = f.plan("ulimit -n > \"$OUT\"; ulimit -c >> \"$OUT\"; ulimit -f >> \"$OUT\"");
    p.limits = {limit("open_files", 37, policy::Mechanism::rlimit),
                limit("file_size", 512 * 100, policy::Mechanism::rlimit)};
    const Outcome out = f.run(p);
    CHECK(out.exit_code == 0);
    CHECK(slurp(f.out_file) == "37\n0\n100\n");  // ulimit -f counts 512-byte blocks
}

TEST_CASE("seatbelt launcher: with a terminal the command gets a new pty of its own, relayed") {
    Fixture f;
    int master = -1, slave = -1;
    REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
    struct termios before {};
    REQUIRE(::tcgetattr(slave, &before) == 0);
    Io io;
    io.in = io.out = io.err = slave;
    io.tty = true;
    const Outcome out =
        f.run(f.plan("test -t 0 && test -t 1 && test -t 2 && tty > \"$OUT\" && echo relayed"), io);
    CHECK(out.exit_code == 0);
    const std::string tty = slurp(f.out_file);
    CHECK(tty.starts_with("/dev/pts/"));
    CHECK(tty != std::string(::ttyname(slave)) + "\n");  // not the user's terminal
    // What the command wrote reached the user's terminal through the relay.
    std::string got;
    char buf[256];
    struct pollfd p {master, POLLIN, 0};
    while (::poll(&p, 1, 200) > 0) {
        const ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    CHECK(got.find("relayed") != std::string::npos);
    // The user's terminal is back in its own mode.
    struct termios after {};
    REQUIRE(::tcgetattr(slave, &after) == 0);
    CHECK(after.c_lflag == before.c_lflag);
    CHECK(after.c_iflag == before.c_iflag);
    CHECK(after.c_oflag == before.c_oflag);
    ::close(master);
    ::close(slave);
}

TEST_CASE("seatbelt launcher: without a terminal the command has agentbox's descriptors") {
    Fixture f;
    Io io;
    const int out_fd = ::open(f.out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(out_fd >= 0);
    const int in_fd = ::open("/dev/null", O_RDONLY);
    io.in = in_fd;
    io.out = out_fd;
    const Outcome out = f.run(f.plan("test -t 0 || echo plain"), io);
    ::close(out_fd);
    ::close(in_fd);
    CHECK(out.exit_code == 0);
    CHECK(slurp(f.out_file) == "plain\n");
}

TEST_CASE("seatbelt launcher: a missing sandbox-exec fails closed with 125, nothing run") {
    Fixture f;
    // Under a deep directory: the error names the whole path (a 64-byte report cut it off).
    const std::string missing = f.dir.path() + "/" + std::string(120, 'd') + "/missing";
    const Outcome out = f.run(f.plan("echo ran > \"$OUT\""), {}, missing);
    CHECK(out.exit_code == 125);
    CHECK_FALSE(out.started);
    CHECK_MESSAGE(out.error.find(missing) != std::string::npos, out.error);
    CHECK_FALSE(f.saw("exec"));
    CHECK_FALSE(std::filesystem::exists(f.out_file));
}

TEST_CASE("seatbelt launcher: the sandbox program is never looked up in PATH") {
    Fixture f;
    CHECK_THROWS_AS(f.run(f.plan("true"), {}, "sandbox-exec"), std::invalid_argument);
}

TEST_CASE("seatbelt launcher: in proxy mode the proxy serves the one port the profile allows, "
          "and refuses a local process without the run's credential (407)") {
    Fixture f;
    // The command asks the proxy for a host no rule allows, with the credential of its proxy
    // variables: the proxy answers (403), which proves it runs on the port the command was
    // given; the profile names that port only. Without the credential (any other process on
    // the host that found the port) it answers 407.
    policy::Plan p = f.plan(
        "echo \"$HTTPS_PROXY\" > \"$OUT\"; python3 -c '"
        "import base64, os, socket, urllib.parse as u\n"
        "a = u.urlsplit(os.environ[\"HTTPS_PROXY\"])\n"
        "cred = base64.b64encode((u.unquote(a.username) + \":\" + u.unquote(a.password)).encode())\n"
        "for auth in (b\"\", b\"Proxy-Authorization: Basic \" + cred + b\"\\r\\n\"):\n"
        "  s = socket.create_connection((a.hostname, a.port), timeout=10)\n"
        "  s.sendall(b\"CONNECT denied.example:443 HTTP/1.1\\r\\nHost: denied.example:443\\r\\n\" + auth + b\"\\r\\n\")\n"
        "  print(s.recv(100).split(b\"\\r\\n\")[0].decode())' >> \"$OUT\"");
    p.net.mode = profile::NetMode::proxy;
    p.net.proxy_port = 3128;  // the Linux in-namespace port, which must not appear here
    p.limits = {limit("timeout", 30000, policy::Mechanism::supervisor)};  // never hangs
    for (const char* n : {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"})
        p.env.push_back({n, "http://127.0.0.1:3128", "network.mode \"proxy\""});
    const Outcome out = f.run(p);
    CHECK(out.exit_code == 0);
    const std::string text = slurp(f.out_file);
    CAPTURE(text);
    const auto nl = text.find('\n');
    REQUIRE(nl != std::string::npos);
    const std::string url = text.substr(0, nl);
    // http://agentbox:TOKEN@127.0.0.1:PORT, a token of this run only
    REQUIRE(url.starts_with("http://agentbox:"));
    const auto at = url.find('@');
    REQUIRE(at != std::string::npos);
    CHECK(url.substr(16, at - 16).size() == 32);
    REQUIRE(url.substr(at + 1).starts_with("127.0.0.1:"));
    const std::string port = url.substr(at + 1 + std::string("127.0.0.1:").size());
    CHECK(port != "3128");
    CHECK(text.substr(nl + 1) ==
          "HTTP/1.1 407 Proxy Authentication Required\nHTTP/1.1 403 Forbidden\n");
    // Nothing the run reports carries the token.
    const std::string token = url.substr(16, at - 16);
    for (const auto& e : f.events)
        for (const auto& [k, v] : e.fields) CHECK(v.find(token) == std::string::npos);
    CHECK(f.saw("decision"));
    const std::string sb = slurp(f.dir.path() + "/profile.sb");
    CHECK(sb.find("(allow network-outbound (remote tcp \"localhost:" + port + "\"))") !=
          std::string::npos);
    CHECK(sb.find("3128") == std::string::npos);
}

TEST_CASE("seatbelt launcher: an ask verdict is put to the approver, not silently denied") {
    Fixture f;
    // The command asks for a host that no rule lists (unlisted = ask), with its credential.
    policy::Plan p = f.plan(
        "python3 -c '"
        "import base64, os, socket, urllib.parse as u\n"
        "a = u.urlsplit(os.environ[\"HTTPS_PROXY\"])\n"
        "cred = base64.b64encode((a.username + \":\" + a.password).encode())\n"
        "s = socket.create_connection((a.hostname, a.port), timeout=10)\n"
        "s.sendall(b\"CONNECT asked.example:443 HTTP/1.1\\r\\nHost: asked.example:443\\r\\n\""
        " + b\"Proxy-Authorization: Basic \" + cred + b\"\\r\\n\\r\\n\")\n"
        "print(s.recv(400).decode())' > \"$OUT\"");
    p.net.mode = profile::NetMode::proxy;
    p.net.unlisted = profile::Unlisted::ask;
    p.limits = {limit("timeout", 30000, policy::Mechanism::supervisor)};
    for (const char* n : {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"})
        p.env.push_back({n, "http://127.0.0.1:3128", "network.mode \"proxy\""});
    std::vector<AskRequest> asked;  // on the approver's thread; read after the run
    Io io;
    io.approver = [&asked](const AskRequest& r, int) {
        asked.push_back(r);
        AskAnswer a;
        a.by = "approver";
        a.how = "answered";
        a.reason = "not today";
        return a;
    };
    const Outcome out = f.run(p, io);
    CHECK(out.exit_code == 0);
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].op == "connect");
    CHECK(asked[0].target == "asked.example:443");
    const std::string text = slurp(f.out_file);
    CAPTURE(text);
    CHECK(text.starts_with("HTTP/1.1 403 "));
    CHECK(text.find("denied by the approver: not today") != std::string::npos);
    CHECK(f.saw("approval"));
}
