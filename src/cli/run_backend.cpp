#include "cli/run_backend.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "cli/errors.hpp"
#include "sandbox/bwrap/argv.hpp"
#include "sandbox/bwrap/launch.hpp"
#include "sys/error.hpp"
#include "sys/remove.hpp"

namespace agentbox::cli {

namespace {

// Can bubblewrap make the namespaces a sandbox needs here? A real try, only made when the
// native backend cannot run (auto), so the usual start pays nothing for it.
bool bwrap_works() {
    if (!sandbox::bwrap::probe_version().found()) return false;
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0)
            for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
        const char* args[] = {sandbox::bwrap::kBwrapPath, "--unshare-user", "--unshare-pid",
                              "--unshare-net", "--as-pid-1", "--ro-bind", "/", "/",
                              "--", "/bin/true", nullptr};
        char* envp[] = {nullptr};
        ::execve(args[0], const_cast<char* const*>(args), envp);
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::string choose_backend(const std::string& requested, const policy::HostFacts& facts) {
#ifdef __APPLE__
    // macOS has one backend, Seatbelt (src/sandbox/macos); `auto` is it.
    (void)facts;
    return requested == "auto" ? "seatbelt" : requested;
#endif
    if (requested != "auto") return requested;
    if (facts.userns) return "native";
    if (bwrap_works()) return "bwrap";
    throw Failure(
        "no sandbox backend works here: agentbox cannot create user namespaces "
        "(kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, or on Ubuntu 24.04 "
        "and later an AppArmor profile that allows agentbox `userns`), and bubblewrap (" +
            std::string(sandbox::bwrap::kBwrapPath) +
            ") is missing or cannot either; `agentbox doctor` shows what is missing",
        exit_setup);
}

std::unique_ptr<sandbox::Backend> make_backend(const std::string& name) {
#ifdef __APPLE__
    if (name == "seatbelt") return sandbox::make_seatbelt();
#endif
    if (name == "bwrap") return sandbox::make_bwrap();
    return sandbox::make_native();
}

void CopyStaging::before(const policy::Plan& plan, const stage::Session& session,
                         sandbox::StageDirs& dirs) {
    if (plan.staging != policy::Staging::copy) return;
    snap_ = stage::make_snapshot(plan.project, session.dir() + "/snapshot");
    dirs.snapshot = snap_->dir;
}

void CopyStaging::after(const stage::Session& session) {
    if (!snap_) return;
    stage::materialise(*snap_, session.upper());
    stage::discard_snapshot(snap_->dir);
    snap_.reset();
}

}  // namespace agentbox::cli
