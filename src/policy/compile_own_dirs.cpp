// The step of policy::compile() that keeps agentbox's own directories out of every grant.
//
// Masking the own directory is not enough on its own: a mask covers a path in the sandbox's
// mount table, and a writable grant of a directory above it (`--rw ~/.local`) lets the command
// rename that directory on the host (`mv ~/.local/state ~/.local/x`), taking the mask with it,
// and build a forged `~/.local/state/agentbox/` in its place. So:
//  - a grant whose host path is an own directory or lies beneath one is refused, naming both
//    (there is no narrower form of it that is not the mask);
//  - a writable grant above one is narrowed: every directory from just below the grant down to
//    the own directory's parent is bound over itself. A mount point cannot be renamed, removed
//    or replaced from inside the mount namespace it is a mount point in (rename(2) and rmdir(2)
//    fail with EBUSY), and the sandbox cannot unmount (no capabilities, seccomp). What the
//    grant gave stays writable: the self-binds are read-write, only immovable. The own
//    directory itself is masked (an immovable mount point too).
// Paths are compared by what they resolve to on the host, so a grant reaching the state
// directory through a symlink is caught as well.
//
// Every other mount under a writable grant has the same weakness: `mv ~/.gem ~/.gem.x` takes
// the mask of ~/.gem/credentials along and `~/.gem/credentials` is the command's own on the
// host; so does moving the directory above a read-only bind. pin_nested_mounts binds the
// directories above each one over themselves in the same way.
#include <algorithm>
#include <stdexcept>

#include "policy/compile_steps.hpp"
#include "util/paths.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

const profile::Source kAgentbox{"<agentbox>", 0, 0};

bool writes_host(MountKind k) { return k == MountKind::bind_rw; }
bool shows_host(MountKind k) {
    return k == MountKind::bind_ro || k == MountKind::bind_rw || k == MountKind::overlay;
}

std::string resolved(const HostFacts& host, const std::string& path) {
    const std::string real = host.realpath(path);
    return real.empty() || real.front() != '/' ? util::normalize_path(path)
                                               : util::normalize_path(real);
}

// `path` relative to `dir` (which contains it), "" when equal.
std::string below(const std::string& path, const std::string& dir) {
    if (path.size() == dir.size()) return "";
    return path.substr(dir == "/" ? 1 : dir.size() + 1);
}

// The deepest mount that shows something at `path` (masks and mount-point dirs aside).
const Mount* deepest(const std::vector<Mount>& mounts, const std::string& path) {
    const Mount* best = nullptr;
    for (const auto& m : mounts) {
        if (m.kind == MountKind::mask_dir || m.kind == MountKind::mask_file ||
            m.kind == MountKind::dir || m.kind == MountKind::symlink)
            continue;
        if (util::path_within(path, m.target) && (!best || m.target.size() >= best->target.size()))
            best = &m;
    }
    return best;
}

bool masked(const std::vector<Mount>& mounts, const std::string& path) {
    return std::any_of(mounts.begin(), mounts.end(), [&](const Mount& m) {
        return (m.kind == MountKind::mask_dir || m.kind == MountKind::mask_file) &&
               util::path_within(path, m.target) && m.target != path;
    });
}

bool has_mount_at(const std::vector<Mount>& mounts, const std::string& target) {
    return std::any_of(mounts.begin(), mounts.end(), [&](const Mount& m) {
        return m.target == target && m.kind != MountKind::dir && m.kind != MountKind::symlink;
    });
}

// The refusal of a grant that reaches own directory `dir`: `shown` as the rule wrote it or the
// sandbox sees it, `real` where it leads on the host.
std::invalid_argument reaches_own_dir(const std::string& rule, const profile::Source& src,
                                      const std::string& shown, const std::string& real,
                                      const std::string& dir) {
    return std::invalid_argument(rule + " (" + src.str() + "): " + util::quote(shown) +
                                 (real == shown ? "" : " (" + util::quote(real) + ")") +
                                 (real == dir ? " is" : " is inside") +
                                 " agentbox's own directory " + util::quote(dir) +
                                 ", which no sandbox may see");
}

// Binds each directory between writable grant `m` and `rel` below it (`rel` itself not) over
// itself, into `added`: a mount point cannot be renamed, removed or replaced from inside the
// mount namespace it is one in (EBUSY), so what lies below stays where the plan put it. Only
// where `m` is what shows the directory: a deeper mount is a mount point already, or is
// read-only, or is another grant judged on its own. Returns the directories, quoted.
std::vector<std::string> pin_between(const std::vector<Mount>& mounts, const Mount& m,
                                     const std::string& rel, const std::string& rule,
                                     const profile::Source& src, std::vector<Mount>& added) {
    std::vector<std::string> pinned;
    std::size_t pos = 0;
    while ((pos = rel.find('/', pos)) != std::string::npos) {
        const std::string sub = rel.substr(0, pos++);
        const std::string target = util::path_join(m.target, sub);
        if (deepest(mounts, target) != &m || has_mount_at(mounts, target) ||
            has_mount_at(added, target))
            continue;
        added.push_back(Mount{MountKind::bind_rw,
                              util::path_join(util::normalize_path(m.source), sub), target, rule,
                              src});
        pinned.push_back(util::quote(target));
    }
    return pinned;
}

