#include "cli/own_dirs.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "stage/session.hpp"
#include "sys/error.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

void make_private_dirs(const std::string& path) {
    std::string at;
    for (const std::string& part : util::split(path, '/')) {
        if (part.empty()) continue;
        at += "/" + part;
        if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST)
            throw sys::SysError("mkdir", at, errno);
    }
}

}  // namespace

profile::Profile own_dirs_layer(bool create) {
    profile::Profile layer;
    const profile::Source src{"<agentbox>", 0, 0};
    for (const std::string& dir :
         {stage::state_dir(), stage::config_dir(), stage::cache_dir()}) {
        const std::string path = util::normalize_path(dir);
        if (create) make_private_dirs(path);
        layer.filesystem.deny.push_back(
            profile::Entry{path, "agentbox's own directory " + path, src});
    }
    return layer;
}

}  // namespace agentbox::cli
