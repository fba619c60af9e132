#include "policy/fsrules.hpp"

#include <algorithm>
#include <stdexcept>

#include "util/paths.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

const profile::Source kBuiltin{"<builtin>", 0, 0};

// Nodes the backend creates in its minimal /dev (DESIGN.md §4), plus the usual links.
const char* const kDevNodes[] = {"/dev/null", "/dev/zero",  "/dev/full",  "/dev/random",
                                 "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts",
                                 "/dev/shm",  "/dev/fd",    "/dev/stdin", "/dev/stdout",
                                 "/dev/stderr"};

std::string checked_path(const profile::Entry& e, const char* field) {
    if (e.value.empty() || e.value.front() != '/')
        throw std::invalid_argument(e.src.str() + ": filesystem." + field + " " +
                                    util::quote(e.raw.empty() ? e.value : e.raw) +
                                    ": not an absolute path after expansion");
    return util::normalize_path(e.value);
}

std::string rule_text(const profile::Entry& e, const char* field) {
    return std::string("filesystem.") + field + " " + util::quote(e.raw.empty() ? e.value : e.raw);
}

void add_entries(std::vector<FsRule>& out, const std::vector<profile::Entry>& entries,
                 FsKind kind, const char* field) {
    for (const auto& e : entries) {
        std::string path = checked_path(e, field);
        const std::size_t wild = kind == FsKind::deny ? path.find_first_of("*?[") : path.npos;
        const bool glob = wild != path.npos;
        out.push_back(FsRule{kind, std::move(path), rule_text(e, field), e.src, false, glob,
                             glob ? wild : 0});
    }
}

bool names_home(const std::vector<profile::Entry>& entries, const std::string& home) {
    for (const auto& e : entries)
        if (!e.value.empty() && e.value.front() == '/' && util::normalize_path(e.value) == home)
            return true;
    return false;
}

}  // namespace

int strength(FsKind kind) {
    switch (kind) {
        case FsKind::deny: return 3;
        case FsKind::write:
        case FsKind::tmpfs:
        case FsKind::proc:
        case FsKind::dev_node:
        case FsKind::home:
        case FsKind::state: return 2;
        case FsKind::read:
        case FsKind::dev: return 1;
    }
    return 0;
}

bool is_writable(FsKind kind) { return strength(kind) == 2; }

bool is_implicit(FsKind kind) {
    return kind == FsKind::proc || kind == FsKind::dev || kind == FsKind::dev_node ||
           kind == FsKind::home;
}

std::vector<FsRule> effective_fs_rules(const profile::Profile& profile, const std::string& home) {
    const auto& fs = profile.filesystem;
    std::vector<FsRule> out;
    // Implicit rules come first so that, at equal length and strength, they win over an
    // explicit entry for the same path: a `read = ["/dev"]` must not bind the host's /dev.
    out.push_back(FsRule{FsKind::proc, "/proc", "implicit: fresh /proc", kBuiltin, false});
    out.push_back(FsRule{FsKind::dev, "/dev", "implicit: minimal /dev", kBuiltin, true});
    for (const char* node : kDevNodes)
        out.push_back(FsRule{FsKind::dev_node, node, "implicit: minimal /dev", kBuiltin, false});
    std::string h = home.empty() ? std::string() : util::normalize_path(home);
    if (!h.empty() && h != "/" && h.front() == '/' && !names_home(fs.read, h) &&
        !names_home(fs.write, h) && !names_home(fs.tmpfs, h))
        out.push_back(FsRule{FsKind::home, h, "implicit: empty writable home", kBuiltin, false});
    add_entries(out, fs.deny, FsKind::deny, "deny");
    // Before write: a state entry and a write entry for the same file mean a copy, not a bind.
    const std::size_t first_state = out.size();
    add_entries(out, fs.state, FsKind::state, "state");
    for (std::size_t i = first_state; i < out.size(); ++i) out[i].exact = true;
    add_entries(out, fs.write, FsKind::write, "write");
    add_entries(out, fs.tmpfs, FsKind::tmpfs, "tmpfs");
    add_entries(out, fs.read, FsKind::read, "read");
    return out;
}

std::size_t match_length(const FsRule& rule, const std::string& path) {
    if (rule.glob) {
        // The pattern's head, up to its first wildcard, is matched literally: neither the path
        // nor any of its ancestors (its prefixes) can match unless the path starts with it. This
        // rules out almost every pattern at once; a plan asks for every path against every rule.
        const std::string_view pattern = rule.path;
        const std::string_view head = pattern.substr(0, rule.head);
        if (!util::starts_with(path, head)) return 0;
        // Try the path, then each ancestor: the first (longest) match is the most specific.
        std::string_view p = path;
        for (;;) {
            if (p.size() < head.size()) return 0;
            if (util::glob_match(pattern, p, true)) return p.size();
            if (p == "/") return 0;
            const auto slash = p.rfind('/');
            p = slash == 0 ? std::string_view("/") : p.substr(0, slash);
        }
    }
    if (rule.exact) return path == rule.path ? rule.path.size() : 0;
    return util::path_within(path, rule.path) ? rule.path.size() : 0;
}