std::string pinned_text(const std::vector<std::string>& pinned) {
    if (pinned.empty()) return "";
    const bool one = pinned.size() == 1;
    return " and " + util::join(pinned, ", ") + (one ? " is" : " are") + " bound over " +
           (one ? "itself" : "themselves") + " so that the command cannot rename or replace " +
           (one ? "it" : "them");
}

// Parents before children, as the mount list is ordered (mounts.cpp); at equal depth the new
// mounts go after the existing ones, so a self-bind never hides a mount at its depth.
void add_in_order(std::vector<Mount>& mounts, std::vector<Mount>& added) {
    for (auto& a : added) mounts.push_back(std::move(a));
    std::stable_sort(mounts.begin(), mounts.end(), [](const Mount& a, const Mount& b) {
        return util::path_depth(a.target) < util::path_depth(b.target);
    });
}

}  // namespace

void guard_own_dirs(Plan& plan, const std::vector<FsRule>& rules, const Invocation& inv,
                    const HostFacts& host) {
    std::vector<std::string> own;
    for (const auto& d : inv.own_dirs)
        if (!d.empty() && d.front() == '/') own.push_back(resolved(host, d));
    if (own.empty()) return;

    // A grant of an own directory itself loses to its deny rule (deny wins at equal length)
    // and makes no mount; it is still refused, so that nobody believes it was granted.
    for (const FsRule& r : rules) {
        if (r.kind != FsKind::read && r.kind != FsKind::write) continue;
        const std::string real = resolved(host, r.path);
        for (const std::string& dir : own)
            if (util::path_within(real, dir))
                throw reaches_own_dir(r.rule, r.src, r.path, real, dir);
    }

    std::vector<Mount> added;
    std::vector<std::string> notes;
    for (const Mount& m : plan.mounts) {
        if (!shows_host(m.kind) || m.source.empty() || m.source.front() != '/') continue;
        const std::string source = util::normalize_path(m.source);
        for (const std::string& dir : own) {
            if (util::path_within(source, dir))
                throw reaches_own_dir(m.rule, m.src, m.target, source, dir);
            if (!util::path_within(dir, source)) continue;
            // An own directory below this grant: where the sandbox sees it, and the directories
            // between, each of which the grant would let the command move.
            const std::string rel = below(dir, source);
            const std::string inside = util::path_join(m.target, rel);
            // Hidden already by a mask above it: that mask is the immovable mount point.
            if (masked(plan.mounts, inside)) continue;
            if (writes_host(m.kind)) {
                const auto pinned = pin_between(plan.mounts, m, rel,
                                                "implicit: keep " + util::quote(dir) + " in place",
                                                kAgentbox, added);
                notes.push_back(m.rule + " (" + m.src.str() + ") contains agentbox's own " +
                                "directory " + util::quote(dir) + ": narrowed, " +
                                util::quote(inside) + " is masked" + pinned_text(pinned));
            }
            // The mask, wherever this grant shows the directory (the deny rule masks it at its
            // own path; a grant through another path shows it elsewhere too).
            if (host.kind(dir) == PathKind::dir && !has_mount_at(plan.mounts, inside) &&
                !has_mount_at(added, inside))
                added.push_back(Mount{MountKind::mask_dir, "", inside,
                                      "implicit: agentbox's own directory " + util::quote(dir),
                                      kAgentbox});
        }
    }
    if (added.empty() && notes.empty()) return;
    for (auto& n : notes) plan.notes.push_back(std::move(n));
    add_in_order(plan.mounts, added);
}

void pin_nested_mounts(Plan& plan) {
    std::vector<Mount> added;
    for (const Mount& x : plan.mounts) {
        if (x.kind == MountKind::dir || x.kind == MountKind::symlink) continue;
        // The mount that shows x's parent directory: the deepest one strictly above x.
        const Mount* m = nullptr;
        for (const auto& c : plan.mounts)
            if (c.kind != MountKind::dir && c.kind != MountKind::symlink &&
                c.kind != MountKind::mask_dir && c.kind != MountKind::mask_file &&
                c.target != x.target && util::path_within(x.target, c.target) &&
                (!m || c.target.size() >= m->target.size()))
                m = &c;
        if (!m || !writes_host(m->kind)) continue;
        const auto pinned = pin_between(
            plan.mounts, *m, below(x.target, m->target),
            "implicit: keep " + util::quote(x.target) + " (" + x.rule + ") in place", x.src, added);
        if (!pinned.empty())
            plan.notes.push_back(x.rule + " (" + x.src.str() + ") in the writable " +
                                 util::quote(m->target) + ": " + util::quote(x.target) +
                                 " is a mount point" + pinned_text(pinned));
    }
    add_in_order(plan.mounts, added);
}

}  // namespace agentbox::policy
