#include "profile/trust.hpp"

#include <cerrno>
#include <cstring>

#include "profile/file.hpp"
#include "profile/load.hpp"
#include "util/own_dirs.hpp"
#include "util/strings.hpp"

namespace agentbox::profile {

std::string config_dir(const Context& ctx) {
    const auto it = ctx.environ.find(util::xdg_variable(util::OwnDir::config));
    return util::own_dir(util::OwnDir::config,
                         it != ctx.environ.end() ? std::string_view(it->second) : "", ctx.home);
}

bool project_trusted(const Context& ctx) {
    if (ctx.project.empty()) return false;
    const std::string dir = config_dir(ctx);
    if (dir.empty()) return false;
    const std::string project = util::normalize_path(ctx.project);
    // A trust list inside the project would be written by the very code it is meant to keep
    // out.
    if (util::path_within(dir, project)) return false;
    const std::string file = dir + "/trusted-projects";
    std::string text;
    if (const int err = read_small_file(file, 1 << 20, text); err != 0) {
        if (err == ENOENT || err == ENOTDIR) return false;
        throw ProfileError(Source{file}, std::string("cannot read the trust list: ") +
                                             std::strerror(err));
    }
    for (const std::string& line : util::split(text, '\n')) {
        std::string_view entry = util::trim(line);
        if (entry.empty() || entry.front() == '#') continue;
        // Only absolute paths: a relative one would depend on where agentbox was started.
        if (entry.front() != '/') continue;
        if (util::normalize_path(entry) == project) return true;
    }
    return false;
}

}  // namespace agentbox::profile
