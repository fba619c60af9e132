#include "policy/fsrules.hpp"

#include <stdexcept>

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
        case FsKind::home: return 2;
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

}  // namespace agentbox::policy
