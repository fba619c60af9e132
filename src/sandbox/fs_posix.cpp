#include "sandbox/fs_posix.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "util/strings.hpp"

namespace agentbox::sandbox::posix {

policy::PathKind path_kind(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) return policy::PathKind::missing;
    if (S_ISDIR(st.st_mode)) return policy::PathKind::dir;
    if (S_ISREG(st.st_mode)) return policy::PathKind::file;
    if (S_ISLNK(st.st_mode)) return policy::PathKind::symlink;
    return policy::PathKind::other;
}

std::string real_path(const std::string& path) {
    char* r = ::realpath(path.c_str(), nullptr);
    if (!r) return {};
    std::string s(r);
    std::free(r);
    return s;
}

std::string read_link(const std::string& path) {
    std::string buf(256, '\0');
    for (;;) {
        const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
        if (n < 0) return {};
        if (static_cast<std::size_t>(n) < buf.size()) return buf.substr(0, static_cast<std::size_t>(n));
        buf.resize(buf.size() * 2);
    }
}

namespace {

// Every entry below `dir` down to `depth` more levels (unbounded when negative) whose path
// matches `pattern`. Directories are descended into only when lstat says they are ones.
void walk(const std::string& dir, const std::string& pattern, int depth,
          std::vector<std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> subs;
    while (const struct dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string path = dir == "/" ? "/" + name : dir + "/" + name;
        if (util::glob_match(pattern, path)) out.push_back(path);
        if (depth != 1 && path_kind(path) == policy::PathKind::dir) subs.push_back(path);
    }
    ::closedir(d);
    for (const auto& s : subs) walk(s, pattern, depth < 0 ? depth : depth - 1, out);
}

}  // namespace

std::vector<std::string> expand_glob(const std::string& pattern) {
    std::vector<std::string> out;
    if (pattern.empty() || pattern.front() != '/') return out;
    // From the last directory the pattern names literally; as deep as its components below
    // it reach, or all the way down with **.
    std::string base;
    int depth = 0;
    bool in_glob = false;
    for (const auto& part : util::split(pattern, '/')) {
        if (part.empty()) continue;
        if (!in_glob && !util::has_glob(part)) {
            base += "/" + part;
            continue;
        }
        in_glob = true;
        ++depth;
    }
    if (!in_glob) {
        if (path_kind(pattern) != policy::PathKind::missing) out.push_back(pattern);
        return out;
    }
    if (base.empty()) base = "/";
    walk(base, pattern, pattern.find("**") != std::string::npos ? -1 : depth, out);
    std::sort(out.begin(), out.end());
    return out;
}

policy::HostFacts fs_facts() {
    policy::HostFacts f;
    f.uid = ::getuid();
    f.gid = ::getgid();
    f.kind = path_kind;
    f.realpath = real_path;
    f.readlink = read_link;
    f.glob = expand_glob;
    return f;
}

}  // namespace agentbox::sandbox::posix
