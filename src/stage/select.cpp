#include "stage/select.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <pwd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "policy/policy.hpp"
#include "stage/fsops.hpp"
#include "stage/gitconfig.hpp"
#include "stage/gitindex.hpp"
#include "stage/gitrefs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/walk.hpp"
#include "util/paths.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

namespace {

using sys::unique_fd;

// The first `limit` bytes of the file open at `fd` (fewer at its end or on an error).
std::string read_prefix(int fd, std::size_t limit) {
    std::string out;
    char buf[16384];
    while (out.size() < limit) {
        const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// The project as a commit of the whole change set would leave it, read path by path: the
// change set where it names the path, else the project. Only what judging needs: whether a
// path is a symlink (and to what), and the small files git reads to find its directories.
class View {
public:
    View(const std::string& project, const std::string& upper, const std::vector<Change>& cs)
        : project_(project), upper_(upper) {
        for (const auto& c : cs) by_path_.emplace(c.path, &c);
        root_.reset(::open(project.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_) throw sys::SysError("open", project, errno);
    }

    enum class Node { missing, link, other };

    bool consulted(const Change& c) const { return consulted_.count(&c) > 0; }

    Node lookup(const std::string& rel, std::string* target = nullptr) const {
        if (auto it = by_path_.find(rel); it != by_path_.end()) {
            const Change& c = *it->second;
            consulted_.insert(&c);
            if (c.kind == Kind::deleted) return Node::missing;
            if (S_ISLNK(c.new_mode)) {
                if (target) *target = c.link_target;
                return Node::link;
            }
            return Node::other;
        }
        // Below a directory that only upper/ has (new, or a file or link before), every entry
        // is in the change set; below a deleted one nothing is left.
        for (auto slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
             slash = rel.rfind('/', slash - 1)) {
            auto it = by_path_.find(rel.substr(0, slash));
            if (it == by_path_.end()) continue;
            const Kind k = it->second->kind;
            if (k == Kind::added || k == Kind::type || k == Kind::deleted) {
                consulted_.insert(it->second);
                return Node::missing;
            }
        }
        auto [dir, name] = fsops::split_parent(rel);
        unique_fd d;
        try {
            d = fsops::open_dir_beneath(root_.get(), dir, project_ + "/" + dir);
        } catch (const sys::SysError&) {
            return Node::missing;  // an ancestor is missing, or not a directory
        }
        struct stat st {};
        if (::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Node::missing;
        if (!S_ISLNK(st.st_mode)) return Node::other;
        if (target) {
            std::string buf(PATH_MAX, '\0');
            const ssize_t n = ::readlinkat(d.get(), name.c_str(), buf.data(), buf.size());
            if (n < 0) return Node::missing;
            buf.resize(static_cast<std::size_t>(n));
            *target = buf;
        }
        return Node::link;
    }

    // A small regular file (a `.git` file, a commondir, a config): its first `limit` bytes, ""
    // when absent or not one.
    std::string small_file(const std::string& rel, std::size_t limit = 4096) const {
        std::string base;
        if (auto it = by_path_.find(rel); it != by_path_.end()) {
            consulted_.insert(it->second);
            if (!S_ISREG(it->second->new_mode)) return "";
            base = upper_;
        } else if (lookup(rel) != Node::other) {
            return "";
        } else {
            base = project_;
        }
        unique_fd r(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!r) return "";
        auto [dir, name] = fsops::split_parent(rel);
        unique_fd d;
        try {
            d = fsops::open_dir_beneath(r.get(), dir, base + "/" + dir);
        } catch (const sys::SysError&) {
            return "";
        }
        unique_fd f(::openat(d.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        struct stat st {};
        if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
        return read_prefix(f.get(), limit);
    }

    // The project's own file `rel` as it is now (not as the commit leaves it): its first
    // `limit` bytes, "" when absent or not a regular file.
    std::string project_file(const std::string& rel, std::size_t limit) const {
        auto [dir, name] = fsops::split_parent(rel);
        try {
            const unique_fd d = fsops::open_dir_beneath(root_.get(), dir, project_ + "/" + dir);
            unique_fd f(::openat(d.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
            struct stat st {};
            if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
            return read_prefix(f.get(), limit);
        } catch (const sys::SysError&) {
            return "";
        }
    }

    // Whether git looking for a repository takes directory `dir` (project-relative, "" = the
    // root) as a git directory itself, as it does a bare repository's (git's setup.c,
    // is_git_directory): it holds a HEAD, and objects/ and refs/ or a commondir naming where
    // they are. `before`: in the project as it is, not as the commit would leave it.
    bool git_dir_shape(const std::string& dir, bool before) const {
        const std::string at = dir.empty() ? "" : dir + "/";
        const auto has = [&](const char* name) {
            return before ? in_project(at + name) : lookup(at + name) != Node::missing;
        };
        return has("HEAD") && (has("commondir") || (has("objects") && has("refs")));
    }

    struct Resolved {
        bool outside = false;  // leaves the project (or cannot be followed to an end)
        std::string path;      // project-relative, "" = the root, when inside
    };

    // Where `rel` leads, following symlinks of the view in every component (the last one
    // too when `follow_last`), as the kernel would once the change set is committed. A ".."
    // goes up from where the path has got to, not lexically. Leaving the project at any step
    // is leaving it: the host beyond is not ours to follow. `visited`: every path the walk
    // passed through (each directory and link on the way, and the end), in the project.
    Resolved resolve(const std::string& rel, bool follow_last,
                     std::vector<std::string>* visited = nullptr) const {
        std::deque<std::string> todo;
        for (auto& p : util::split(rel, '/')) todo.push_back(std::move(p));
        if (!rel.empty() && rel.front() == '/' && !strip_project(todo)) return {true, ""};
        std::vector<std::string> at;
        int hops = 0;
        while (!todo.empty()) {
            std::string part = std::move(todo.front());
            todo.pop_front();
            if (part.empty() || part == ".") continue;
            if (part == "..") {
                if (at.empty()) return {true, ""};
                at.pop_back();
                continue;
            }
            at.push_back(part);
            if (visited) visited->push_back(util::join(at, "/"));
            if (todo.empty() && !follow_last) break;
            std::string target;
            if (lookup(util::join(at, "/"), &target) != Node::link) continue;
            // Linux gives up after 40 links; so does this, as "outside": it cannot be judged.
            if (++hops > 40) return {true, ""};
            at.pop_back();
            std::deque<std::string> next;
            for (auto& p : util::split(target, '/')) next.push_back(std::move(p));
            if (!target.empty() && target.front() == '/') {
                if (!strip_project(next)) return {true, ""};
                at.clear();
            }
            todo.insert(todo.begin(), next.begin(), next.end());
        }
        return {false, util::join(at, "/")};
    }

private:
    bool in_project(const std::string& rel) const {
        auto [dir, name] = fsops::split_parent(rel);
        try {
            const unique_fd d = fsops::open_dir_beneath(root_.get(), dir, project_ + "/" + dir);
            return fsops::exists_at(d.get(), name);
        } catch (const sys::SysError&) {
            return false;
        }
    }

    // An absolute path is inside only through the project's own path, component by component
    // (a lexical "/proj/../proj" is not: the kernel would follow what is there). Leaves the
    // components below the project in `parts`; false when the path does not go through it.
    bool strip_project(std::deque<std::string>& parts) const {
        for (const auto& want : util::split(project_, '/')) {
            if (want.empty()) continue;
            while (!parts.empty() && (parts.front().empty() || parts.front() == "."))
                parts.pop_front();
            if (parts.empty() || parts.front() != want) return false;
            parts.pop_front();
        }
        return true;
    }

    std::string project_, upper_;
    unique_fd root_;
    std::unordered_map<std::string, const Change*> by_path_;
    // The changes some answer of lookup or small_file came from: without any other, every
    // answer would be the same (judge's rounds).
    mutable std::unordered_set<const Change*> consulted_;
};

// Every symlink of the view that leads into the project, with where it leads; the `.git`
// entries and the git directories found on the way. The project is walked once, by
// directory entry types only: a commit's judging costs one readdir per directory.
struct Links {
    std::vector<std::pair<std::string, std::string>> into;  // link path, resolved target
    std::vector<std::string> dot_git;                       // paths named .git
    std::vector<std::string> heads;                         // paths named HEAD
};

// The walk is sys::walk_tree's, by directory entry types only (one readdir per directory, an
// lstat only where the filesystem does not give the type). Its order is kept as it was when
// the walk was its own recursion, a directory's own entries before its subdirectories': it is
// the order the names of a path are tried in, so the name a protection reports ("reached as"),
// and the order of the git directories found. walk_tree visits in pre-order (a subdirectory's
// tree right after the subdirectory), so each directory's finds are gathered in a frame, its
// own and then its subdirectories' (folded in once the walk is past them); only links and
// `.git` entries are gathered, so the regrouping costs next to nothing. A directory past
// walk_tree's depth bound is skipped like one the user cannot read.
class ProjectWalk : public sys::WalkVisitor {
public:
    explicit ProjectWalk(const View& view) : view_(view) {}

    sys::WalkStep visit(const sys::WalkEntry& e) override {
        // frames_[d] gathers the directory being listed at depth d. An entry at depth d means
        // the walk is done with every directory deeper than d: fold them into their parents.
        const auto level = static_cast<std::size_t>(e.depth) + 1;
        fold_to(level);
        if (frames_.size() < level) frames_.emplace_back();
        Links& own = frames_.back().own;
        if (e.name == ".git") own.dot_git.push_back(e.path);
        if (e.name == "HEAD") own.heads.push_back(e.path);
        if (S_ISLNK(e.st.st_mode)) {
            std::string target;
            if (view_.lookup(e.path, &target) != View::Node::link)
                return sys::WalkStep::over;  // the change set deletes or replaces it
            const auto r = view_.resolve(e.path, true);
            if (!r.outside) own.into.emplace_back(e.path, r.path);
            return sys::WalkStep::over;
        }
        return S_ISDIR(e.st.st_mode) ? sys::WalkStep::into : sys::WalkStep::over;
    }

    // A directory the user cannot read or open (or past the depth bound), an entry gone
    // meanwhile: git cannot find a link in it either.
    void fail(const sys::SysError&) override {}

    Links finish() {
        fold_to(1);
        if (frames_.empty()) return {};
        append(frames_[0].own, frames_[0].subs);
        return std::move(frames_[0].own);
    }

private:
    struct Frame {
        Links own;   // the directory's own finds
        Links subs;  // its subdirectories' (each one's own, then its subdirectories'), in order
    };

    void fold_to(std::size_t level) {
        while (frames_.size() > level) {
            Frame done = std::move(frames_.back());
            frames_.pop_back();
            append(frames_.back().subs, done.own);
            append(frames_.back().subs, done.subs);
        }
    }

    static void append(Links& to, Links& from) {
        to.into.insert(to.into.end(), std::make_move_iterator(from.into.begin()),
                       std::make_move_iterator(from.into.end()));
        to.dot_git.insert(to.dot_git.end(), std::make_move_iterator(from.dot_git.begin()),
                          std::make_move_iterator(from.dot_git.end()));
        to.heads.insert(to.heads.end(), std::make_move_iterator(from.heads.begin()),
                        std::make_move_iterator(from.heads.end()));
    }

    const View& view_;
    std::vector<Frame> frames_;
};

Links walk_project(int dirfd, const View& view) {
    ProjectWalk w(view);
    sys::WalkOptions o;
    o.stat = false;
    sys::walk_tree(dirfd, "", w, o);
    return w.finish();
}

std::string first_line(const std::string& s) {
    std::string l = s.substr(0, s.find('\n'));
    if (!l.empty() && l.back() == '\r') l.pop_back();
    return l;
}

bool has_dot_git_component(const std::string& path) {
    for (const auto& part : util::split(path, '/'))
        if (part == ".git") return true;
    return false;
}

// The directories git takes for a repository of their own though no `.git` is in their path:
// shaped like a bare repository in the view (View::git_dir_shape). `cd` into one and `git
// status` -- or a shell prompt that runs it -- reads its config, whose core.fsmonitor,
// core.pager or core.worktree with hooks run commands (git's safe.bareRepository defaults to
// "all"). Found from the names that make the shape: a HEAD in the project, and a HEAD,
// objects, refs or commondir in the change set. Those inside a `.git` are judged as such.
std::vector<std::string> bare_git_dirs(const View& view, const std::vector<std::string>& heads,
                                       const std::vector<Change>& changes) {
    std::vector<std::string> candidates;
    for (const auto& h : heads) candidates.push_back(fsops::split_parent(h).first);
    for (const auto& c : changes) {
        const auto [parent, name] = fsops::split_parent(c.path);
        if (name == "HEAD" || name == "objects" || name == "refs" || name == "commondir")
            candidates.push_back(parent);
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    std::vector<std::string> out;
    for (const auto& d : candidates)
        if (!has_dot_git_component(d) && view.git_dir_shape(d, false)) out.push_back(d);
    return out;
}

// The directories git uses as a git directory that are not named `.git`: the bare-shaped ones
// (`bare`), what a `.git` file's `gitdir:` names, and what a git directory's `commondir` names
// (resolved in the view; those outside the project are not ours to protect).
std::vector<std::string> other_git_dirs(const View& view, const std::vector<std::string>& dot_git,
                                        const std::vector<std::string>& bare) {
    std::vector<std::string> dirs = bare;
    std::vector<std::string> git_dirs = bare;  // every git directory, for their commondir
    auto add = [&](const std::string& from_dir, const std::string& named) {
        if (named.empty()) return;
        const auto r = view.resolve(named.front() == '/' || from_dir.empty()
                                        ? named
                                        : from_dir + "/" + named,
                                    true);
        if (r.outside) return;
        if (std::find(dirs.begin(), dirs.end(), r.path) == dirs.end()) {
            dirs.push_back(r.path);
            git_dirs.push_back(r.path);
        }
    };
    for (const auto& g : dot_git) {
        const auto [parent, name] = fsops::split_parent(g);
        if (view.lookup(g) == View::Node::other) {
            const std::string text = view.small_file(g);
            if (text.starts_with("gitdir:"))
                add(parent, std::string(util::trim(first_line(text).substr(7))));
            else
                git_dirs.push_back(g);
        }
    }
    for (std::size_t i = 0; i < git_dirs.size() && i < 256; ++i) {
        const std::string d = git_dirs[i];
        const std::string text = view.small_file(d.empty() ? "commondir" : d + "/commondir");
        if (!text.empty()) add(d, std::string(util::trim(first_line(text))));
    }
    return dirs;
}

// Where the host's kernel takes absolute path `abs` when git opens it: followed component by
// component through the host's symlinks up to where it enters the project (the rest is the
// view's to resolve, as the commit leaves the project), or up to a magic link of procfs. Those
// (/proc/<pid>/cwd, /proc/<pid>/fd/<n>, reached by /proc/self, /proc/thread-self and /dev/fd)
// lead each process to its own directory: for git, the one it runs in (the work tree's top, or
// wherever the user started it), not agentbox's. `/proc/<pid>/root` is "/" for a host git.
struct HostPath {
    enum class Kind { host, project, anywhere } kind = Kind::host;
    // host: the absolute path; project: relative to the project; anywhere: relative to a
    // directory that depends on the process that opens it.
    std::string path;
};

HostPath host_resolve(const std::string& abs, const std::string& project) {
    const auto joined = [](const std::deque<std::string>& d) {
        return util::join(std::vector<std::string>(d.begin(), d.end()), "/");
    };
    std::deque<std::string> todo;
    for (auto& p : util::split(abs, '/'))
        if (!p.empty() && p != ".") todo.push_back(std::move(p));
    std::string at;  // resolved so far, absolute; "" = "/"
    int hops = 0;
    while (!todo.empty()) {
        if (at == project && todo.front() != "..") return {HostPath::Kind::project, joined(todo)};
        std::string part = std::move(todo.front());
        todo.pop_front();
        if (part == "..") {
            at = at.substr(0, at.rfind('/') == std::string::npos ? 0 : at.rfind('/'));
            continue;
        }
        const std::string next = at + "/" + part;
        struct stat st {};
        char target[PATH_MAX];
        const ssize_t n = ::lstat(next.c_str(), &st) == 0 && S_ISLNK(st.st_mode)
                              ? ::readlink(next.c_str(), target, sizeof target)
                              : -1;
        if (n <= 0) {  // not a link (or gone): taken as named
            at = next;
            continue;
        }
        if (++hops > 40) return {HostPath::Kind::host, next};  // the kernel gives up too
        const std::string link(target, static_cast<std::size_t>(n));
#ifdef __linux__
        struct statfs fs {};
        // A procfs link to a relative name (self -> <pid>, thread-self) is followed like any;
        // one to anything else is the kernel's per-process magic.
        if (::statfs(at.empty() ? "/" : at.c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC &&
            link.front() == '/') {
            if (part == "root") {
                at.clear();
                continue;
            }
            return {HostPath::Kind::anywhere, joined(todo)};
        }
#endif
        std::vector<std::string> parts;
        for (auto& p : util::split(link, '/'))
            if (!p.empty() && p != ".") parts.push_back(std::move(p));
        todo.insert(todo.begin(), parts.begin(), parts.end());
        if (link.front() == '/') at.clear();
    }
    if (at == project) return {HostPath::Kind::project, ""};
    return {HostPath::Kind::host, at.empty() ? "/" : at};
}

// Every directory of the project as the commit leaves it ("" the root), for an include whose
// directory git's process decides (host_resolve, anywhere): the project's, walked without
// following links, and those the change set adds.
std::vector<std::string> view_dirs(const std::string& project, const std::vector<Change>& changes) {
    struct Dirs : sys::WalkVisitor {
        std::vector<std::string> out{""};
        sys::WalkStep visit(const sys::WalkEntry& e) override {
            if (!S_ISDIR(e.st.st_mode)) return sys::WalkStep::over;
            out.push_back(e.path);
            return sys::WalkStep::into;
        }
        void fail(const sys::SysError&) override {}  // unreadable: git cannot be in it either
    } w;
    unique_fd root(::open(project.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw sys::SysError("open", project, errno);
    sys::WalkOptions o;
    o.stat = false;
    sys::walk_tree(root.get(), "", w, o);
    for (const auto& c : changes)
        if (c.kind != Kind::deleted && S_ISDIR(c.new_mode)) w.out.push_back(c.path);
    std::sort(w.out.begin(), w.out.end());
    w.out.erase(std::unique(w.out.begin(), w.out.end()), w.out.end());
    return w.out;
}

// The project's directories (view_dirs), listed once and only when a path needs them.
class ViewDirs {
public:
    ViewDirs(const std::string& project, const std::vector<Change>& changes)
        : project_(project), changes_(changes) {}
    const std::vector<std::string>& get() {
        if (!dirs_) dirs_ = view_dirs(project_, changes_);
        return *dirs_;
    }

private:
    const std::string& project_;
    const std::vector<Change>& changes_;
    std::optional<std::vector<std::string>> dirs_;
};

// What absolute path `abs`, which leaves the project by the view's reading, names once the
// host's links are followed (host_resolve): the project path it enters the project at; or,
// through a per-process link (/proc/self/cwd, /proc/<pid>/cwd, /dev/fd/N), the path below
// it in every directory of the project that has it in the view -- git may run in any of them;
// or `host`, where it lies outside; or, when nothing follows the link (`/proc/self/cwd`),
// every directory of the project. Project-relative, unresolved.
struct HostNames {
    std::vector<std::string> in_project;
    std::optional<std::string> host;
    bool every_dir = false;
};

HostNames host_names(const View& view, const std::string& project, const std::string& abs,
                     ViewDirs& dirs) {
    HostNames out;
    const HostPath h = host_resolve(abs, project);
    if (h.kind == HostPath::Kind::project) {
        out.in_project.push_back(h.path);
        return out;
    }
    if (h.kind == HostPath::Kind::host) {
        out.host = h.path;
        return out;
    }
    // As git opens it from directory D: D/<path>, whose ".." climb to another directory of
    // the project (or out of it): only what follows the last one names the file, below some
    // directory.
    std::vector<std::string> below;
    for (const auto& p : util::split(h.path, '/')) {
        if (p == "..") below.clear();
        else if (!p.empty() && p != ".") below.push_back(p);
    }
    if (below.empty()) {
        out.every_dir = true;
        return out;
    }
    const std::string tail = util::join(below, "/");
    // Only those there: the bound on files read is not spent on names that hold nothing (a
    // change that adds one makes it there).
    for (const auto& d : dirs.get()) {
        const std::string cand = d.empty() ? tail : d + "/" + tail;
        const auto r = view.resolve(cand, true);
        if (!r.outside && view.lookup(r.path) == View::Node::other) out.in_project.push_back(cand);
    }
    return out;
}

// git's interpolate_path (and sh's tilde expansion): `~/` is $HOME, `~user/` that user's
// home directory; nothing when neither is known. Any other path as it is.
std::optional<std::string> expand_tilde(const std::string& named) {
    if (named.empty() || named.front() != '~') return named;
    const std::size_t slash = std::min(named.find('/'), named.size());
    const std::string user = named.substr(1, slash - 1);
    std::string dir;
    if (user.empty()) {
        const char* home = std::getenv("HOME");
        if (home == nullptr || *home == '\0') return std::nullopt;
        dir = home;
    } else {
        struct passwd pw {};
        struct passwd* got = nullptr;
        std::vector<char> buf(16384);
        if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &got) != 0 || got == nullptr ||
            pw.pw_dir == nullptr)
            return std::nullopt;
        dir = pw.pw_dir;
    }
    return dir + named.substr(slash);
}

// The project paths (unresolved) that a path a git config names stands for: `named`
// absolute, or relative to each of `bases`; where the view's reading leaves the project, as
// the host's links take it (host_names). Shared by core.hooksPath and the command keys, so
// that both reach a file by the same ways.
std::vector<std::string> config_path_names(const View& view, const std::string& project,
                                           const std::string& named,
                                           const std::vector<std::string>& bases, ViewDirs& dirs) {
    std::vector<std::string> cands, out;
    if (named.empty()) return out;
    if (named.front() == '/') cands.push_back(named);
    else
        for (const auto& b : bases) cands.push_back(b.empty() ? named : b + "/" + named);
    for (const auto& c : cands) {
        if (!view.resolve(c, false).outside) {
            out.push_back(c);
            continue;
        }
        HostNames h = host_names(view, project, c.front() == '/' ? c : project + "/" + c, dirs);
        for (auto& n : h.in_project) out.push_back(std::move(n));
        // The directory git runs in, any: as a hooks directory, the whole project (as a
        // relative `.` is); as a command's word, a directory, which runs nothing.
        if (h.every_dir) out.push_back("");
    }
    return out;
}

// The files of the project that git reads as configuration through an include
// (gitconfig.hpp): named by the config of a git directory of the view, or by the user's or the
// system's (an absolute or `~/` include can name a project file), and by those files in turn,
// as deep as git follows them. Each both as named and as its symlinks resolve in the view.
// The core.hooksPath values and the commands (gitconfig.hpp) of every config read go to
// `finds`: each config is read and parsed once, for all three.
std::set<std::string> included_configs(const View& view, const std::string& project,
                                       const std::vector<std::string>& git_dirs,
                                       ViewDirs& dirs, GitConfigFinds& finds) {
    struct Source {
        std::string path;  // project-relative when `in_project`, else absolute on the host
        bool in_project;
        // The directory its relative includes start from: that of the path git opened it by
        // (config.c handle_path_include), symlinks unresolved -- not that of where they lead.
        std::string dir;
    };
    // The directory of `path` as a string ("/" for a file at the root, "" for one at the
    // project's).
    const auto dir_of = [](const std::string& path) {
        std::string d = fsops::split_parent(path).first;
        return d.empty() && !path.empty() && path.front() == '/' ? std::string("/") : d;
    };
    std::vector<Source> todo;
    for (const auto& d : git_dirs) {
        const std::string at = d.empty() ? "" : d + "/";
        todo.push_back({at + "config", true, d});
        todo.push_back({at + "config.worktree", true, d});
    }
    const char* home = std::getenv("HOME");
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    const char* global = std::getenv("GIT_CONFIG_GLOBAL");
    const char* system = std::getenv("GIT_CONFIG_SYSTEM");
    const auto host = [&](std::string path) {
        std::string d = dir_of(path);
        todo.push_back({std::move(path), false, std::move(d)});
    };
    if (home != nullptr && *home != '\0') host(std::string(home) + "/.gitconfig");
    if (xdg != nullptr && *xdg != '\0')
        host(std::string(xdg) + "/git/config");
    else if (home != nullptr && *home != '\0')
        host(std::string(home) + "/.config/git/config");
    if (global != nullptr && *global != '\0') host(global);
    host(system != nullptr && *system != '\0' ? system : "/etc/gitconfig");

    // git reads a config whole; all of them together are bounded, for a config the sandbox
    // wrote can include the host's largest files.
    std::size_t budget = 64 << 20;
    std::set<std::string> found;
    std::set<std::pair<std::string, bool>> read;
    // git stops at ten levels of includes; a bound on files read serves the same end here.
    for (std::size_t i = 0; i < todo.size() && i < 256; ++i) {
        const Source src = todo[i];
        // Once per place its relative includes start from.
        if (!read.insert({src.path + '\0' + src.dir, src.in_project}).second) continue;
        std::string text;
        if (src.in_project) {
            text = view.small_file(src.path, budget);
        } else {
            // A regular file only: a config the sandbox wrote can name /dev/tty or a fifo.
            unique_fd f(::open(src.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
            struct stat st {};
            if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            text = read_prefix(f.get(), budget);
        }
        budget -= text.size();
        GitConfigFinds f = git_config_read(text);
        for (auto& h : f.hooks_paths) finds.hooks_paths.push_back(std::move(h));
        for (auto& c : f.commands) finds.commands.push_back(std::move(c));
        for (const auto& named : f.includes) {
            const auto expanded = expand_tilde(named);
            if (!expanded) continue;
            const std::string rel =
                expanded->front() == '/' || src.dir.empty() ? *expanded : src.dir + "/" + *expanded;
            std::vector<std::string> rels{rel};
            // And from where the including file's symlinks lead, should git have named it by
            // its resolved path.
            if (const std::string there = dir_of(src.path);
                named.front() != '~' && named.front() != '/' && there != src.dir)
                rels.push_back(there.empty() ? named : there + "/" + named);
            // A path that leaves the project by the view's reading may come back into it
            // through the host's own links (`/home/u/proj-link/x`, `/tmp/../proj/x`): the
            // kernel follows those for git, so it is taken as the host resolves it now, too.
            // Through /proc/self/cwd (or an fd) it names a file in whatever directory git
            // runs in: the file of that name in every directory of the project.
            if (view.resolve(rels.front(), false).outside) {
                const std::string& first = rels.front();
                HostNames h = host_names(
                    view, project, first.front() == '/' ? first : project + "/" + first, dirs);
                for (const auto& n : h.in_project)
                    rels.push_back(project + (n.empty() ? "" : "/" + n));
                if (h.host && *h.host != first) rels.push_back(*h.host);
            }
            for (const auto& r : rels) {
                const auto as_named = view.resolve(r, false);
                const auto as_opened = view.resolve(r, true);
                if (!as_named.outside) found.insert(as_named.path);
                if (!as_opened.outside) {
                    found.insert(as_opened.path);
                    todo.push_back({as_opened.path, true, dir_of(r)});
                } else {
                    std::string abs =
                        r.front() == '/' ? r : util::normalize_path(project + "/" + r);
                    std::string d = dir_of(abs);
                    todo.push_back({std::move(abs), false, std::move(d)});
                }
            }
        }
    }
    return found;
}

// The project directories that git runs hooks from by a core.hooksPath of `values`: an
// absolute one (or `~/`) where the host and the view take it, a relative one from the top of
// every repository of the project (`tops`: a `.git`'s directory, a bare-shaped repository),
// since which config applies to which repository is not worth the risk of telling apart.
std::vector<std::string> hooks_path_dirs(const View& view, const std::string& project,
                                         const std::vector<std::string>& values,
                                         const std::vector<std::string>& tops, ViewDirs& dirs) {
    std::vector<std::string> out;
    for (const auto& v : values) {
        const auto named = expand_tilde(v);
        if (!named) continue;
        for (const auto& n : config_path_names(view, project, *named, tops, dirs)) {
            for (const bool follow : {false, true}) {
                const auto r = view.resolve(n, follow);
                if (!r.outside) out.push_back(r.path);
            }
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// The project files that the commands of git config keys name (gitconfig.hpp: the program or
// any shell word of it), each with the first key naming it: a word relative to the top of
// every repository of the project (git runs the command there, setup.c) and to the project
// itself (git run outside a repository runs it where it was started), absolute, or `~/`,
// reached as hooksPath's values are. Every path the walk to the file passes through is
// listed, each directory and link on the way, so that a change to one of those asks too,
// with the key and the file it leads to.
// A path: the key naming the file it leads to, and that file.
using RunBy = std::map<std::string, std::pair<std::string, std::string>>;

RunBy command_files(const View& view, const std::string& project,
                    const std::vector<GitConfigCommand>& commands,
                    const std::vector<std::string>& tops, ViewDirs& dirs) {
    RunBy out;
    std::vector<std::string> bases = tops;
    if (std::find(bases.begin(), bases.end(), "") == bases.end()) bases.push_back("");
    std::set<std::string> done;
    for (const auto& c : commands) {
        for (const auto& word : git_command_words(c.value)) {
            if (!done.insert(word).second) continue;
            const auto named = expand_tilde(word);
            if (!named || named->empty()) continue;
            for (const auto& n : config_path_names(view, project, *named, bases, dirs)) {
                std::vector<std::string> visited;
                view.resolve(n, true, &visited);
                if (visited.empty()) continue;
                const std::string file = visited.back();
                for (auto& v : visited) out.emplace(std::move(v), std::make_pair(c.key, file));
            }
        }
    }
    return out;
}

// The first of `names` below one of `dirs`, with that directory.
std::optional<std::pair<std::string, std::string>> hooks_dir_of(
    const std::vector<std::string>& names, const std::vector<std::string>& dirs) {
    for (const auto& n : names)
        for (const auto& d : dirs)
            if (d.empty() || util::path_within(n, d)) return std::make_pair(n, d);
    return std::nullopt;
}

// A branch the change set moves in git directory `git_dir`: its name, and the commit it
// names in the project and in the view ("" where it names none).
struct MovedRef {
    std::string name, old_id, new_id;
};

// The id ref `name` of `git_dir` holds, read by `read` (the project's files or the view's):
// its loose file, else its packed-refs line; a symbolic HEAD followed once.
std::string ref_id(const std::function<std::string(const std::string&)>& read,
                   const std::string& git_dir, std::string name, int depth = 0) {
    const std::string at = git_dir.empty() ? "" : git_dir + "/";
    std::string value = first_line(read(at + name));
    if (value.starts_with("ref:")) {
        if (depth > 0) return "";
        return ref_id(read, git_dir, std::string(util::trim(value.substr(4))), depth + 1);
    }
    if (!value.empty()) return std::string(util::trim(value));
    for (const auto& line : util::split(read(at + "packed-refs"), '\n')) {
        const auto sp = line.find(' ');
        if (sp != std::string::npos && line.substr(sp + 1) == name) return line.substr(0, sp);
    }
    return "";
}

// The branches (and HEAD) change `c` moves, when it is a ref file of `git_dir`.
std::vector<MovedRef> moved_refs(const View& view, const std::string& git_dir, const Change& c) {
    const std::string inside = git_dir.empty() ? c.path : c.path.substr(git_dir.size() + 1);
    std::vector<std::string> names;
    if (inside == "HEAD" || inside.starts_with("refs/heads/")) {
        names.push_back(inside);
    } else if (inside == "packed-refs") {
        const std::string at = git_dir.empty() ? "" : git_dir + "/";
        for (const auto& line : util::split(view.small_file(c.path, std::size_t{64} << 20), '\n')) {
            const auto sp = line.find(' ');
            if (sp == std::string::npos || !line.substr(sp + 1).starts_with("refs/heads/")) continue;
            // A loose file of the same name is the one git reads.
            if (view.lookup(at + line.substr(sp + 1)) == View::Node::missing)
                names.push_back(line.substr(sp + 1));
        }
    }
    const auto now = [&](const std::string& rel) { return view.project_file(rel, std::size_t{64} << 20); };
    const auto then = [&](const std::string& rel) { return view.small_file(rel, std::size_t{64} << 20); };
    std::vector<MovedRef> out;
    for (const auto& n : names) {
        MovedRef m{n, ref_id(now, git_dir, n), ref_id(then, git_dir, n)};
        // A value that is no object id, or the null id, names no commit: git takes the ref
        // for broken and writes nothing from it.
        const bool id = (m.new_id.size() == 40 || m.new_id.size() == 64) &&
                        m.new_id.find_first_not_of("0123456789abcdef") == std::string::npos &&
                        m.new_id.find_first_not_of('0') != std::string::npos;
        if (!id || m.new_id == m.old_id) continue;
        if (m.old_id.size() != m.new_id.size() ||
            m.old_id.find_first_not_of("0123456789abcdef") != std::string::npos ||
            m.old_id.find_first_not_of('0') == std::string::npos)
            m.old_id.clear();  // nothing to compare with: every path of the new tree counts
        out.push_back(std::move(m));
    }
    return out;
}

// The replace refs (refs/replace/<id>) that packed-refs change `c` of `git_dir` adds or
// points elsewhere. Each makes git read another object wherever <id> is named, so a commit
// a branch already names gains files without the branch moving; the loose ref asks by the
// allowlist (policy/gitdir.cpp), and this is the same ref packed.
std::vector<std::string> new_replace_refs(const View& view, const std::string& git_dir,
                                          const Change& c) {
    const std::string inside = git_dir.empty() ? c.path : c.path.substr(git_dir.size() + 1);
    if (inside != "packed-refs") return {};
    const auto now = [&](const std::string& rel) { return view.project_file(rel, std::size_t{64} << 20); };
    std::vector<std::string> out;
    for (const auto& line : util::split(view.small_file(c.path, std::size_t{64} << 20), '\n')) {
        const auto sp = line.find(' ');
        if (sp == std::string::npos) continue;
        const std::string name(util::trim(line.substr(sp + 1)));
        if (name.starts_with("refs/replace/") &&
            ref_id(now, git_dir, name) != util::trim(line.substr(0, sp)))
            out.push_back(name);
    }
    return out;
}

}  // namespace
namespace {

// Every name by which the project reaches `path`: itself, and through each link of `links`
// whose target holds it, the link's own names. A link is used once in a chain (`x -> .` would
// give x/x/x/...). False when there are more than `limit` names: too many to judge, which
// the caller treats as protected.
bool names_of(const std::string& path, const Links& links, std::vector<std::string>& names,
              std::vector<bool>& used, std::size_t limit) {
    for (std::size_t i = 0; i < links.into.size(); ++i) {
        if (used[i]) continue;
        const auto& [link, target] = links.into[i];
        if (!target.empty() && !util::path_within(path, target)) continue;
        const std::string rest = target.empty() ? path : path.substr(target.size());
        const std::string name =
            target.empty() ? link + (path.empty() ? "" : "/" + path) : link + rest;
        if (std::find(names.begin(), names.end(), name) != names.end()) continue;
        if (names.size() >= limit) return false;
        names.push_back(name);
        used[i] = true;
        const bool ok = names_of(name, links, names, used, limit);
        used[i] = false;
        if (!ok) return false;
    }
    return true;
}

Judged judged_as(const Change& c, const policy::Decision& d) {
    Judged j;
    j.change = c;
    j.verdict = d.verdict;
    j.rule = d.rule;
    j.source = d.source.str();
    if (d.verdict == policy::Verdict::allow) return j;
    if (d.source.line > 0) {
        j.why = d.rule + " (" + d.source.file + ":" + std::to_string(d.source.line) + ")";
        // Protected under another name: say which, or the rule seems not to match.
        if (auto at = d.reason.find("(reached as "); at != std::string::npos)
            j.why += " " + d.reason.substr(at, d.reason.find(')', at) + 1 - at);
    } else {
        // A built-in rule (git directories): its reason says what it found.
        j.why = d.rule + ": " + d.reason;
    }
    return j;
}

// Each of `changes` judged in the View of `changes` (the project as committing all of them
// would leave it); `consulted[i]`: whether the View consulted `changes[i]` (View::consulted).
std::vector<Judged> judge_in_view(const profile::Profile& prof, const std::string& project,
                                  const std::string& upper, const std::vector<Change>& changes,
                                  std::vector<bool>* consulted = nullptr) {
    const View view(project, upper, changes);
    // The links and `.git` entries of the project as the commit would leave it: the
    // project's, less what the change set deletes or replaces, and the change set's own.
    unique_fd proj(::open(project.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!proj) throw sys::SysError("open", project, errno);
    Links links = walk_project(proj.get(), view);
    // Whether the commit replaces content the project holds: a modification or a change of
    // type, or an entry "added" under a directory the change set replaced while the project
    // still has one of that name (`rm -rf d; mkdir d; echo x > d/f`).
    auto rewrites = [&](const Change& c) {
        if (c.kind == Kind::modified || c.kind == Kind::type) return true;
        struct stat st {};
        return c.kind == Kind::added &&
               ::fstatat(proj.get(), c.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    };
    for (const auto& c : changes) {
        if (c.kind == Kind::deleted) continue;
        const auto [parent, name] = fsops::split_parent(c.path);
        if (name == ".git" && std::find(links.dot_git.begin(), links.dot_git.end(), c.path) ==
                                  links.dot_git.end())
            links.dot_git.push_back(c.path);
        if (!S_ISLNK(c.new_mode)) continue;
        const auto r = view.resolve(c.path, true);
        if (!r.outside &&
            std::none_of(links.into.begin(), links.into.end(),
                         [&](const auto& l) { return l.first == c.path; }))
            links.into.emplace_back(c.path, r.path);
    }
    policy::CommitFacts shared;
    const std::vector<std::string> bare = bare_git_dirs(view, links.heads, changes);
    shared.git_dirs = other_git_dirs(view, links.dot_git, bare);
    // A directory the commit turns into a repository: everything it puts there asks, the
    // HEAD, objects/, refs/ or commondir that complete the shape among it. Otherwise a config
    // already there (committed as a plain file while the directory was no repository) would
    // become git's without anyone approving it.
    std::vector<std::string> becoming;
    for (const auto& d : bare)
        if (!view.git_dir_shape(d, true)) becoming.push_back(d);
    auto becomes_repo = [&](const Change& c) -> const std::string* {
        if (c.kind == Kind::deleted) return nullptr;
        for (const auto& d : becoming)
            if (d.empty() || (c.path != d && util::path_within(c.path, d))) return &d;
        return nullptr;
    };
    for (const auto& g : links.dot_git) {
        const std::string root = fsops::split_parent(g).first;
        if (!root.empty() && view.lookup(g) != View::Node::missing) shared.repo_roots.push_back(root);
    }

    // Files git reads as configuration through an include; every git directory's config.
    std::vector<std::string> all_git_dirs = shared.git_dirs;
    for (const auto& g : links.dot_git)
        if (view.lookup(g) == View::Node::other) all_git_dirs.push_back(g);
    ViewDirs dirs(project, changes);
    GitConfigFinds finds;
    const std::set<std::string> included =
        included_configs(view, project, all_git_dirs, dirs, finds);
    std::vector<std::string> repo_tops = bare;
    for (const auto& g : links.dot_git)
        if (view.lookup(g) != View::Node::missing) repo_tops.push_back(fsops::split_parent(g).first);
    const std::vector<std::string> hook_dirs =
        hooks_path_dirs(view, project, finds.hooks_paths, repo_tops, dirs);
    const RunBy run_by = command_files(view, project, finds.commands, repo_tops, dirs);

    // A changed index of a git directory: what `git checkout -- .` would write (gitindex.hpp).
    unique_fd up(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto index_hazard = [&](const Change& c) -> std::optional<std::string> {
        const auto [parent, name] = fsops::split_parent(c.path);
        if (name != "index" || !S_ISREG(c.new_mode)) return std::nullopt;
        if (fsops::split_parent(parent).second != ".git" &&
            std::find(shared.git_dirs.begin(), shared.git_dirs.end(), parent) ==
                shared.git_dirs.end())
            return std::nullopt;
        std::string data;
        int err = EBADF;
        try {
            unique_fd d = fsops::open_dir_beneath(up.get(), parent, upper + "/" + parent);
            unique_fd f(::openat(d.get(), name.c_str(),
                                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
            err = f ? sys::read_fd(f.get(), data, std::size_t{1} << 30) : errno;
        } catch (const sys::SysError& e) {
            err = e.err();
        }
        if (err != 0)
            return "agentbox cannot read it to check it: " + std::string(std::strerror(err));
        if (auto hazard = git_index_hazard(data)) return hazard;
        // Entries the change brings (new, or another id or mode than the project's index
        // holds) at a path the commit rules ask for: `git add` of a workflow, then `rm`, and
        // the user's `git checkout -- .` or `git stash` writes it. A bare-shaped git
        // directory has no work tree here.
        const auto [top, git_name] = fsops::split_parent(parent);
        const auto now = git_index_entries(data);
        if (git_name != ".git" || !now) return std::nullopt;
        std::map<std::string, std::pair<std::string, std::uint32_t>> before;
        if (const auto old = git_index_entries(view.project_file(c.path, std::size_t{1} << 30)))
            for (const auto& e : *old) before[e.path] = {e.id, e.mode};
        std::vector<std::string> asked;
        policy::CommitFacts facts = shared;
        facts.rewrite = true;
        for (const auto& e : *now) {
            const auto it = before.find(e.path);
            if (it != before.end() && it->second == std::make_pair(e.id, e.mode)) continue;
            const std::string rel = top.empty() ? e.path : top + "/" + e.path;
            if (policy::decide_commit(prof, project, rel, facts).verdict != policy::Verdict::allow)
                asked.push_back(util::quote(rel));
            if (asked.size() > 8) break;
        }
        if (asked.empty()) return std::nullopt;
        return "it holds new content for " + util::join(asked, ", ") +
               ", which the commit rules ask for: git checkout -- . or git stash writes it";
    };

    // A pack of a git directory: git reads a packed object by what the pack's index says
    // and never hashes it, packs before loose objects, so a new pack whose index names
    // HEAD's tree for a tree of other files changes what `git reset --hard` writes
    // (gitrefs.hpp verify_pack). And a pack removed leaves a loose object of the same
    // name, which git reads as unchecked, in its place.
    std::map<std::string, std::string> packs_checked;
    auto pack_hazard = [&](const Change& c) -> std::optional<std::string> {
        for (const auto& g : all_git_dirs) {
            if (!g.empty() && !util::path_within(c.path, g)) continue;
            const std::string at = g.empty() ? "" : g + "/";
            if (!c.path.starts_with(at + "objects/pack/pack-")) continue;
            const auto [parent, name] = fsops::split_parent(c.path);
            const auto dot = name.rfind('.');
            const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
            if (ext != ".pack" && ext != ".idx" && ext != ".rev") continue;
            const std::string base = name.substr(0, dot);
            if (c.kind == Kind::deleted) {
                if (ext == ".rev") return std::nullopt;
                return "removing a pack of " + util::quote(g.empty() ? "." : g) +
                       " leaves git to read any loose object of the same name in its place, "
                       "which it does not hash";
            }
            if (!S_ISREG(c.new_mode)) return std::nullopt;
            const std::string key = parent + "/" + base;
            auto it = packs_checked.find(key);
            if (it == packs_checked.end()) {
                std::string why;
                try {
                    unique_fd d = fsops::open_dir_beneath(up.get(), parent, upper + "/" + parent);
                    auto regular = [&](const std::string& n) {
                        struct stat st {};
                        return ::fstatat(d.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                               S_ISREG(st.st_mode);
                    };
                    if (!regular(base + ".pack") || !regular(base + ".idx"))
                        why = "the run did not write both the pack and its index";
                    else
                        why = verify_pack(d.get(), base + ".pack", regular(base + ".rev"));
                } catch (const sys::SysError& e) {
                    why = e.what();
                }
                it = packs_checked.emplace(key, std::move(why)).first;
            }
            if (it->second.empty()) return std::nullopt;
            return util::quote(parent + "/" + base + ".pack") + ": " + it->second +
                   "; git reads a packed object as its index says, unhashed, so a checkout "
                   "could write what the review never showed";
        }
        return std::nullopt;
    };

    // A moved branch: what the next `git reset --hard` or checkout on the host writes
    // (gitrefs.hpp). Its commits' paths are judged as changes of the work tree would be.
    auto ref_hazard = [&](const Change& c) -> std::optional<std::string> {
        if (c.kind == Kind::deleted || !S_ISREG(c.new_mode)) return std::nullopt;
        for (const auto& g : all_git_dirs) {
            if (!g.empty() && !util::path_within(c.path, g)) continue;
            if (c.path == g) continue;
            if (const auto replaced = new_replace_refs(view, g, c); !replaced.empty())
                return util::quote(replaced.front()) +
                       (replaced.size() > 1 ? " and " + std::to_string(replaced.size() - 1) + " more" : "") +
                       " in " + util::quote(c.path) + ": a replace ref, which makes git read "
                       "another object wherever the one it names is used (a commit a branch "
                       "already names, a file's content); git reset --hard or checkout writes it";
            for (const auto& m : moved_refs(view, g, c)) {
                const std::string at = g.empty() ? "" : g + "/";
                const RefMove r = read_ref_move({upper + "/" + at + "objects", project + "/" + at + "objects"},
                                                m.old_id, m.new_id);
                const std::string what = util::quote(m.name) + " moves to " +
                                         util::quote(m.new_id.substr(0, 12));
                if (!r.readable)
                    return what + ", whose commits git cannot read (" + r.error + "); a later "
                           "git reset --hard or checkout writes what the review never showed";
                // The work tree is the `.git`'s directory; a bare-shaped one has none here.
                const auto [top, name] = fsops::split_parent(g);
                if (name != ".git") continue;
                std::vector<std::string> asked;
                policy::CommitFacts facts = shared;
                facts.rewrite = true;
                for (const auto& p : r.paths) {
                    const std::string rel = top.empty() ? p : top + "/" + p;
                    if (policy::decide_commit(prof, project, rel, facts).verdict !=
                        policy::Verdict::allow)
                        asked.push_back(util::quote(rel));
                }
                if (asked.empty()) continue;
                std::string commits;
                for (std::size_t i = 0; i < r.commits.size() && i < 5; ++i)
                    commits += (i ? ", " : "") + util::quote(r.commits[i]);
                if (asked.size() > 8) asked.resize(8), asked.push_back("...");
                return what + " (" + std::to_string(r.commits.size()) + " commit(s): " + commits +
                       "), which change " + util::join(asked, ", ") + ": protected paths that a "
                       "later git reset --hard or checkout writes";
            }
        }
        return std::nullopt;
    };

    std::vector<Judged> out;
    out.reserve(changes.size());
    for (const auto& c : changes) {
        if (!c.refused.empty()) {
            Judged j;
            j.change = c;
            j.verdict = policy::Verdict::deny;
            j.why = c.refused + ": never committed";
            out.push_back(std::move(j));
            continue;
        }
        policy::CommitFacts facts = shared;
        facts.symlink = S_ISLNK(c.new_mode) || S_ISLNK(c.old_mode);
        facts.rewrite = rewrites(c);
        std::vector<std::string> names{c.path};
        std::vector<bool> used(links.into.size(), false);
        const bool all_names = names_of(c.path, links, names, used, 64);
        facts.aliases.assign(names.begin() + 1, names.end());
        Judged j = judged_as(c, policy::decide_commit(prof, project, c.path, facts));
        if (j.verdict == policy::Verdict::ask && c.kind == Kind::added && S_ISDIR(c.new_mode)) {
            // A new directory only creates an empty directory; a protect pattern below it
            // is judged on the entries themselves.
            j.verdict = policy::Verdict::allow;
            j.why.clear();
        }
        if (j.verdict != policy::Verdict::allow) {
            out.push_back(std::move(j));
            continue;
        }
        if (const std::string* repo = becomes_repo(c)) {
            j.verdict = policy::Verdict::ask;
            j.why = util::quote(repo->empty() ? "." : *repo) +
                    " becomes a git repository with this commit (a HEAD with objects/ and refs/, "
                    "or a commondir): git run in it reads its config and hooks";
            j.rule = "new git repository";
            j.source = "<staging rules>";
        } else if (auto inc = std::find_if(names.begin(), names.end(),
                                           [&](const std::string& n) { return included.count(n); });
                   c.kind != Kind::deleted && inc != names.end()) {
            j.verdict = policy::Verdict::ask;
            j.why = util::quote(*inc) + " is included by a git config (include.path): git reads "
                    "it as configuration of the repository";
            j.rule = "git config include";
            j.source = "<staging rules>";
        } else if (auto in = hooks_dir_of(names, hook_dirs);
                   in && c.kind != Kind::deleted && !S_ISDIR(c.new_mode)) {
            j.verdict = policy::Verdict::ask;
            j.why = util::quote(in->first) + " is in " + util::quote(in->second.empty() ? "." : in->second) +
                    ", the directory a git config names as core.hooksPath: git runs the hooks "
                    "there";
            j.rule = "git hooks path";
            j.source = "<staging rules>";
        } else if (auto run = std::find_if(names.begin(), names.end(),
                                           [&](const std::string& n) { return run_by.count(n); });
                   c.kind != Kind::deleted && !S_ISDIR(c.new_mode) && run != names.end()) {
            const auto& [key, file] = run_by.at(*run);
            j.verdict = policy::Verdict::ask;
            j.why =
                (*run == file ? util::quote(*run)
                              : util::quote(*run) + " leads to " + util::quote(file) + ", which") +
                " is named by " + key + " in a git config: git runs that command";
            j.rule = "git config command";
            j.source = "<staging rules>";
        } else if (auto hazard = index_hazard(c)) {
            j.verdict = policy::Verdict::ask;
            j.why = util::quote(c.path) + " is a git index: " + *hazard;
            j.rule = "git index";
            j.source = "<staging rules>";
        } else if (auto pack = pack_hazard(c)) {
            j.verdict = policy::Verdict::ask;
            j.why = *pack;
            j.rule = "git pack";
            j.source = "<staging rules>";
        } else if (auto moved = ref_hazard(c)) {
            j.verdict = policy::Verdict::ask;
            j.why = *moved;
            j.rule = "git ref";
            j.source = "<staging rules>";
        } else if (!all_names) {
            j.verdict = policy::Verdict::ask;
            j.why = "reached through more than 64 names (symlinks into it); not judged name by name";
            j.rule = "symlink aliases";
            j.source = "<staging rules>";
        } else if (S_ISLNK(c.new_mode)) {
            // Where the link leads once committed, through the links already in the project
            // and those in the change set: `key -> ssh-link/id_rsa` leaves the project when
            // `ssh-link` does.
            if (c.link_outside || view.resolve(c.path, true).outside) {
                j.verdict = policy::Verdict::ask;
                j.why = "symlink to " + util::quote(c.link_target) + ", which leads outside the project";
                j.rule = "symlink outside the project";
                j.source = "<staging rules>";
            }
        }
        out.push_back(std::move(j));
    }
    if (consulted != nullptr)
        for (const auto& c : changes) consulted->push_back(view.consulted(c));
    return out;
}

}  // namespace

std::vector<Judged> judge(const profile::Profile& prof, const std::string& project,
                          const std::string& upper, const std::vector<Change>& changes) {
    // A change held back leaves the project's entry in place: `.vscode` stays the host's
    // link out of the project, and `notes -> .vscode/settings.json`, inside through the
    // directory the change set made there, leads out through the link. So the changes the
    // rules allow are judged again in the View of only those (the held-back ones read from
    // the project), until a round holds back none more. A round only holds back more, so it
    // ends, after one round per change at the most; and a change keeps the first verdict
    // that held it back -- the one of the whole change set (every approval given) comes
    // first. A directory, a deletion or a link the run replaced is read from the project at
    // any component of a path, the last or not.
    //
    // Another round only when the View consulted a change it now leaves out: otherwise
    // every answer, and so every verdict, would be the same (a protected file held back
    // that no link, `.git` or config leads to costs no second walk of the project).
    std::vector<bool> consulted;
    std::vector<Judged> out = judge_in_view(prof, project, upper, changes, &consulted);
    std::vector<std::size_t> in_view(out.size());  // the View's changes, as indices of `out`
    for (std::size_t i = 0; i < in_view.size(); ++i) in_view[i] = i;
    for (;;) {
        std::vector<Change> lands;
        std::vector<std::size_t> at;
        bool differs = false;
        for (std::size_t k = 0; k < in_view.size(); ++k) {
            const std::size_t i = in_view[k];
            if (out[i].verdict == policy::Verdict::allow) {
                lands.push_back(out[i].change);
                at.push_back(i);
            } else if (consulted[k]) {
                differs = true;
            }
        }
        if (!differs) break;
        consulted.clear();
        std::vector<Judged> again = judge_in_view(prof, project, upper, lands, &consulted);
        for (std::size_t k = 0; k < again.size(); ++k)
            if (again[k].verdict != policy::Verdict::allow) out[at[k]] = std::move(again[k]);
        in_view = std::move(at);
    }
    return out;
}

std::vector<BranchMove> branch_moves(const std::string& project, const std::string& upper,
                                     const std::vector<Change>& changes) {
    const View view(project, upper, changes);
    std::vector<BranchMove> out;
    for (const auto& c : changes) {
        if (c.kind == Kind::deleted || !S_ISREG(c.new_mode)) continue;
        // The git directory a ref file lies in: the deepest `.git` above it, or the directory
        // holding a HEAD, a packed-refs or refs/heads/ that has a git directory's shape.
        std::string git_dir, prefix;
        bool found = false;
        const auto parts = util::split(c.path, '/');
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            prefix += (i ? "/" : "") + parts[i];
            if (parts[i] == ".git") git_dir = prefix, found = true;
        }
        if (!found) {
            const auto at = c.path.find("refs/heads/");
            std::string d = at != std::string::npos && (at == 0 || c.path[at - 1] == '/')
                                ? c.path.substr(0, at == 0 ? 0 : at - 1)
                                : fsops::split_parent(c.path).first;
            if (!view.git_dir_shape(d, false)) continue;
            git_dir = std::move(d);
        }
        if (!git_dir.empty() && !util::path_within(c.path, git_dir)) continue;
        const std::string at = git_dir.empty() ? "" : git_dir + "/";
        for (auto& m : moved_refs(view, git_dir, c)) {
            BranchMove b{c.path, git_dir, m.name, m.old_id, m.new_id, {}};
            b.move = read_ref_move({upper + "/" + at + "objects", project + "/" + at + "objects"},
                                   m.old_id, m.new_id);
            out.push_back(std::move(b));
        }
    }
    return out;
}

std::vector<Change> pick(const std::vector<Change>& all, const std::vector<std::string>& paths) {
    if (paths.empty()) return all;
    const auto asked = [&](const Change& c) {
        return std::any_of(paths.begin(), paths.end(), [&](const std::string& p) {
            return p.empty() || util::path_within(c.path, p);
        });
    };
    std::set<std::string> wanted;
    for (const auto& c : all) {
        if (!asked(c)) continue;
        wanted.insert(c.path);
        // The new directories it lives in come with it.
        for (auto slash = c.path.find('/'); slash != std::string::npos;
             slash = c.path.find('/', slash + 1))
            wanted.insert(c.path.substr(0, slash));
    }
    std::vector<Change> out;
    for (const auto& c : all) {
        if (!wanted.count(c.path)) continue;
        // An ancestor is only needed when it is new (or changes type): a mode change or an
        // opaque marker of a parent was not asked for.
        if (!asked(c) && !(c.kind == Kind::added || c.kind == Kind::type)) continue;
        out.push_back(c);
    }
    return out;
}

namespace {

// A held-back change whose entries cannot land without it: the project keeps what is at its
// path (the host's link or file, the old directory, or nothing), so an entry below it would
// land through that link, into what the command emptied, or nowhere -- the commit failed
// at `.vscode/sub` under the user's `.vscode` link, and no change of the set landed. A mode
// change of a directory is not one: the directory is there either way.
bool holds_entries(const Change& h) {
    return h.kind == Kind::added || h.kind == Kind::type || h.kind == Kind::replaced ||
           h.kind == Kind::deleted;
}

// The deepest of `holders` that `path` lies strictly below, or nullptr.
const Judged* held_above(const std::map<std::string, const Judged*>& holders,
                         const std::string& path) {
    for (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = path.rfind('/', slash - 1)) {
        const auto it = holders.find(path.substr(0, slash));
        if (it != holders.end()) return it->second;
    }
    return nullptr;
}

}  // namespace

Selection choose(const std::vector<Judged>& judged,
                 const std::function<bool(const Judged&)>& approved) {
    const std::size_t n = judged.size();
    std::vector<std::optional<Judged>> held(n);  // set: held back, with why
    std::map<std::string, const Judged*> holders;
    for (std::size_t i = 0; i < n; ++i) {
        const Judged& j = judged[i];
        const bool ok = j.verdict == policy::Verdict::allow ||
                        (j.verdict == policy::Verdict::ask && approved && approved(j));
        if (ok) continue;
        held[i] = j;
        if (holds_entries(j.change)) holders.emplace(j.change.path, &j);
    }
    // Below a held-back directory: held with it, approved or not (the nearest one named).
    for (std::size_t i = 0; i < n && !holders.empty(); ++i) {
        if (held[i]) continue;
        const Judged* h = held_above(holders, judged[i].change.path);
        if (h == nullptr) continue;
        Judged j = judged[i];
        j.verdict = h->verdict;
        j.why = "under held-back " + util::quote(h->change.path);
        j.rule = "held-back directory";
        j.source = "<staging rules>";
        j.held_by = h->change.path;
        held[i] = std::move(j);
    }
    // A new directory with nothing left to put in it is held back too (which can leave its
    // parent empty in turn). Tree order (changes.hpp) puts a directory's entries right after
    // it, so reversed it gives the deepest first.
    for (std::size_t i = n; i-- > 0;) {
        const Change& c = judged[i].change;
        if (held[i] || c.kind != Kind::added || !S_ISDIR(c.new_mode)) continue;
        bool some_held = false, some_go = false, some_ask = false;
        for (std::size_t k = i + 1; k < n && util::path_within(judged[k].change.path, c.path);
             ++k) {
            if (held[k]) {
                some_held = true;
                some_ask = some_ask || held[k]->verdict == policy::Verdict::ask;
            } else {
                some_go = true;
            }
        }
        if (!some_held || some_go) continue;
        Judged j = judged[i];
        j.verdict = some_ask ? policy::Verdict::ask : policy::Verdict::deny;
        j.why = "every change in it is held back";
        j.rule = "held-back entries";
        j.source = "<staging rules>";
        j.held_by = c.path;
        held[i] = std::move(j);
    }
    Selection s;
    for (std::size_t i = 0; i < n; ++i) {
        if (!held[i]) s.go.push_back(judged[i].change);
        else if (judged[i].change.kind != Kind::replaced) s.held.push_back(std::move(*held[i]));
    }
    return s;
}

Selection choose(const profile::Profile& prof, const std::string& project,
                 const std::string& upper, std::vector<Judged>& judged,
                 const std::function<bool(const Judged&)>& approved) {
    // An approval is of what was shown: a change whose verdict the View of what is taken
    // changes was shown to nobody as it now is, so no approval given covers it.
    std::set<std::string> unshown;
    const auto still_approved = [&](const Judged& j) {
        return approved && !unshown.count(j.change.path) && approved(j);
    };
    for (;;) {
        Selection s = choose(judged, still_approved);
        // Without an approval, what lands is what judge's last round judged in.
        if (std::none_of(judged.begin(), judged.end(), [&](const Judged& j) {
                return j.verdict == policy::Verdict::ask && still_approved(j);
            }))
            return s;
        std::unordered_map<std::string, Judged> again;
        for (auto& j : judge_in_view(prof, project, upper, s.go))
            again.emplace(j.change.path, std::move(j));
        bool more = false;
        for (auto& j : judged) {
            const auto it = again.find(j.change.path);
            if (it == again.end() || it->second.verdict == policy::Verdict::allow) continue;
            // An approved change asked for the same reason is what was approved.
            if (j.verdict == it->second.verdict && j.why == it->second.why) continue;
            j = std::move(it->second);
            j.why += "; so found once the approvals were applied, which do not cover it";
            unshown.insert(j.change.path);
            more = true;
        }
        if (!more) return s;
    }
}

}  // namespace agentbox::stage
