#include "sandbox/choose.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "sandbox/bwrap/launch.hpp"

namespace agentbox::sandbox {

bool lists_overlay(std::string_view help) {
    bool src = false, overlay = false;
    while (!help.empty()) {
        const auto nl = help.find('\n');
        std::string_view line = help.substr(0, nl);
        help = nl == std::string_view::npos ? std::string_view() : help.substr(nl + 1);
        const auto start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos) continue;
        line.remove_prefix(start);
        const std::string_view option = line.substr(0, line.find_first_of(" \t"));
        if (option == "--overlay-src") src = true;
        else if (option == "--overlay") overlay = true;
    }
    return src && overlay;
}

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

std::string choose_backend(const std::string& requested, const policy::HostFacts& facts) {
#ifdef __APPLE__
    // macOS has one backend, Seatbelt (src/sandbox/macos); `auto` is it.
    (void)facts;
    return requested == "auto" ? "seatbelt" : requested;
#else
    if (requested != "auto") return requested;
    if (facts.userns) return "native";
    if (bwrap_works()) return "bwrap";
    // Under `run`, main turns it into a setup failure (125) with this message.
    throw std::runtime_error(
        "no sandbox backend works here: agentbox cannot create user namespaces "
        "(kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, or on Ubuntu 24.04 "
        "and later an AppArmor profile that allows agentbox `userns`), and bubblewrap (" +
        std::string(kBwrapPath) + ") is missing or cannot either; `agentbox doctor` shows what "
        "is missing");
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
#ifdef __APPLE__
    // The only backend the macOS build has (the Linux ones are not compiled there).
    (void)name;
    return make_seatbelt();
#else
    if (name == "bwrap") return make_bwrap();
    return make_native();
#endif
}

}  // namespace agentbox::sandbox
