// The macOS conformance subset (ctest `conformance.seatbelt`, .github/workflows/macos.yml):
// commands launched through the Seatbelt backend as agentbox launches them, each result
// checked from the outside (exit status, the host's files), as tests/conformance does on
// Linux. Written for macOS runners; it has not been run by the people who wrote it (no Mac).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

using namespace agentbox;
using policy::Mount;
using policy::MountKind;

namespace fs = std::filesystem;

namespace {

int failures = 0;

void check(bool ok, const std::string& what, const std::string& detail = "") {
    std::cout << (ok ? "ok    " : "FAIL  ") << what << (ok || detail.empty() ? "" : ": " + detail)
              << "\n";
    if (!ok) ++failures;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Mount mount(MountKind k, std::string source, std::string target, std::string rule) {
    return Mount{k, std::move(source), std::move(target), std::move(rule),
                 profile::Source{"conformance", 1, 1}};
}

struct Env {
    std::string root, project, home, secret;
};

// A Plan as compile() makes one on a Mac for the default profile: the system read-only,
// /tmp and the home private, the project staged, .env denied, no network.
policy::Plan plan_for(const Env& e, std::vector<std::string> argv) {
    policy::Plan p;
    p.argv = std::move(argv);
    p.project = e.project;
    p.cwd = e.project;
    p.home = e.home;
    p.backend = "seatbelt";
    p.staging = policy::Staging::copy;
    p.mounts = {mount(MountKind::dev, "", "/dev", "implicit: minimal /dev"),
                mount(MountKind::tmpfs, "tmpfs", "/private/tmp", "filesystem.tmpfs \"/tmp\""),
                mount(MountKind::symlink, "private/tmp", "/tmp", "filesystem.tmpfs \"/tmp\""),
                mount(MountKind::bind_ro, "/usr", "/usr", "filesystem.read \"/usr\""),
                mount(MountKind::bind_ro, "/bin", "/bin", "filesystem.read \"/bin\""),
                mount(MountKind::bind_ro, "/private/etc", "/private/etc",
                      "filesystem.read \"/etc\""),
                mount(MountKind::symlink, "private/etc", "/etc", "filesystem.read \"/etc\""),
                mount(MountKind::tmpfs, "tmpfs", e.home, "implicit: empty writable home"),
                mount(MountKind::overlay, e.project, e.project, "filesystem.write \"@project\""),
                mount(MountKind::mask_file, "", e.project + "/.env",
                      "filesystem.deny \"@project/.env\"")};
    p.env = {{"PATH", "/usr/bin:/bin", "env.pass \"PATH\""},
             {"HOME", e.home, "implicit: home directory"}};
    return p;
}

struct Result {
    sandbox::Outcome out;
    std::string stdout_text, stderr_text, upper;
};

Result run(const Env& e, const policy::Plan& plan, const std::string& name) {
    Result r;
    const std::string session = e.root + "/sessions/" + name;
    sandbox::StageDirs dirs;
    dirs.upper = session + "/upper";
    dirs.work = session + "/work";
    fs::create_directories(dirs.upper);
    fs::create_directories(dirs.work);
    const std::string out = session + "/stdout", err = session + "/stderr";
    sandbox::Io io;
    io.in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    io.out = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    io.err = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    auto backend = sandbox::make_seatbelt();
    r.out = backend->launch(plan, dirs, io, [](const sandbox::Event&) {});
    ::close(io.in);
    ::close(io.out);
    ::close(io.err);
    r.stdout_text = slurp(out);
    r.stderr_text = slurp(err);
    r.upper = dirs.upper + "/project";
    return r;
}

std::string sh(const Result& r) {
    return "exit " + std::to_string(r.out.exit_code) + " " + r.out.error + " stderr: " +
           r.stderr_text;
}

}  // namespace

int main() {
    char tmpl[] = "/tmp/agentbox-seatbelt-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 2;
    Env e;
    e.root = fs::canonical(tmpl).string();  // /private/tmp/...: Seatbelt matches real paths
    e.project = e.root + "/project";
    e.home = e.root + "/home";
    fs::create_directories(e.project);
    fs::create_directories(e.home + "/.ssh");
    std::ofstream(e.project + "/README") << "readme\n";
    std::ofstream(e.project + "/.env") << "KEY=secret\n";
    e.secret = e.home + "/.ssh/id_ed25519";
    std::ofstream(e.secret) << "private key\n";

    {
        Result r = run(e, plan_for(e, {"/bin/sh", "-c", "cat README && echo new > made"}),
                       "write_in_copy");
        check(r.out.exit_code == 0 && r.stdout_text == "readme\n",
              "the command reads the project and writes in its copy", sh(r));
        check(fs::exists(r.upper + "/made") && !fs::exists(e.project + "/made"),
              "what it wrote is in the copy, not in the project");
    }
    {
        Result r = run(e, plan_for(e, {"/bin/cat", e.project + "/.env"}), "denied_env_project");
        check(r.out.exit_code != 0 && r.stdout_text.empty(),
              "a denied file of the project cannot be read in place", sh(r));
        r = run(e, plan_for(e, {"/bin/cat", ".env"}), "denied_env_copy");
        check(r.out.exit_code != 0 && r.stdout_text.empty(),
              "nor in the copy the command works in", sh(r));
    }
    {
        Result r = run(e, plan_for(e, {"/bin/cat", e.secret}), "home_not_granted");
        check(r.out.exit_code != 0 && r.stdout_text.empty(),
              "the real home is not readable (it is an empty private one)", sh(r));
        r = run(e, plan_for(e, {"/bin/sh", "-c", "echo x > \"$HOME/file\" && echo x > " +
                                                     e.home + "/direct"}),
                "home_write");
        check(!fs::exists(e.home + "/file") && !fs::exists(e.home + "/direct"),
              "writes to $HOME and to the real home do not reach the real home", sh(r));
    }
    {
        Result r = run(e, plan_for(e, {"/bin/cat", "/etc/hosts"}), "etc_real_path");
        check(r.out.exit_code == 0 && !r.stdout_text.empty(),
              "/etc is readable through its real path /private/etc", sh(r));
        r = run(e, plan_for(e, {"/bin/sh", "-c", "echo x > /private/etc/agentbox-test"}),
                "etc_write");
        check(r.out.exit_code != 0 && !fs::exists("/private/etc/agentbox-test"),
              "/etc is not writable", sh(r));
    }
    {
        Result r = run(e, plan_for(e, {"/usr/sbin/sysctl", "-n", "hw.ncpu"}), "sysctl_named");
        check(r.out.exit_code == 0 && !r.stdout_text.empty(), "hw.ncpu can be read", sh(r));
        r = run(e, plan_for(e, {"/usr/sbin/sysctl", "-n", "kern.proc.all"}), "sysctl_other");
        check(r.stdout_text.empty(), "the process table cannot be read with sysctl", sh(r));
    }
    {
        Result r = run(e, plan_for(e, {"/usr/bin/curl", "-sS", "-m", "5", "https://example.com"}),
                       "network_none");
        check(r.out.exit_code != 0, "network none: no connection leaves", sh(r));
    }
    {
        policy::Plan p = plan_for(e, {"/bin/sleep", "10"});
        p.limits = {{"timeout", 500, policy::Mechanism::supervisor,
                     profile::Source{"conformance", 1, 1}}};
        Result r = run(e, p, "timeout");
        check(r.out.timed_out && r.out.exit_code == util::kExitTimeout,
              "the timeout ends the command with 124", sh(r));
    }
    {
        Result r = run(e, plan_for(e, {"/usr/bin/git", "--version"}), "xcrun_shim");
        check(r.out.exit_code == 0 && r.stdout_text.starts_with("git version"),
              "/usr/bin/git (an xcrun shim) runs the developer tools' git", sh(r));
    }
    std::error_code ec;
    fs::remove_all(e.root, ec);
    std::cout << (failures ? "FAILED " : "passed ") << failures << " failure(s)\n";
    return failures ? 1 : 0;
}
