#include "cli/context.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

#include "cli/config.hpp"
#include "cli/errors.hpp"
#include "profile/load.hpp"
#include "sys/error.hpp"
#include "util/strings.hpp"

#if __has_include("profile/trust.hpp")
#include "profile/trust.hpp"
#define AGENTBOX_HAVE_TRUST 1
#endif

extern char** environ;

namespace agentbox::cli {

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        // First definition wins, as getenv() would answer.
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

std::string home_dir(const std::map<std::string, std::string>& env) {
    if (auto it = env.find("HOME"); it != env.end() && !it->second.empty() && it->second[0] == '/')
        return util::normalize_path(it->second);
    // getpwuid_r with a fixed buffer: agentbox is single-threaded here, but there is no reason
    // to use the non-reentrant call.
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
        found->pw_dir != nullptr && found->pw_dir[0] == '/')
        return util::normalize_path(found->pw_dir);
    throw UsageError("cannot find the home directory: HOME is unset and uid " +
                     std::to_string(::getuid()) + " has no passwd entry");
}

std::string current_dir() {
    std::vector<char> buf(PATH_MAX);
    if (::getcwd(buf.data(), buf.size()) == nullptr) throw sys::SysError("getcwd", errno);
    return buf.data();
}

std::string expand_path(std::string_view path, const std::string& cwd, const std::string& home) {
    std::string p(path);
    if (p == "~")
        p = home;
    else if (util::starts_with(p, "~/"))
        p = home + p.substr(1);
    else if (p.empty() || p[0] != '/')
        p = cwd + "/" + p;
    return util::normalize_path(p);
}

std::string git_top_level(const std::string& cwd) {
    std::string dir = util::normalize_path(cwd);
    for (;;) {
        struct stat st {};
        const std::string candidate = (dir == "/" ? std::string() : dir) + "/.git";
        if (::lstat(candidate.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
            return dir;
        if (dir == "/") return {};
        const auto slash = dir.rfind('/');
        dir = slash == 0 ? "/" : dir.substr(0, slash);
    }
}

static std::string canonical_dir(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr) throw sys::SysError("realpath", path, errno);
    std::string out(real);
    std::free(real);
    struct stat st {};
    if (::stat(out.c_str(), &st) != 0) throw sys::SysError("stat", out, errno);
    if (!S_ISDIR(st.st_mode)) throw sys::SysError("project", path, ENOTDIR);
    return out;
}

std::string resolve_project(const std::optional<std::string>& flag, const std::string& cwd,
                            const std::string& home, bool refuse_broad) {
    if (flag) return canonical_dir(expand_path(*flag, cwd, home));
    std::string top = git_top_level(cwd);
    const bool from_git = !top.empty();
    const std::string project = canonical_dir(from_git ? top : cwd);
    if (refuse_broad) {
        std::string home_real;
        if (char* r = ::realpath(home.c_str(), nullptr)) {
            home_real = r;
            std::free(r);
        }
        const bool is_root = project == "/";
        const bool is_home = !home_real.empty() && project == home_real;
        if (is_root || is_home) {
            const std::string what = is_root ? "/" : "the home directory " + project;
            const std::string why = from_git ? "it holds the nearest .git above " + cwd
                                             : "there is no git repository above " + cwd;
            throw UsageError("refusing to use " + what + " as the project (" + why +
                             "): staging all of it is rarely what was meant; name it with -C " +
                             project + " if it is, or run from inside a project");
        }
    }
    return project;
}

profile::Context make_context(const std::string& project, const std::string& cwd,
                              const std::string& home,
                              std::map<std::string, std::string> env) {
    profile::Context ctx;
    ctx.project = project;
    ctx.cwd = cwd;
    ctx.home = home;
    ctx.tmp = "/tmp";
    ctx.environ = std::move(env);
#ifdef AGENTBOX_HAVE_TRUST
    // A profile inside the project is only used when the user trusted it explicitly
    // (~/.config/agentbox/trusted-projects): an agent must not loosen its next run by
    // writing one (DESIGN.md §3).
    ctx.trust_project_profiles = profile::project_trusted(ctx);
#else
    // TODO(lead): wire profile::project_trusted once src/profile/trust.hpp lands. Until then
    // project-local profiles are never trusted, which fails closed.
    ctx.trust_project_profiles = false;
#endif
    ctx.search_path = profile::default_search_path(ctx);
    // Under require_signed_profiles every profile file a command loads is checked against the
    // trusted keys before it is parsed (agentbox-profile(5), SIGNED PROFILES).
    ctx.check_signature = signature_check(load_config(ctx));
    return ctx;
}

}  // namespace agentbox::cli
