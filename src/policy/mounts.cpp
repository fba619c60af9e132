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
    MountPlanner(Plan& plan, const std::vector<FsRule>& rules, const HostFacts& host,
                 std::vector<std::string> review_paths)
        : plan_(plan), rules_(rules), host_(host), view_(rules, &host),
          review_paths_(std::move(review_paths)) {}

    void run(const Invocation& inv) {
        const std::string& project = plan_.project;
        if (host_.kind(project) != PathKind::dir)
            throw std::invalid_argument("project " + util::quote(project) +
                                        " is not a directory on this host");
        const FsMatch pm = best_fs_rule(rules_, project);
        project_writable_ = pm.rule && pm.rule->kind == FsKind::write;

        for (const auto& r : rules_) add_rule(r);
        use_state_home();
        drop_redundant_binds();
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
        protect_writable_roots();
        expand_deny_globs();
        for (const auto& r : rules_)
            if (r.kind == FsKind::deny) add_masks(r);
        refuse_unheld_in_writable();
        add_pending_links();

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
            case FsKind::tmpfs:
                // At the real path too, with the links on the way recreated: nothing is ever
                // mounted through a symlink.
                add_links(r);
                push(MountKind::tmpfs, "tmpfs", r);
                mounts_.back().target = view_.placed(r);
                break;
            case FsKind::read: add_host_path(r, MountKind::bind_ro); break;
            case FsKind::write: add_write(r); break;
            case FsKind::state: add_state(r); break;
            case FsKind::deny:
            case FsKind::dev_node: break;
        }
    }

    void add_write(const FsRule& r) {
        const std::string& project = plan_.project;
        const std::string& real = view_.placed(r);
        if (r.path == project) {
            add_overlay(r);
        } else if (util::path_within(real, project)) {
            // The overlay already makes the whole project writable and staged; a bind here
            // would let writes bypass staging.
            if (!project_writable_)
                throw std::invalid_argument(
                    where(r) + ": a writable path inside a read-only project cannot be staged; "
                               "grant filesystem.write on the project itself (\"@project\")");
            add_links(r);
            note(where(r) + " is covered by the staged project overlay");
        } else {
            add_host_path(r, MountKind::bind_rw);
        }
    }

    // An agent state file (filesystem.state). It is not bound: a bound file cannot be created
    // when missing, nor replaced by rename (EBUSY), and what the agent writes there would
    // land on the host unreviewed. The sandbox gets a copy in the session's home directory,
    // which takes the place of the empty home (use_state_home); the run saves it back at the
    // end, or holds it for review (cli/run_state.cpp, stage/state.hpp).
    //
    // Every directory between the home and the file must be that session directory: one the
    // host shares (a read or write grant of ~/.claude) would refuse the rename, or take
    // writes beside the file straight to the host. That is a profile error, not a skip.
    void add_state(const FsRule& r) {
        const FsRule* home = home_rule();
        if (!home || r.path == home->path || !util::path_within(r.path, home->path))
            throw std::invalid_argument(
                where(r) + ": a state file must be inside the home directory " +
                util::quote(plan_.home) + ", and the home must be agentbox's own (no "
                "filesystem rule may grant the home itself)");
        for (std::string dir = parent_of(r.path); dir != home->path; dir = parent_of(dir)) {
            const FsMatch m = best_fs_rule(rules_, dir);
            if (m.rule != home)
                throw std::invalid_argument(
                    where(r) + ": its directory " + util::quote(dir) + " is reached through " +
                    (m.rule ? where(*m.rule) : std::string("no rule")) +
                    "; a state file must lie in directories of the sandbox's own home (grant "
                    "the directories beside it, e.g. " + util::quote(dir + "/projects") +
                    ", not the one that holds it)");
        }
        const FsVerdict v = view_.decide(r.path);
        if (!v.rule || v.rule->kind == FsKind::deny) {
            note(where(r) + ": denied by " + (v.rule ? where(*v.rule) : std::string("no rule")) +
                 "; skipped");
            return;
        }
        switch (host_.kind(r.path)) {
            case PathKind::missing:
            case PathKind::file: break;
            case PathKind::symlink:
                // A link the user made (a dotfiles checkout). agentbox saves state files in
                // place and never writes through a link; the agent still reads the file.
                note(where(r) + ": " + util::quote(r.path) +
                     " is a symlink on this host; shown read-only, not saved back");
                add_host_path(r, MountKind::bind_ro);
                return;
            case PathKind::dir:
            case PathKind::other:
                throw std::invalid_argument(where(r) + ": " + util::quote(r.path) +
                                            " is not a regular file on this host; state "
                                            "entries name files (grant a directory with "
                                            "filesystem.write)");
        }
        bool whole = false;
        for (const auto& e : review_paths_)
            whole = whole || e == r.path;
        plan_.state.push_back(StateFile{r.path, whole, r.rule, r.src});
    }

    const FsRule* home_rule() const {
        for (const auto& r : rules_)
            if (r.kind == FsKind::home) return &r;
        return nullptr;
    }

    // With state files, the home is the session's directory that holds their copies, on disk
    // (it survives a crash of agentbox), in place of the empty tmpfs. What else the command
    // writes in the home is still thrown away at the end of the run.
    void use_state_home() {
        if (plan_.state.empty()) return;
        const FsRule* home = home_rule();
        for (auto& m : mounts_)
            if (m.kind == MountKind::tmpfs && home && m.rule == home->rule &&
                m.target == view_.placed(*home)) {
                m.kind = MountKind::state_home;
                m.source = "@session/home";
                m.rule = "implicit: the session's home, holding the agent state files";
            }
    }

    void add_overlay(const FsRule& r) {
        mounts_.push_back(Mount{MountKind::overlay, plan_.project, plan_.project, r.rule, r.src});
        if (!host_.overlay_userxattr)
            plan_.weakenings.push_back(Weakening{
                r.rule, r.src,
                "overlayfs in a user namespace (Linux 5.11+ with userxattr) to stage writes"});
    }

    // Whether the sandbox already shows the host's file at `path` (a bind or the overlay,
    // whose targets are their real sources): then a link there exists inside as it does here.
    bool shown_from_host(const std::string& path) const {
        const Mount* cover = covering(mounts_, path);
        return cover && shows_host_files(cover->kind) && cover->kind != MountKind::proc;
    }

    // Recreate each symlink on the way to a grant's real path, so that the path as written
    // leads where the kernel resolves it on the host (~/.config -> dotfiles/config).
    // Decided once every mount and mask is known (add_pending_links): whether a bind will show
    // the host's link there must not depend on the order of the rules.
    void add_links(const FsRule& r) {
        for (const auto& l : view_.resolve(r.path).links)
            if (links_.insert(l.path).second)
                pending_links_.push_back(Mount{MountKind::symlink, l.text, l.path, r.rule, r.src});
    }

    void add_pending_links() {
        for (auto& l : pending_links_) {
            if (shown_from_host(l.target)) continue;  // the host's own link is there already
            // Inside a mask nothing is created (it is read-only), and nothing should show.
            if (std::any_of(masks_.begin(), masks_.end(), [&](const Mount& m) {
                    return util::path_within(l.target, m.target);
                }))
                continue;
            mounts_.push_back(std::move(l));
        }
        pending_links_.clear();
    }

    // The other write grant, outside the staged project, that the sandbox writes directly and
    // that contains `path`; nullptr if none.
    const FsRule* writable_root_of(const std::string& path, const FsRule& self) const {
        for (const auto& w : rules_)
            if (&w != &self && w.kind == FsKind::write && !w.glob &&
                !util::path_within(view_.placed(w), plan_.project) &&
                util::path_within(path, view_.placed(w)))
                return &w;
        return nullptr;
    }

    // A read or write entry that names a host path: decide and bind on its fully resolved
    // path. Every bind's target is its real source, so no mount or mask is ever placed
    // through a symlink, and each host file is visible at one place only: its real path.
    void add_host_path(const FsRule& r, MountKind kind) {
        const ResolvedPath rp = view_.resolve(r.path);
        if (!rp.ok) {
            note(where(r) + ": cannot resolve " + util::quote(r.path) +
                 " (a symlink loop, or a link that cannot be read); skipped");
            return;
        }
        const std::string& real = rp.real;
        const std::string via =
            real != r.path ? " (" + util::quote(r.path) + " resolves to " + util::quote(real) + ")"
                           : "";
        // A grant that leads through a link never opens a path a deny covers (issue 18 #2).
        const FsVerdict v = view_.decide(r.path);
        if (!v.rule || v.rule->kind == FsKind::deny) {
            note(where(r) + via + ": denied by " +
                 (v.rule ? where(*v.rule) : std::string("no rule")) + "; skipped");
            return;
        }
        // A link inside a root the sandbox writes directly could have been planted there by
        // an earlier run to point a write grant at something else (issue 18 #5).
        if (kind == MountKind::bind_rw)
            for (const auto& l : rp.links)
                if (const FsRule* root = writable_root_of(l.path, r)) {
                    note(where(r) + ": " + util::quote(l.path) +
                         " is a symlink inside the writable " + util::quote(view_.placed(*root)) +
                         ", which the sandbox could have planted there; skipped");
                    return;
                }
        add_links(r);  // even to a missing target: a dangling link, as on the host
        const PathKind k = host_.kind(real);
        if (k == PathKind::missing) {
            note(where(r) + ": " + util::quote(r.path) + " does not exist on this host" +
                 (real != r.path ? " (it resolves to " + util::quote(real) + ")" : "") +
                 "; skipped");
            return;
        }
        push(kind, real, r);
        mounts_.back().target = real;
        if (real != r.path) via_link_.insert(real);
    }

    // A bind reached through a link that a bind of the same kind above it already shows (the
    // /usr bind covers /bin -> usr/bin) is dropped, whatever the order of the rules.
    void drop_redundant_binds() {
        std::set<const Mount*> drop;
        for (const auto& m : mounts_) {
            if (!via_link_.count(m.target)) continue;
            const Mount* above = nullptr;  // the deepest other mount that contains it
            for (const auto& o : mounts_)
                if (o.target != m.target && util::path_within(m.target, o.target) &&
                    (!above || o.target.size() > above->target.size()))
                    above = &o;
            if (above && above->kind == m.kind) drop.insert(&m);
        }
        std::vector<Mount> kept;
        for (auto& m : mounts_)
            if (!drop.count(&m)) kept.push_back(std::move(m));
        mounts_ = std::move(kept);
    }

    // A writable root other than the project is written directly, not staged, so the commit
    // rules never see what lands there: the top of each commit.protect path (.git, .github,
    // .envrc, .vscode...) that exists in it is bound read-only over it (issue 18 #6). The
    // whole top, not the file: a read-only .git/config in a writable .git would be replaced
    // by renaming .git; a mount point cannot be renamed or removed.
    void protect_writable_roots() {
        // What to keep read-only at the top of each such root: .git always (git's directory is
        // protected by the built-in allowlist, policy/gitdir.hpp, not by a pattern), then the
        // first component of each protect pattern, at the root also for one that applies at
        // every depth ("**/.envrc" protects <root>/.envrc too).
        struct Top {
            std::string name, rule;
            profile::Source src;
        };
        std::vector<Top> tops{{".git", "the git directory (agentbox-profile(5), \"Git directories\")", {}}};
        for (const auto& e : plan_.protect) {
            std::string v = e.value;
            while (v.starts_with("**/")) v.erase(0, 3);
            if (v.empty() || v.front() == '/') continue;
            const std::string top = v.substr(0, v.find('/'));
            if (top.empty() || top.find_first_of("*?[") != std::string::npos || top == "." ||
                top == "..")
                continue;
            tops.push_back({top, "commit.protect " + util::quote(e.raw.empty() ? e.value : e.raw),
                            e.src});
        }
        std::vector<Mount> extra;
        for (const auto& m : mounts_) {
            if (m.kind != MountKind::bind_rw || host_.kind(m.source) != PathKind::dir) continue;
            std::set<std::string> done;
            for (const auto& t : tops) {
                if (!done.insert(t.name).second) continue;
                const std::string p = m.target + "/" + t.name;
                const std::string rule = t.rule + " in the writable " + util::quote(m.target);
                switch (host_.kind(p)) {
                    case PathKind::missing: continue;
                    case PathKind::symlink:
                        note(rule + ": " + util::quote(p) +
                             " is a symlink and cannot be made read-only; not protected");
                        continue;
                    default: break;
                }
                extra.push_back(Mount{MountKind::bind_ro, p, p, rule, t.src});
            }
        }
        for (auto& m : extra) {
            note(m.rule + ": " + util::quote(m.target) +
                 " is read-only (writes there are not staged, so not reviewed)");
            mounts_.push_back(std::move(m));
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
            const std::string p = util::normalize_path(raw);
            const FsMatch win = best_fs_rule(rules_, p);
            if (!win.rule || win.rule->kind != FsKind::deny) continue;  // a longer rule grants it
            const ResolvedPath rp = view_.resolve(p);
            // The mask goes where the path resolves: no mount is ever placed through a
            // symlink (ELOOP, issue 18 #4), and a denied file is hidden wherever it is
            // reached from, since every bind shows host files at their real paths only. A
            // link that is itself denied stays as a link to that hidden place.
            const std::string& real = rp.real;
            const FsVerdict v = view_.decide(real);
            if (!rp.ok || (v.rule && v.rule->kind != FsKind::deny)) continue;
            for (const auto& l : rp.links) unheld_.push_back({&r, l.path, true});
            const PathKind k = host_.kind(real);
            if (k == PathKind::missing) {
                if (!glob) {
                    unheld_.push_back({&r, real, false});
                    add_absent_mask(r, p, real);
                }
                continue;
            }
            if (!shown_from_host(real)) {
                note(where(r) + ": " + util::quote(real) + " is not visible in the sandbox; no mask needed");
                continue;
            }
            if (!masked_.insert(real).second) continue;
            masks_.push_back(Mount{k == PathKind::dir ? MountKind::mask_dir : MountKind::mask_file,
                                   "", real, r.rule, r.src});
            if (real != p)
                note(where(r) + ": " + util::quote(p) + " resolves to " + util::quote(real) +
                     "; masked there");
        }
    }

    // A literal deny that does not exist yet. Under the staged overlay its lower layer is the
    // live project, so a file the host creates there during the run would show through
    // (issue 18 #3): the native backend puts a whiteout in a read-only layer of its own above
    // the project (sandbox/linux/mounts.cpp, make_masks_layer), which hides whatever appears
    // below, and inside the path does not exist. The
    // copy strategy (bwrap) works on a snapshot and needs none; a read-only bind shows the
    // host as it is, and a path created there later is visible (agentbox-profile(5)).
    void add_absent_mask(const FsRule& r, const std::string& p, const std::string& real) {
        const Mount* cover = covering(mounts_, real);
        if (plan_.backend == "bwrap" || !cover || cover->kind != MountKind::overlay ||
            real == plan_.project || host_.kind(parent_of(real)) != PathKind::dir) {
            note(where(r) + ": " + util::quote(p) + " does not exist; nothing to mask");
            return;
        }
        if (!masked_.insert(real).second) return;
        masks_.push_back(Mount{MountKind::mask_file, "", real, r.rule, r.src});
        note(where(r) + ": " + util::quote(real) +
             " does not exist yet; a whiteout in the staged layer hides one the host creates "
             "during the run");
    }

    // What no mask can hold in a writable bind of the host, where the command could make the
    // denied path its own on the host (`~/.ssh/config` under `write = ["~"]`), a write the
    // rule denies and no review sees: a literal deny that does not exist (a mount needs the
    // path, and making it would change the host), and a symlink on the way to a denied path
    // (the mask is at the link's target; the link itself can be replaced by a directory). A
    // rule the sandbox cannot enforce is a weakening (DESIGN.md §1). A mask of a directory
    // above the path holds it; so does a read-only bind, a tmpfs, or a link agentbox made.
    void refuse_unheld_in_writable() {
        for (const auto& u : unheld_) {
            const Mount* cover = covering(mounts_, u.path);
            if (!cover || cover->kind != MountKind::bind_rw || cover->target == u.path) continue;
            const bool held = std::any_of(masks_.begin(), masks_.end(), [&](const Mount& m) {
                return m.kind == MountKind::mask_dir && util::path_within(u.path, m.target);
            });
            if (held) continue;
            const std::string in = "the writable " + util::quote(cover->target) + " (" +
                                   cover->rule + ")";
            plan_.weakenings.push_back(Weakening{
                u.rule->rule, u.rule->src,
                u.link ? "a mask that holds: it is reached through the symlink " +
                             util::quote(u.path) + " in " + in +
                             ", which the command could replace with a directory of its own; "
                             "grant the directories beside the link, not the one holding it"
                       : "a mask for " + util::quote(u.path) + ", which does not exist, so " +
                             in + " would let the command create it on the host; create it "
                             "there first, or deny an existing directory above it"});
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
    const FsView view_;
    bool project_writable_ = false;
    std::vector<Mount> mounts_;
    std::vector<Mount> masks_;
    std::set<std::string> masked_;
    struct Unheld {
        const FsRule* rule;
        std::string path;  // a denied path missing on the host, or a link on the way to one
        bool link;
    };
    std::vector<Unheld> unheld_;  // refuse_unheld_in_writable's candidates
    std::set<std::string> links_;  // symlinks to recreate, by path
    std::vector<Mount> pending_links_;
    std::set<std::string> via_link_;  // bind targets placed through a link
    std::map<std::string, std::vector<std::string>> expanded_;  // deny glob -> its matches
    std::vector<std::string> review_paths_;  // filesystem.state_review paths, normalized
};

}  // namespace

void plan_mounts(Plan& plan, const std::vector<FsRule>& rules, const Invocation& inv,
                 const HostFacts& host, const profile::Filesystem& fs) {
    // filesystem.state_review: paths name whole files, anything else a key.
    std::vector<std::string> review_paths;
    for (const auto& e : fs.state_review) {
        if (!e.value.empty() && e.value.front() == '/') {
            review_paths.push_back(util::normalize_path(e.value));
        } else if (std::find(plan.state_keys.begin(), plan.state_keys.end(), e.value) ==
                   plan.state_keys.end()) {
            plan.state_keys.push_back(e.value);
        }
    }
    MountPlanner(plan, rules, host, review_paths).run(inv);
    for (const auto& p : review_paths)
        if (std::none_of(plan.state.begin(), plan.state.end(),
                         [&](const StateFile& f) { return f.path == p; }))
            plan.notes.push_back("filesystem.state_review " + util::quote(p) +
                                 " names no state file of this run");
}

}  // namespace agentbox::policy