FsMatch best_fs_rule(const std::vector<FsRule>& rules, const std::string& path) {
    FsMatch best;
    for (const auto& r : rules) {
        std::size_t len = match_length(r, path);
        if (len == 0) continue;
        if (!best.rule || len > best.length ||
            (len == best.length && strength(r.kind) > strength(best.rule->kind))) {
            best.rule = &r;
            best.length = len;
        }
    }
    return best;
}

// ---- resolution ---------------------------------------------------------------------------

namespace {

// Linux gives up after 40 links in one lookup (ELOOP); so do we.
constexpr int kMaxLinks = 40;

void split_into(std::string_view path, std::vector<std::string>& out) {
    std::size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) out.emplace_back(path.substr(i, j - i));
        i = j;
    }
}

std::string parent_dir(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

}  // namespace

ResolvedPath resolve_path(const std::string& path,
                          const std::function<PathKind(const std::string&)>& kind,
                          const std::function<std::string(const std::string&)>& readlink) {
    ResolvedPath out;
    if (path.empty() || path.front() != '/' || !kind || !readlink) {
        out.real = path;
        return out;
    }
    // Components still to walk, last one first, so that a link's text is pushed in front.
    std::vector<std::string> todo;
    split_into(path, todo);
    std::reverse(todo.begin(), todo.end());
    std::string cur = "/";
    bool missing = false;  // below a missing component nothing can be a link
    while (!todo.empty()) {
        std::string c = std::move(todo.back());
        todo.pop_back();
        if (c == ".") continue;
        if (c == "..") {
            cur = parent_dir(cur);
            continue;
        }
        std::string next = util::path_join(cur, c);
        const PathKind k = missing ? PathKind::missing : kind(next);
        if (k == PathKind::missing) missing = true;
        if (k != PathKind::symlink) {
            cur = std::move(next);
            continue;
        }
        std::string text = readlink(next);
        if (text.empty() || static_cast<int>(out.links.size()) >= kMaxLinks) {
            out.ok = false;
            out.real = util::normalize_path(util::path_join(cur, c));
            return out;
        }
        out.links.push_back(SymlinkStep{next, text});
        std::vector<std::string> more;
        split_into(text, more);
        for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_back(std::move(*it));
        if (text.front() == '/') cur = "/";
    }
    out.real = cur;
    return out;
}

FsView::FsView(const std::vector<FsRule>& rules, const HostFacts* host)
    : rules_(rules), host_(host && host->kind && host->readlink ? host : nullptr) {
    placed_.reserve(rules.size());
    for (const auto& r : rules) {
        // The empty home is placed like a grant (a home under /home -> var/home); /proc and
        // /dev are the sandbox's own.
        if (r.glob || (is_implicit(r.kind) && r.kind != FsKind::home)) {
            placed_.push_back(r.path);
            continue;
        }
        ResolvedPath rp = resolve(r.path);
        // A loop is placed where it was written: it grants nothing the kernel can reach.
        placed_.push_back(rp.ok ? rp.real : r.path);
    }
}

ResolvedPath FsView::resolve(const std::string& path) const {
    if (!host_) return ResolvedPath{path, {}, true};
    return resolve_path(path, host_->kind, host_->readlink);
}

const std::string& FsView::placed(const FsRule& rule) const {
    return placed_[static_cast<std::size_t>(&rule - rules_.data())];
}

FsMatch FsView::best_real(const std::string& real) const {
    FsMatch best;
    FsMatch deny;  // the most specific deny, for a grant that came through a link
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const FsRule& r = rules_[i];
        std::size_t len = 0;
        if (r.glob || r.exact) len = match_length(r, real);
        else if (util::path_within(real, placed_[i])) len = placed_[i].size();
        if (len == 0) continue;
        if (r.kind == FsKind::deny && (!deny.rule || len > deny.length)) deny = FsMatch{&r, len};
        if (!best.rule || len > best.length ||
            (len == best.length && strength(r.kind) > strength(best.rule->kind)))
            best = FsMatch{&r, len};
    }
    if (best.rule && best.rule->kind != FsKind::deny && deny.rule &&
        placed(*best.rule) != best.rule->path &&
        !(!deny.rule->glob && util::path_within(best.rule->path, deny.rule->path)))
        return deny;
    return best;
}

FsVerdict FsView::decide(const std::string& path) const {
    FsVerdict v;
    const FsMatch as_written = best_fs_rule(rules_, path);
    const ResolvedPath rp = resolve(path);
    v.real = rp.real;
    v.through_link = !rp.links.empty();
    // A deny of the path as written holds whatever it resolves to: the link itself is hidden.
    if (!as_written.rule || as_written.rule->kind == FsKind::deny) {
        v.rule = as_written.rule;
        return v;
    }
    if (!rp.ok) return v;  // ELOOP, or a link we cannot read: nothing is reached
    v.rule = best_real(rp.real).rule;
    return v;
}

}  // namespace agentbox::policy
