// The mount list of the Plan (DESIGN.md §4 step 2): one mount per winning filesystem rule, the
// project overlay, masks for denied paths that would otherwise be visible, parents before
// children. Built from the same rule list decide() uses, so each mount is the physical form of
// one answer `agentbox explain` gives.
#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "policy/compile_steps.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

std::string where(const FsRule& r) { return r.rule + " (" + r.src.str() + ")"; }

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

// The deepest mount whose target contains `path`, ignoring masks and explicit directories.
const Mount* covering(const std::vector<Mount>& mounts, const std::string& path) {
    const Mount* best = nullptr;
    for (const auto& m : mounts) {
        if (m.kind == MountKind::mask_dir || m.kind == MountKind::mask_file ||
            m.kind == MountKind::dir)
            continue;
        if (util::path_within(path, m.target) && (!best || m.target.size() >= best->target.size()))
            best = &m;
    }
    return best;
}

bool shows_host_files(MountKind k) {
    return k == MountKind::bind_ro || k == MountKind::bind_rw || k == MountKind::overlay ||
           k == MountKind::proc;
}

class MountPlanner {
public:
    MountPlanner(Plan& plan, const std::vector<FsRule>& rules, const HostFacts& host)
        : plan_(plan), rules_(rules), host_(host) {}

