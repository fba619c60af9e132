#include "cli/own_dirs.hpp"

#include <string>

#include "stage/session.hpp"
#include "sys/dirs.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

profile::Profile own_dirs_layer(bool create) {
    profile::Profile layer;
    const profile::Source src{"<agentbox>", 0, 0};
    for (const std::string& dir :
         {stage::state_dir(), stage::config_dir(), stage::cache_dir()}) {
        const std::string path = util::normalize_path(dir);
        if (create) sys::make_dirs(path);
        layer.filesystem.deny.push_back(
            profile::Entry{path, "agentbox's own directory " + path, src});
    }
    return layer;
}

}  // namespace agentbox::cli
