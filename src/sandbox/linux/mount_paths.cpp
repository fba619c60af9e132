#include "sandbox/linux/mount_paths.hpp"

namespace agentbox::sandbox::lnx {

std::string host_path(std::string_view plan_path) {
    std::string out(kOldRoot);
    if (plan_path.empty() || plan_path.front() != '/') out += '/';
    out += plan_path;
    if (out.size() > kOldRoot.size() + 1 && out.back() == '/') out.pop_back();
    return out;
}

bool in_build_dir(std::string_view plan_path) {
    // Repeated slashes are a path the Plan would not hold (compile normalizes), but the kernel
    // reads them as one: compare what the kernel would open.
    std::size_t i = 0;
    while (i < plan_path.size() && plan_path[i] == '/') ++i;
    if (i == 0) return false;
    const std::string_view first = plan_path.substr(i, plan_path.find('/', i) - i);
    return first == kBuildDir.substr(1);
}

bool path_components(std::string_view path, std::vector<std::string>& out) {
    out.clear();
    if (path.empty() || path.front() != '/') return false;
    std::size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) {
            std::string_view c = path.substr(i, j - i);
            if (c == "." || c == "..") return false;
            out.emplace_back(c);
        }
        i = j;
    }
    return true;
}

const char* tmpfs_mode(std::string_view target, std::string_view home) {
    if (target == "/tmp" || target == "/var/tmp" || target == "/dev/shm") return "1777";
    if (!home.empty() && target == home) return "0700";
    return "0755";
}

std::string overlay_escape(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    for (char c : path) {
        if (c == '\\' || c == ':' || c == ',') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace agentbox::sandbox::lnx