    void run(const Invocation& inv) {
        const std::string& project = plan_.project;
        if (host_.kind(project) != PathKind::dir)
            throw std::invalid_argument("project " + util::quote(project) +
                                        " is not a directory on this host");
        const FsMatch pm = best_fs_rule(rules_, project);
        project_writable_ = pm.rule && pm.rule->kind == FsKind::write;

        for (const auto& r : rules_) add_rule(r);
        if (project_writable_ && pm.rule->path != project) add_overlay(*pm.rule);
        plan_.staging = project_writable_ ? Staging::overlay : Staging::none;
        if (!project_writable_) {
            if (!pm.rule || pm.rule->kind == FsKind::deny || !covering(mounts_, project) ||
                !shows_host_files(covering(mounts_, project)->kind))
                note("the project " + util::quote(project) + " is not visible in the sandbox");
            else
                note("the project is read-only in the sandbox (no filesystem.write rule covers "
                     "it); nothing will be staged");
        }
        expand_deny_globs();
        for (const auto& r : rules_)
            if (r.kind == FsKind::deny) add_masks(r);

        // Parents before children; stable, and masks appended last, so at equal depth a mask
        // always comes after the mount it covers.
        std::vector<std::pair<std::size_t, Mount*>> order;  // depth first: sorted by it
        for (auto* list : {&mounts_, &masks_})
            for (auto& m : *list) order.emplace_back(util::path_depth(m.target), &m);
        std::stable_sort(order.begin(), order.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        plan_.mounts.clear();
        plan_.mounts.reserve(order.size());
        for (auto& [depth, m] : order) plan_.mounts.push_back(std::move(*m));
        plan_cwd(inv);
    }

private:
    void note(std::string s) { plan_.notes.push_back(std::move(s)); }

    void push(MountKind kind, std::string source, const FsRule& r) {
        mounts_.push_back(Mount{kind, std::move(source), r.path, r.rule, r.src});
    }

    void add_rule(const FsRule& r) {
        if (r.kind == FsKind::deny || r.kind == FsKind::dev_node) return;  // masks; part of /dev
        const FsMatch win = best_fs_rule(rules_, r.path);
        if (win.rule != &r) {
            // Duplicates from layered profiles are normal; a different kind is worth a line.
            if (win.rule && win.rule->kind != r.kind)
                note(where(r) + " is overridden by " + where(*win.rule) + " at the same path");
            return;
        }
        if (r.path == "/" && (r.kind == FsKind::read || r.kind == FsKind::write))
            note(where(r) + " exposes the whole host file system");
        switch (r.kind) {
            case FsKind::proc: push(MountKind::proc, "proc", r); break;
            case FsKind::dev: push(MountKind::dev, "", r); break;
            case FsKind::home:
            case FsKind::tmpfs: push(MountKind::tmpfs, "tmpfs", r); break;
            case FsKind::read: add_host_path(r, MountKind::bind_ro); break;
            case FsKind::write: add_write(r); break;
            case FsKind::deny:
            case FsKind::dev_node: break;
        }
    }

    void add_write(const FsRule& r) {
        const std::string& project = plan_.project;
        if (r.path == project) {
            add_overlay(r);
        } else if (util::path_within(r.path, project)) {
            // The overlay already makes the whole project writable and staged; a bind here
            // would let writes bypass staging.
            if (!project_writable_)
                throw std::invalid_argument(
                    where(r) + ": a writable path inside a read-only project cannot be staged; "
                               "grant filesystem.write on the project itself (\"@project\")");
            note(where(r) + " is covered by the staged project overlay");
        } else {
            add_host_path(r, MountKind::bind_rw);
        }
    }

    void add_overlay(const FsRule& r) {
        mounts_.push_back(Mount{MountKind::overlay, plan_.project, plan_.project, r.rule, r.src});
        if (!host_.overlay_userxattr)
            plan_.weakenings.push_back(Weakening{
                r.rule, r.src,
                "overlayfs in a user namespace (Linux 5.11+ with userxattr) to stage writes"});
    }

    // A read or write entry that names a host path: bind its real path at the same place, or
    // recreate a symlink (/bin -> usr/bin on merged-/usr systems) as a symlink.
    void add_host_path(const FsRule& r, MountKind kind) {
        switch (host_.kind(r.path)) {
            case PathKind::missing:
                note(where(r) + ": " + util::quote(r.path) +
                     " does not exist on this host; skipped");
                return;
            case PathKind::symlink: {
                std::string text = host_.readlink(r.path);
                if (text.empty()) {
                    note(where(r) + ": cannot read the symlink " + util::quote(r.path) +
                         "; skipped");
                    return;
                }
                push(MountKind::symlink, text, r);
                std::string target = util::normalize_path(
                    text.front() == '/' ? text : parent_of(r.path) + "/" + text);
                FsMatch m = best_fs_rule(rules_, target);
                if (!m.rule || m.rule->kind == FsKind::deny)
                    note(where(r) + ": " + util::quote(r.path) + " is a symlink to " +
                         util::quote(text) + ", which is not visible in the sandbox");
                return;
            }
            case PathKind::dir:
            case PathKind::file:
            case PathKind::other: {
                std::string real = host_.realpath(r.path);
                if (real.empty()) {
                    note(where(r) + ": cannot resolve " + util::quote(r.path) + "; skipped");
                    return;
                }
                push(kind, real, r);
                return;
            }
        }
    }

    // Every deny glob in one go when the host can batch them (HostFacts::glob_all).
    void expand_deny_globs() {
        if (!host_.glob_all) return;
        std::vector<std::string> patterns;
        for (const auto& r : rules_)
            if (r.kind == FsKind::deny && r.glob) patterns.push_back(r.path);
        if (patterns.empty()) return;
        auto found = host_.glob_all(patterns);
        if (found.size() != patterns.size())
            throw std::logic_error("HostFacts::glob_all answered the wrong number of patterns");
        for (std::size_t i = 0; i < patterns.size(); ++i)
            expanded_[patterns[i]] = std::move(found[i]);
    }

    // Deny globs are expanded now; a file created later is not masked at run time, and the
    // commit rules (decide(commit) checks filesystem.deny) catch it on the way out.
    void add_masks(const FsRule& r) {
        const bool glob = r.glob;
        const auto pre = glob ? expanded_.find(r.path) : expanded_.end();
        std::vector<std::string> paths = pre != expanded_.end() ? pre->second
                                         : glob                 ? host_.glob(r.path)
                                                                : std::vector{r.path};
        if (glob)
            note(where(r) + ": glob expanded at plan time (" + std::to_string(paths.size()) +
                 " match" + (paths.size() == 1 ? "" : "es") +
                 "); files created later are not masked, commit rules catch them");
        for (const auto& raw : paths) {
            if (raw.empty() || raw.front() != '/') continue;
            std::string p = util::normalize_path(raw);
            const FsMatch win = best_fs_rule(rules_, p);
            if (!win.rule || win.rule->kind != FsKind::deny) continue;  // a longer rule grants it
            PathKind k = host_.kind(p);
            if (k == PathKind::missing) {
                if (!glob) note(where(r) + ": " + util::quote(p) + " does not exist; nothing to mask");
                continue;
            }
            const Mount* cover = covering(mounts_, p);
            if (cover && cover->kind == MountKind::symlink) {
                // Reached through a symlinked directory: mask what it resolves to.
                std::string real = host_.realpath(p);
                if (real.empty() || real.front() != '/') continue;
                p = util::normalize_path(real);
                k = host_.kind(p);
                cover = covering(mounts_, p);
            }
            if (!cover || !shows_host_files(cover->kind)) {
                note(where(r) + ": " + util::quote(p) + " is not visible in the sandbox; no mask needed");
                continue;
            }
            if (!masked_.insert(p).second) continue;
            masks_.push_back(Mount{k == PathKind::dir ? MountKind::mask_dir : MountKind::mask_file,
                                   "", p, r.rule, r.src});
        }
    }

    void plan_cwd(const Invocation& inv) {
        std::string cwd = inv.cwd.empty() ? std::string() : util::normalize_path(inv.cwd);
        if (!cwd.empty() && cwd.front() == '/') {
            const FsMatch m = best_fs_rule(rules_, cwd);
            const Mount* cover = covering(plan_.mounts, cwd);
            if (m.rule && m.rule->kind != FsKind::deny && cover &&
                cover->kind != MountKind::symlink && exists_inside(*cover, cwd)) {
                plan_.cwd = cwd;
                return;
            }
        }
        plan_.cwd = plan_.project;
        note("the working directory " + util::quote(inv.cwd) +
             " is not visible in the sandbox; the command starts in the project");
    }

    // Whether `path`, under the mount `cover`, is a directory in the sandbox: anything of a
    // mount that shows the host's files; of an empty one (a tmpfs, the home, /dev) only its
    // root and the directories made for the mounts below it.
    bool exists_inside(const Mount& cover, const std::string& path) const {
        if (shows_host_files(cover.kind) || cover.target == path) return true;
        return std::any_of(plan_.mounts.begin(), plan_.mounts.end(),
                           [&](const Mount& m) { return util::path_within(m.target, path); });
    }

    Plan& plan_;
    const std::vector<FsRule>& rules_;
    const HostFacts& host_;
    bool project_writable_ = false;
    std::vector<Mount> mounts_;
    std::vector<Mount> masks_;
    std::set<std::string> masked_;
    std::map<std::string, std::vector<std::string>> expanded_;  // deny glob -> its matches
};

}  // namespace

void plan_mounts(Plan& plan, const std::vector<FsRule>& rules, const Invocation& inv,
                 const HostFacts& host) {
    MountPlanner(plan, rules, host).run(inv);
}

}  // namespace agentbox::policy
