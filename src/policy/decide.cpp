// policy::decide — "may this happen?" for paths, connections, commits and variables. Every
// answer names the rule that decided and where it was written (DESIGN.md §1).
#include <algorithm>
#include <optional>
#include <stdexcept>

#include "policy/fsrules.hpp"
#include "policy/gitdir.hpp"
#include "policy/hostrules.hpp"
#include "policy/policy.hpp"
#include "policy/requestrules.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

const profile::Source kDefault{"<default>", 0, 0};

Decision make(Verdict v, std::string rule, profile::Source src, std::string reason) {
    return Decision{v, std::move(rule), std::move(src), std::move(reason)};
}

std::string entry_text(const char* field, const profile::Entry& e) {
    return std::string(field) + " " + util::quote(e.raw.empty() ? e.value : e.raw);
}

// What the winning rule means for a path it allows, in one sentence.
std::string meaning(const FsRule& r, bool staged) {
    switch (r.kind) {
        case FsKind::read: return "visible read-only";
        case FsKind::write:
            return staged ? "writable; writes are staged in the session until commit"
                          : "writable; writes go directly to the host";
        case FsKind::tmpfs: return "on an empty tmpfs; writes are thrown away at exit";
        case FsKind::proc: return "the sandbox's own fresh /proc";
        case FsKind::dev: return "the directory of the sandbox's minimal /dev";
        case FsKind::dev_node: return "a device node of the sandbox's minimal /dev";
        case FsKind::home: return "in the empty writable home; writes are thrown away at exit";
        case FsKind::state:
            return "an agent state file: the sandbox writes a copy, saved back at the end unless "
                   "a change needs review";
        case FsKind::deny: break;
    }
    return "denied";
}

// The commit.protect entry whose top (.git of .git/hooks/**) contains `real` in the writable
// root of `r`, a root written directly: compile() binds that top read-only when it exists.
const profile::Entry* protected_top(const profile::Profile& profile, const FsView& view,
                                    const FsRule& r, const std::string& real,
                                    const HostFacts* host) {
    const std::string& root = view.placed(r);
    if (real == root || !util::path_within(real, root)) return nullptr;
    const std::string rel = util::relative_to(real, root);
    const std::string top = rel.substr(0, rel.find('/'));
    for (const auto& e : profile.commit.protect) {
        if (e.value.empty() || e.value.front() == '/') continue;
        if (e.value.substr(0, e.value.find('/')) != top) continue;
        const std::string p = (root == "/" ? "" : root) + "/" + top;
        if (host && host->kind) {
            const PathKind k = host->kind(p);
            if (k == PathKind::missing || k == PathKind::symlink) return nullptr;
        }
        return &e;
    }
    return nullptr;
}

Decision decide_path(const profile::Profile& profile, Op op, const std::string& target,
                     const std::string& project, const std::string& home,
                     const HostFacts* host) {
    if (target.empty() || target.front() != '/')
        return make(Verdict::deny, "path check", kDefault,
                    util::quote(target) + " is not an absolute path");
    const std::string path = util::normalize_path(target);
    const auto rules = effective_fs_rules(profile, home);
    // Decided on what the kernel will resolve (every symlink followed), as compile() mounts.
    const FsView view(rules, host);
    const FsVerdict v = view.decide(path);
    const std::string via = v.real != path ? " (it resolves to " + util::quote(v.real) + ")" : "";
    if (!v.rule)
        return make(Verdict::deny, "default deny", kDefault,
                    "no filesystem rule grants " + util::quote(path) + via +
                        "; it is not visible");
    const FsRule& r = *v.rule;
    if (r.kind == FsKind::deny)
        return make(Verdict::deny, r.rule, r.src,
                    "denied: invisible inside the sandbox" + via);

    // "Staged" only when the project itself is writable (compile() overlays it then) and the
    // path is under it through a write rule.
    bool staged = false;
    if (!project.empty() && util::path_within(v.real, util::normalize_path(project)) &&
        r.kind == FsKind::write) {
        FsMatch pm = best_fs_rule(rules, util::normalize_path(project));
        staged = pm.rule && pm.rule->kind == FsKind::write;
    }

    if (op == Op::write && !is_writable(r.kind))
        return make(Verdict::deny, r.rule, r.src, "read-only: " + meaning(r, staged));
    if (op == Op::write && r.kind == FsKind::write && !staged)
        if (const profile::Entry* e = protected_top(profile, view, r, v.real, host))
            return make(Verdict::deny, entry_text("commit.protect", *e), e->src,
                        "read-only: writes to " + util::quote(view.placed(r)) +
                            " are not staged, so what commit.protect names there is kept "
                            "read-only");
    if (op != Op::exec || profile.filesystem.exec.empty())
        return make(Verdict::allow, r.rule, r.src, meaning(r, staged));

    // An exec allowlist: only paths under one of its entries, and only if they are readable.
    const profile::Entry* best = nullptr;
    std::size_t best_len = 0;
    for (const auto& e : profile.filesystem.exec) {
        if (e.value.empty() || e.value.front() != '/')
            throw std::invalid_argument(e.src.str() + ": filesystem.exec " +
                                        util::quote(e.raw) + ": not an absolute path");
        std::string ep = util::normalize_path(e.value);
        if (util::path_within(path, ep) && ep.size() > best_len) {
            best = &e;
            best_len = ep.size();
        }
    }
    if (!best)
        return make(Verdict::deny, "filesystem.exec", profile.filesystem.exec.front().src,
                    "not under any filesystem.exec entry; execution is limited to those");
    return make(Verdict::allow, entry_text("filesystem.exec", *best), best->src,
                "executable; " + meaning(r, staged) + " (" + r.rule + ")");
}

