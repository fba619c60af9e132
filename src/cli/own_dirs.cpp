#include "cli/own_dirs.hpp"

#include <string>

#include "stage/session.hpp"
#include "sys/dirs.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

std::vector<std::string> own_dir_paths() {
    std::vector<std::string> out;
    for (const std::string& dir : {stage::state_dir(), stage::config_dir(), stage::cache_dir()})
        out.push_back(util::normalize_path(dir));
    return out;
}

profile::Profile own_dirs_layer(bool create) {
    profile::Profile layer;
    const profile::Source src{"<agentbox>", 0, 0};
    for (const std::string& path : own_dir_paths()) {
        if (create) sys::make_dirs(path);
        layer.filesystem.deny.push_back(
            profile::Entry{path, "agentbox's own directory " + path, src});
    }
    return layer;
}

}  // namespace agentbox::cli
