#include "profile/search.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "profile/file.hpp"
#include "profile/load.hpp"
#include "profile/summary.hpp"
#include "profile/trust.hpp"
#include "util/strings.hpp"

namespace agentbox::profile {

namespace {

constexpr std::size_t kMaxProfileBytes = 1 << 20;
constexpr const char* kBuiltinPrefix = "<builtin:";

std::string builtin_path(const std::string& name) { return kBuiltinPrefix + name + ">"; }

std::string builtin_name(const std::string& path) {
    return path.substr(std::strlen(kBuiltinPrefix), path.size() - std::strlen(kBuiltinPrefix) - 1);
}

bool is_path(const std::string& s) {
    return s.find('/') != std::string::npos || util::ends_with(s, ".toml");
}

// Names become file names: no separators, no hidden files, nothing a shell would mangle.
bool valid_name(const std::string& s) {
    if (s.empty() || s.front() == '.') return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::string project_profile_dir(const Context& ctx) {
    return ctx.project.empty() ? std::string() : ctx.project + "/.agentbox/profiles";
}

std::vector<std::string> all_names(const Context& ctx) {
    std::vector<std::string> names;
    for (const auto& l : list(ctx)) names.push_back(l.name);
    return names;
}

}  // namespace

bool is_builtin_path(const std::string& path) {
    return util::starts_with(path, kBuiltinPrefix) && util::ends_with(path, ">");
}

const char* builtin_sha256_of(const std::string& path) {
    return is_builtin_path(path) ? builtin_sha256(builtin_name(path)) : nullptr;
}

std::vector<std::string> default_search_path(const Context& ctx) {
    std::vector<std::string> dirs;
    if (ctx.trust_project_profiles && !ctx.project.empty()) dirs.push_back(project_profile_dir(ctx));
    if (const std::string cfg = config_dir(ctx); !cfg.empty()) dirs.push_back(cfg + "/profiles");
    dirs.emplace_back("/etc/agentbox/profiles");
    return dirs;
}

std::vector<std::string> effective_search_path(const Context& ctx) {
    std::vector<std::string> dirs = ctx.search_path.empty() ? default_search_path(ctx)
                                                            : ctx.search_path;
    // Enforced here as well as in default_search_path(): whoever fills ctx.search_path, a
    // directory the sandboxed command could have written is only searched when trusted.
    if (!ctx.trust_project_profiles && !ctx.project.empty()) {
        const std::string project = util::normalize_path(ctx.project);
        std::erase_if(dirs, [&](const std::string& d) {
            return d.empty() || d.front() != '/' || util::path_within(util::normalize_path(d), project);
        });
    }
    return dirs;
}

Located find_profile(const std::string& name_or_path, const Context& ctx,
                     const std::string& from_dir, std::size_t min_rank, const Source& ref) {
    if (is_path(name_or_path)) {
        std::string path = name_or_path;
        if (path.front() != '/' && !from_dir.empty()) path = from_dir + "/" + path;
        path = util::normalize_path(path);
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            throw ProfileError(ref, "profile file " + util::quote(path) + ": " +
                                        std::strerror(errno));
        return Located{path, "", 0};
    }
    if (!valid_name(name_or_path))
        throw ProfileError(ref, "profile name " + util::quote(name_or_path) +
                                    " is not valid (letters, digits, \".\", \"_\" and \"-\"; "
                                    "a path needs a \"/\" or the .toml suffix)");
    const std::vector<std::string> dirs = effective_search_path(ctx);
    for (std::size_t i = min_rank; i < dirs.size(); ++i) {
        const std::string candidate = dirs[i] + "/" + name_or_path + ".toml";
        if (exists(candidate)) return Located{candidate, name_or_path, i};
    }
    if (min_rank <= dirs.size() && builtin_text(name_or_path) != nullptr)
        return Located{builtin_path(name_or_path), name_or_path, dirs.size()};

    std::string message = "profile " + util::quote(name_or_path) + " not found in ";
    for (std::size_t i = min_rank; i < dirs.size(); ++i) message += dirs[i] + ", ";
    message += min_rank <= dirs.size() ? "or the built-in profiles"
                                       : "the rest of the search path";
    const std::string local = project_profile_dir(ctx);
    if (!ctx.trust_project_profiles && !local.empty() &&
        exists(local + "/" + name_or_path + ".toml"))
        message += " (" + local + "/" + name_or_path +
                   ".toml was not used: this project's profiles are not trusted; list it in " +
                   config_dir(ctx) + "/trusted-projects or name the file by path)";
    const std::string near = util::nearest(name_or_path, all_names(ctx));
    if (!near.empty() && near != name_or_path) message += "; did you mean \"" + near + "\"?";
    throw ProfileError(ref, message);
}

std::string locate(const std::string& name_or_path, const Context& ctx) {
    return find_profile(name_or_path, ctx, ctx.cwd, 0, Source{}).path;
}

std::string read_profile(const Located& where, const Source& ref) {
    if (is_builtin_path(where.path)) {
        const char* text = builtin_text(builtin_name(where.path));
        if (text == nullptr) throw ProfileError(ref, "no built-in profile " + where.path);
        return without_comments(text);
    }
    std::string text;
    const int err = read_small_file(where.path, kMaxProfileBytes, text);
    if (err == EINVAL)
        throw ProfileError(ref, "profile file " + util::quote(where.path) +
                                    " is not a regular file");
    if (err == EFBIG)
        throw ProfileError(ref, "profile file " + util::quote(where.path) +
                                    " is larger than 1 MiB");
    if (err != 0)
        throw ProfileError(ref, "profile file " + util::quote(where.path) + ": " +
                                    std::strerror(err));
    return text;
}

std::vector<Listed> list(const Context& ctx) {
    std::vector<Listed> out;
    std::set<std::string> seen;
    for (const std::string& dir : effective_search_path(ctx)) {
        std::error_code ec;
        std::vector<std::string> files;
        // A missing directory is the normal case; an unreadable one just lists nothing.
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            const std::string file = it->path().filename().string();
            if (!util::ends_with(file, ".toml")) continue;
            const std::string name = file.substr(0, file.size() - 5);
            if (valid_name(name)) files.push_back(name);
        }
        std::sort(files.begin(), files.end());
        for (const std::string& name : files) {
            if (!seen.insert(name).second) continue;  // shadowed by an earlier directory
            Listed l{name, dir + "/" + name + ".toml", ""};
            try {
                l.description = read_description(read_profile(Located{l.path, name, 0}, Source{}),
                                                 l.path);
            } catch (const ProfileError& e) {
                l.description = std::string("(invalid: ") + e.what() + ")";
            }
            out.push_back(std::move(l));
        }
    }
    for (const std::string& name : builtin_names()) {
        if (!seen.insert(name).second) continue;
        out.push_back(Listed{name, builtin_path(name),
                             read_description(builtin_text(name), builtin_path(name))});
    }
    std::sort(out.begin(), out.end(),
              [](const Listed& a, const Listed& b) { return a.name < b.name; });
    return out;
}

}  // namespace agentbox::profile