// connect() to a unix socket at a host path (issue 18 #8), as the supervisor decides it in
// the run (sandbox/linux/unix_connect.hpp): only a socket a write grant names itself is
// connectable. A host socket in the staged project is not reached either: the overlay shows
// its own inode, which no host server listens on. Sockets the command makes are not host
// paths, and not asked about here.
Decision decide_socket(const profile::Profile& profile, const std::string& target,
                       const std::string& project, const std::string& home,
                       const HostFacts* host) {
    Decision d = decide_path(profile, Op::write, target, project, home, host);
    if (d.verdict != Verdict::allow) {
        const Decision r = decide_path(profile, Op::read, target, project, home, host);
        if (r.verdict != Verdict::allow) return r;
        return make(Verdict::deny, r.rule, r.source,
                    "the socket is visible but read-only; connecting needs a write path naming "
                    "the socket file itself");
    }
    const auto rules = effective_fs_rules(profile, home);
    const FsView view(rules, host);
    const FsVerdict v = view.decide(util::normalize_path(target));
    if (v.rule == nullptr || view.placed(*v.rule) != v.real)
        return make(Verdict::deny, d.rule, d.source,
                    "a grant of a directory does not extend to the unix sockets in it; a write "
                    "path must name the socket file itself");
    if (!project.empty() && util::path_within(v.real, util::normalize_path(project)))
        return make(Verdict::deny, d.rule, d.source,
                    "in the staged project: the command sees its own copy, which no host server "
                    "listens on");
    return make(Verdict::allow, d.rule, d.source,
                "a write path names this socket file: connectable");
}

// The directory part of a glob before its first wildcard ("x/y/**" -> "x/y"); the whole
// pattern when it has none; "" when the wildcard is in the first component ("**/x").
std::string literal_prefix(const std::string& pattern) {
    auto g = pattern.find_first_of("*?[");
    if (g == std::string::npos) return pattern;
    auto slash = pattern.rfind('/', g);
    return slash == std::string::npos ? std::string() : pattern.substr(0, slash);
}

// A protect glob covers a change to `path` when it matches the path or an ancestor of it, or
// when `path` is a directory above everything the glob names: replacing or deleting `.git`
// changes `.git/hooks/**` too. Views, never copies: the review asks this for every change
// against every pattern, at every depth of a tree a command made as deep as it liked.
bool covers_here(std::string_view pattern, std::string_view path) {
    if (pattern.find("**") == std::string_view::npos) {
        // Without `**` the glob matches only a path of as many components as it has (`*` and
        // `?` never match a '/'): of the path and its ancestors, one can match.
        const auto slashes = std::count(pattern.begin(), pattern.end(), '/');
        std::ptrdiff_t seen = 0;
        std::size_t end = 0;
        for (; end < path.size(); ++end)
            if (path[end] == '/' && seen++ == slashes) break;
        if (seen >= slashes && end != 0 && util::glob_match(pattern, path.substr(0, end), true))
            return true;
    } else {
        for (std::string_view p = path;;) {
            if (util::glob_match(pattern, p, true)) return true;
            const auto slash = p.rfind('/');
            if (slash == std::string_view::npos || slash == 0) break;
            p = p.substr(0, slash);
        }
    }
    const std::string lp = literal_prefix(std::string(pattern));
    return !lp.empty() && util::path_within(lp, path);
}

