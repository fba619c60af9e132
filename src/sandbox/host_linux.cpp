// sandbox/host.hpp on Linux: the probe, doctor and parent-death signal of linux/, the seccomp
// filter's names and digest, bubblewrap's init and overlay, and the choice between the native
// and the bubblewrap backend. Above linux/ and bwrap/ (it uses both), as choose.cpp is; never in
// the macOS build (cmake/macos/sources.cmake), whose host is host_macos.cpp.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string_view>

#include "sandbox/bwrap/argv.hpp"
#include "sandbox/bwrap/launch.hpp"
#include "sandbox/choose.hpp"
#include "sandbox/host.hpp"
#include "sandbox/linux/hardening.hpp"
#include "seccomp/rules.hpp"

namespace agentbox::sandbox {

policy::HostFacts probe_host(const std::string& cache_dir) { return lnx::probe_host(cache_dir); }
policy::HostFacts probe_host() { return lnx::probe_host(); }
policy::HostFacts fs_facts() { return lnx::fs_facts(); }

std::vector<Feature> doctor(const policy::HostFacts& facts) {
    std::vector<Feature> out;
    for (auto& f : lnx::doctor(facts))
        out.push_back({std::move(f.name), f.ok, std::move(f.detail), std::move(f.fix), f.required});
    return out;
}

bool die_with_parent(std::string& /*unsupported: Linux has PR_SET_PDEATHSIG*/) {
    return lnx::die_with_parent();
}

void check_syscall_names(const policy::Plan& plan) {
    seccomp::check_names(seccomp::rules_for(plan.seccomp));
}

Prepared filter_record(const policy::Plan& plan) {
    const seccomp::RuleSet rules = seccomp::rules_for(plan.seccomp);
    return {seccomp::digest(rules), rules.rules.size()};
}

int helper_main(int argc, char** argv) {
    // agentbox as the init of a sandbox bubblewrap built (--backend bwrap): no command line.
    if (argc >= 2 && std::string_view(argv[1]) == bwrap::kInitArg)
        return bwrap::init_main(argc, argv);
    return -1;
}

bool bwrap_overlay() { return bwrap::probe_overlay(); }

bool bwrap_works() {
    if (!bwrap::probe_version().found()) return false;
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0)
            for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
        const char* args[] = {kBwrapPath, "--unshare-user", "--unshare-pid",
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

std::vector<std::string> platform_backends() { return {"native", "bwrap"}; }

std::string auto_backend(const policy::HostFacts& facts) {
    if (facts.userns) return "native";
    if (bwrap_works()) return "bwrap";
    // Under `run`, main turns it into a setup failure (125) with this message.
    throw std::runtime_error(
        "no sandbox backend works here: agentbox cannot create user namespaces "
        "(kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, or on Ubuntu 24.04 "
        "and later an AppArmor profile that allows agentbox `userns`), and bubblewrap (" +
        std::string(kBwrapPath) + ") is missing or cannot either; `agentbox doctor` shows what "
        "is missing");
}

std::unique_ptr<Backend> make_platform_backend(const std::string& name) {
    if (name == "native") return make_native();
    if (name == "bwrap") return make_bwrap();
    throw std::invalid_argument("backend \"" + name + "\" is not a backend of this system");
}

}  // namespace agentbox::sandbox
