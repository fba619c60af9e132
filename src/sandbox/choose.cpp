#include "sandbox/choose.hpp"

#include <algorithm>

#include "sandbox/host.hpp"

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

std::string choose_backend(const std::string& requested, const policy::HostFacts& facts) {
    return requested == "auto" ? auto_backend(facts) : requested;
}

std::string cannot_run_here(const std::string& name) {
    const auto here = platform_backends();
    if (std::find(here.begin(), here.end(), name) != here.end()) return "";
    if (name == "seatbelt")
        return "backend \"seatbelt\" runs on macOS only (it runs the command under "
               "/usr/bin/sandbox-exec); here, --dry-run --backend seatbelt (or --target macos) "
               "shows and checks its plan";
    return "backend \"" + name + "\" runs on Linux only (user namespaces); this system's is \"" +
           (here.empty() ? std::string() : here.front()) + "\"";
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
    // Built everywhere: its check() is the dry run's (`--target macos`) on every system.
    if (name == "seatbelt") return make_seatbelt();
    return make_platform_backend(name);
}

}  // namespace agentbox::sandbox