// Where a relative pattern applies: at the root of every repository in the project, because
// that is where git, CI, editors and hook managers look: the project root, each directory
// holding a `.git` (`roots`, which the caller found), and each directory above a `.git`
// component of the path itself. A pattern that starts with `**/` applies at every depth, for
// the tools that look in every directory (direnv, cargo, npm, agents). An absolute pattern
// names one place.
bool protect_covers(const std::string& pattern, const std::string& path, bool absolute,
                    const std::vector<std::string>& roots) {
    if (path == "." || path == "/") return true;
    if (absolute) return covers_here(pattern, path);
    const std::string_view whole(path);
    if (pattern.starts_with("**/")) {
        const std::string_view rest = std::string_view(pattern).substr(3);
        // At every component: linear in the depth when `rest` holds no `**` (covers_here
        // looks at one ancestor of each suffix), not quadratic in it.
        for (std::size_t from = 0;;) {
            if (covers_here(rest, whole.substr(from))) return true;
            const std::size_t slash = path.find('/', from);
            if (slash == std::string::npos) return false;
            from = slash + 1;
        }
    }
    if (covers_here(pattern, path)) return true;
    auto at_root = [&](std::string_view root) {
        return !root.empty() && path.size() > root.size() + 1 && util::path_within(path, root) &&
               covers_here(pattern, whole.substr(root.size() + 1));
    };
    if (std::any_of(roots.begin(), roots.end(), at_root)) return true;
    for (std::size_t at = path.find("/.git"); at != std::string::npos;
         at = path.find("/.git", at + 1)) {
        const std::size_t end = at + 5;
        if ((end == path.size() || path[end] == '/') && at_root(whole.substr(0, at))) return true;
    }
    return false;
}

const profile::Source kGitRule{"<built-in: git directories>", 0, 0};

// The first name of `names` (project-relative) that a protect rule or the git-directory
// allowlist covers, as the decision that asks; nullopt when none does.
std::optional<Decision> protection(const profile::Profile& profile, const std::string& proj,
                                   const std::vector<std::string>& names,
                                   const CommitFacts& facts) {
    const std::string& rel = names.front();
    for (const auto& name : names) {
        const std::string via =
            name == rel ? std::string() : " (reached as " + util::quote(name) + ")";
        const std::string abs = util::normalize_path(proj + "/" + name);
        // Also with both sides in ASCII lower case: on a case-insensitive project (macOS's
        // and Windows's defaults, where the copy strategy commits) `.VSCode/tasks.json` is
        // `.vscode/tasks.json`, and the commit's lookup lands it there. On Linux such a
        // name only asks once more.
        // (The second look only where either side has an upper-case letter: most names
        // and patterns have none, and the review asks this for every change.)
        const auto has_upper = [](std::string_view v) {
            return std::any_of(v.begin(), v.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
        };
        std::optional<std::vector<std::string>> lroots;
        std::optional<std::string> lname, labs;
        const bool name_upper = has_upper(name), abs_upper = has_upper(abs);
        for (const auto& e : profile.commit.protect) {
            const bool absolute = !e.value.empty() && e.value.front() == '/';
            const std::string pattern = absolute ? util::normalize_path(e.value) : e.value;
            const std::string& path = absolute ? abs : name;
            bool hit = protect_covers(pattern, path, absolute, facts.repo_roots);
            const bool pattern_upper = has_upper(pattern);
            if (!hit && (pattern_upper || (absolute ? abs_upper : name_upper))) {
                if (!lroots) {
                    lroots.emplace();
                    for (const auto& r : facts.repo_roots) lroots->push_back(util::to_lower(r));
                }
                auto& lpath = absolute ? labs : lname;
                if (!lpath) lpath = util::to_lower(path);
                hit = protect_covers(pattern_upper ? util::to_lower(pattern) : pattern, *lpath,
                                     absolute, *lroots);
            }
            if (hit)
                return make(Verdict::ask, entry_text("commit.protect", e), e.src,
                            util::quote(rel) + via +
                                " is protected: it needs an explicit approval");
        }
        if (auto why = git_dir_protection(name, facts.git_dirs, facts.symlink, facts.rewrite))
            return make(Verdict::ask, "protected git directory", kGitRule,
                        util::quote(rel) + via + ": " + *why + "; it needs an explicit approval");
    }
    return std::nullopt;
}

}  // namespace

Decision decide_commit(const profile::Profile& profile, const std::string& project,
                       const std::string& target, const CommitFacts& facts) {
    if (project.empty() || project.front() != '/')
        throw std::invalid_argument("decide(commit): the project must be an absolute path");
    const std::string proj = util::normalize_path(project);
    const std::string abs = !target.empty() && target.front() == '/'
                                ? util::normalize_path(target)
                                : util::normalize_path(proj + "/" + target);
    if (target.empty() || !util::path_within(abs, proj))
        return make(Verdict::deny, "commit: outside the project", kDefault,
                    util::quote(target) + " resolves to " + util::quote(abs) +
                        ", outside the project " + util::quote(proj));
    const std::string rel = util::relative_to(abs, proj);

    // Deny before protect: a path the sandbox must not see is never committed, approval or not.
    const auto rules = effective_fs_rules(profile, "");
    const FsMatch m = best_fs_rule(rules, abs);
    if (m.rule && m.rule->kind == FsKind::deny)
        return make(Verdict::deny, m.rule->rule, m.rule->src,
                    util::quote(rel) + " is inside a denied path");

    // Protected when any name the project reaches the path by is: `.codex -> decoy` makes
    // `decoy/config.toml` the agent's config as surely as `.codex/config.toml`.
    std::vector<std::string> names{rel};
    for (const auto& a : facts.aliases) {
        const std::string n = util::normalize_path(a);
        if (!n.empty() && n != "." && !n.starts_with("../") && n.front() != '/') names.push_back(n);
    }
    if (auto d = protection(profile, proj, names, facts)) return *d;
    return make(Verdict::allow, "commit", kDefault,
                util::quote(rel) + " is inside the project and not protected");
}

namespace {

Decision decide_env(const profile::Profile& profile, const std::string& name) {
    const auto& env = profile.env;
    if (name.empty() || name.find('=') != std::string::npos)
        return make(Verdict::deny, "env name", kDefault,
                    util::quote(name) + " is not a variable name");
    if (auto it = env.set.find(name); it != env.set.end())
        return make(Verdict::allow, "env.set " + util::quote(name), it->second.src,
                    "set by the profile (the host's value is not used)");
    // Precedence: exact deny > exact pass > deny pattern > pass pattern. The exact pass beats a
    // pattern so an agent profile can pass ANTHROPIC_API_KEY although base denies *_KEY.
    auto find = [&](const std::vector<profile::Entry>& list, bool glob) -> const profile::Entry* {
        // The exact comparison first: it rules out almost every entry without a look for
        // glob characters.
        for (const auto& e : list)
            if (glob ? util::has_glob(e.value) && util::glob_match(e.value, name, false)
                     : e.value == name && !util::has_glob(e.value))
                return &e;
        return nullptr;
    };
    if (const auto* e = find(env.deny, false))
        return make(Verdict::deny, entry_text("env.deny", *e), e->src, "never passed");
    if (const auto* e = find(env.pass, false))
        return make(Verdict::allow, entry_text("env.pass", *e), e->src, "passed from the host");
    if (const auto* e = find(env.deny, true))
        return make(Verdict::deny, entry_text("env.deny", *e), e->src,
                    "matches a deny pattern; never passed");
    if (const auto* e = find(env.pass, true))
        return make(Verdict::allow, entry_text("env.pass", *e), e->src, "passed from the host");
    return make(Verdict::deny, "default deny", kDefault, "not listed in env.pass");
}

}  // namespace

Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project) {
    return decide(profile, request, project, "");
}

Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project, const std::string& home) {
    return decide(profile, request, project, home, nullptr);
}

Decision decide(const profile::Profile& profile, const Request& request,
                const std::string& project, const std::string& home, const HostFacts* host) {
    switch (request.op) {
        case Op::read:
        case Op::write:
        case Op::exec:
            return decide_path(profile, request.op, request.target, project, home, host);
        case Op::connect:
            if (!request.target.empty() && request.target.front() == '/')
                return decide_socket(profile, request.target, project, home, host);
            return decide_connect(make_net_plan(profile.network), request.target);
        case Op::commit: return decide_commit(profile, project, request.target, CommitFacts{});
        case Op::env: return decide_env(profile, request.target);
        case Op::request: return decide_request_url(make_net_plan(profile.network), request.target);
    }
    return make(Verdict::deny, "default deny", kDefault, "unknown operation");
}

}  // namespace agentbox::policy
