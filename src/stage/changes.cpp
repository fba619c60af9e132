// The change set: one walk of upper/, with the project consulted only at the paths upper/
// names. Every directory on both sides is opened relative to its parent with O_NOFOLLOW, so a
// symlink swapped into the project while we read cannot redirect the walk.
#include "stage/changes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string_view>

#include "stage/fsops.hpp"
#include "stage/session.hpp"
#include "stage/whiteout.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/stat_times.hpp"
#include "sys/walk.hpp"
#include "sys/xattr.hpp"
#include "util/paths.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

namespace {

using sys::unique_fd;

// A path for error messages, root + "/" + rel, spelled out only when an error names it: the
// walk passes one with every call, and building each string took ~3 allocations a change.
struct Shown {
    const std::string& root;
    std::string_view rel;
    std::string str() const {
        std::string s = root;
        if (!rel.empty()) s.append("/").append(rel);
        return s;
    }
};

// Names in a directory, sorted bytewise, without . and .. and without agentbox's own
// temporaries (fsops::kTempPrefix): a commit or undo cut short may leave one in upper/ or the
// project until recovery, which knows it by name from the journal and removes it; it is never
// a change, on either side. `dirfd` is the walk's descriptor of a project directory, used for
// nothing but *at calls besides this one listing (walk_trees never reads the twin): read
// through it (sys::DentReader: no second open, no DIR on Linux), which consumes its offset.
std::vector<std::string> list_dir(int dirfd, const Shown& shown) {
    std::vector<std::string> names;
    // On the heap at first use (malloc aligns for the dirents' 8-byte fields): a 32 KiB array
    // in the thread-local block was zeroed at every start of every command, 12 of
    // `--version`'s ~148 page faults.
    static thread_local std::vector<char> space(32768);
    sys::DentReader r(dirfd, space.data(), space.size());
    std::string_view name;
    unsigned char type = DT_UNKNOWN;
    while (r.next(name, type))
        if (!fsops::is_temp_name(name)) names.emplace_back(name);
    if (r.error() != 0) throw sys::SysError("readdir", shown.str(), r.error());
    std::sort(names.begin(), names.end());
    return names;
}

// lstat of `name` in `dirfd`; false when it does not exist (or dirfd is -1: no such directory).
bool lstat_at(int dirfd, const std::string& name, struct stat& st, const Shown& shown) {
    if (dirfd < 0) return false;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw sys::SysError("stat", shown.str(), errno);
}

// What the session's own metadata says of a staged directory that the project has too. The
// overlay marks one that hides everything below it in the lower layer with
// overlay.opaque = "y": in the user namespace (userxattr) or the trusted one (mounted as real
// root). What the command sets through the overlay arrives as user.overlay.overlay.* (escaped
// by the kernel) and is not read here. And open_up_staged recorded the mode the command gave
// it where it added its owner's rwx (fsops::staged_dir_mode).
struct DirMarks {
    bool opaque = false;
    mode_t mode = 0;  // st_mode as the command left it
};

[[gnu::noinline]] DirMarks dir_marks(int dirfd, mode_t st_mode) {
    DirMarks m;
    m.mode = st_mode;
    // One listing first: most directories carry no such name, and then one call answers
    // instead of a failed read per name. A list too long for the buffer is read name by
    // name as before.
    char list[1024];
    const ssize_t len = sys::fd_list_xattrs(dirfd, list, sizeof list);
    if (len == 0 || (len < 0 && errno != ERANGE)) return m;
    const std::string_view names(list, len > 0 ? static_cast<std::size_t>(len) : 0);
    for (const std::string_view want : kOpaqueXattrs) {
        if (len > 0 && !sys::xattr_listed(names, want)) continue;
        char v[4];
        const ssize_t n = sys::fd_get_xattr(dirfd, std::string(want).c_str(), v, sizeof v);
        if (n == 1 && v[0] == 'y') m.opaque = true;
    }
    m.mode = fsops::staged_dir_mode(dirfd, st_mode,
                                    len < 0 ? std::string_view(fsops::kModeXattr) : names);
    return m;
}

std::string read_link_at(int dirfd, const std::string& name, const std::string& shown) {
    std::string buf(256, '\0');
    for (;;) {
        const ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
        if (n < 0) throw sys::SysError("readlink", shown, errno);
        if (static_cast<std::size_t>(n) < buf.size()) {
            buf.resize(static_cast<std::size_t>(n));
            return buf;
        }
        buf.resize(buf.size() * 2);
    }
}

}  // namespace

std::string hash_bytes(std::string_view data) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data.data(), data.size()));
    return util::hex(c.digest, sizeof c.digest);
}

namespace {

// Where a symlink at `path` (relative to the project) pointing at `target` leads, lexically.
bool link_leaves_project(const std::string& project, const std::string& path,
                         const std::string& target) {
    if (target.empty()) return false;
    if (target.front() == '/') return !util::path_within(util::normalize_path(target), project);
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    // A relative path keeps the ".." that climb above its start: that is leaving the project.
    const std::string rel = util::normalize_path(dir + target);
    return rel == ".." || rel.starts_with("../");
}

// What the change list refuses, as one change never committed (Change::refused): a staged path
// of more than kMaxStagedDepth components or longer than PATH_MAX. No tool of the project
// could open it by its path, and the walks of the review and of commit stay bounded by it.
constexpr const char* kTooDeep = "deeper than agentbox stages (256 levels or PATH_MAX bytes)";
static_assert(kMaxStagedDepth == 256, "kTooDeep names the bound");

bool too_deep(int depth, std::string_view path) {
    return depth > kMaxStagedDepth || path.size() >= PATH_MAX;
}

// One walk of upper/ with the project as its twin (sys::walk_trees): a directory both have is
// entered on both sides at once, so the project is read only where upper/ has something, and
// the walk holds a bounded number of descriptors of each whatever the depth (design note 81).
//
// Past the bound (too_deep) the walk goes on, but what it finds there is not listed: the
// shallowest too-deep path with a change at or below it -- the "anchor" -- is one refused
// change, and the rest of its subtree is skipped once that is known. A directory past the
// bound that is the project's, copied up untouched (or copy-staged), is no change: a project
// deeper than the bound is reviewed and committed like any other as long as nothing changed
// down there.
class Walker : public sys::WalkVisitor {
public:
    Walker(std::string upper, std::string project, Hashes hashes, Whiteouts whiteouts)
        : upper_(std::move(upper)),
          project_(std::move(project)),
          hashes_(hashes == Hashes::all),
          whiteouts_(whiteouts) {}

    std::vector<Change> run() {
        unique_fd up(::open(upper_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!up) throw sys::SysError("open", upper_, errno);
        unique_fd proj(::open(project_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!proj) throw sys::SysError("open", project_, errno);
        levels_.push_back({});  // the root: never opaque
        // No depth bound: past kMaxStagedDepth the walk still has to tell the project's own
        // levels from changes (design note 81). 16 levels of each tree open: at most ~35
        // descriptors with the two files compared, under a soft limit of 64; deeper, up to a
        // quarter of the limit, so that a usual limit reopens nothing (design note 91).
        sys::walk_trees(up.get(), proj.get(), upper_, project_, *this,
                        {.max_depth = sys::kNoDepthBound,
                         .max_open = 16,
                         .open_share = 4,
                         .sorted = true,
                         .consume_root = true});
        return std::move(out_);
    }

private:
    // A directory the walk is in.
    struct Level {
        // The project's directory here is hidden (an opaque one, or below one): what it has
        // that upper/ lacks is deleted.
        bool opaque = false;
        std::vector<Change> hidden;  // those deletions, by name, not yet listed
        std::size_t next_hidden = 0;
    };

    // What visit() learnt of a directory it sent the walk into, for enter().
    struct Entering {
        Change c;  // its change so far (kind unset), path not yet set
        bool same_type = false;
    };

    std::string_view rel_of(const sys::WalkEntry& e) const {
        return std::string_view(e.path).substr(upper_.size() + 1);
    }
    std::string proj_path(std::string_view rel) const { return Shown{project_, rel}.str(); }

    // A change found at `rel`, `depth` components deep.
    void emit(Change&& c, std::string_view rel, int depth) {
        if (anchor_depth_ >= 0) {
            // Below (or at) the anchor: only whether there is one counts.
            if (!anchor_changed_ && rel == anchor_.path) {
                c.path = rel;
                anchor_ = std::move(c);
            }
            anchor_changed_ = true;
            return;
        }
        c.path = rel;
        if (too_deep(depth, rel)) refuse(c);
        out_.push_back(std::move(c));
    }

    static void refuse(Change& c) {
        c.refused = kTooDeep;
        c.size = 0;
        c.hash.clear();
        c.link_target.clear();
        c.link_outside = c.setid = false;
    }

    // The hidden entries of `l` that sort before `name` (all of them for nullptr) are listed.
    void flush_hidden(Level& l, const std::string* name) {
        while (l.next_hidden < l.hidden.size()) {
            Change& h = l.hidden[l.next_hidden];
            const std::string_view hname = std::string_view(h.path).substr(h.path.rfind('/') + 1);
            if (name != nullptr && hname >= *name) break;
            ++l.next_hidden;
            const std::string path = std::move(h.path);
            const int depth = static_cast<int>(std::count(path.begin(), path.end(), '/')) + 1;
            emit(std::move(h), path, depth);
        }
    }

    sys::WalkStep visit(const sys::WalkEntry& e) override {
        flush_hidden(levels_.back(), &e.name);
        if (fsops::is_temp_name(e.name)) return sys::WalkStep::over;
        if (anchor_changed_) return sys::WalkStep::over;  // the anchor is listed already
        const std::string_view rel = rel_of(e);
        const int depth = e.depth + 1;  // components of rel
        const struct stat& us = e.st;
        struct stat ps {};
        const bool in_project = lstat_at(e.twin_dirfd, e.name, ps, Shown{project_, rel});

        Change c;
        c.old_mode = in_project ? ps.st_mode : 0;
        c.new_mode = us.st_mode;
        const bool same_type = in_project && (ps.st_mode & S_IFMT) == (us.st_mode & S_IFMT);

        if (is_whiteout(whiteouts_, e.dirfd, e.name, us)) {
            if (!in_project) return sys::WalkStep::over;  // deletes nothing
            c.kind = Kind::deleted;
            c.new_mode = 0;
            emit(std::move(c), rel, depth);
            return sys::WalkStep::over;
        }
        // Set before any emit below, a directory's too: no staged setuid/setgid bit lands (a
        // directory keeps the project's mode, its own such bits included, or gets the
        // umask's: landing_mode), and the review says so.
        const mode_t kept = S_ISDIR(us.st_mode) && same_type ? ps.st_mode : 0;
        c.setid = (us.st_mode & ~kept & (S_ISUID | S_ISGID)) != 0;
        const bool deep = anchor_depth_ >= 0 || too_deep(depth, rel);
        if (S_ISDIR(us.st_mode)) {
            if (!same_type) {
                c.kind = in_project ? Kind::type : Kind::added;
                emit(std::move(c), rel, depth);
                // Past the bound, nothing below a refused new directory is read.
                if (deep) return sys::WalkStep::over;
                entering_ = {};
                return sys::WalkStep::into;
            }
            if (anchor_depth_ < 0 && deep) {
                // Past the bound, a directory both have: one refused change if anything at
                // or below it is one (leave() lists it), none if it is the project's.
                anchor_depth_ = e.depth;
                anchor_ = Change{};
                anchor_.path = rel;
                anchor_.kind = Kind::modified;
                anchor_.old_mode = ps.st_mode;
                anchor_.new_mode = us.st_mode;
            }
            entering_.c = std::move(c);
            entering_.same_type = true;
            return sys::WalkStep::into_both;
        }

        if (S_ISREG(us.st_mode) || S_ISLNK(us.st_mode)) {
            c.staged_ino = us.st_ino;
            const struct timespec& t = sys::ctime_of(us);
            c.staged_ctime_ns = static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
        }
        if (S_ISREG(us.st_mode)) {
            c.size = static_cast<std::uint64_t>(us.st_size);
            // No hash of what is never committed.
            std::string* hash = hashes_ && !deep ? &c.hash : nullptr;
            if (same_type && ps.st_size == us.st_size) {
                // Only here does the kind depend on the content.
                if (same_content(e.dirfd, e.twin_dirfd, e.name, us.st_size, e.path, rel, hash)) {
                    if ((ps.st_mode & 07777) == (us.st_mode & 07777))
                        return sys::WalkStep::over;  // copied up (touch, chown) but the same
                    c.kind = Kind::mode;
                } else {
                    c.kind = Kind::modified;
                }
            } else {
                if (hash != nullptr) c.hash = hash_file_sized(e.dirfd, e.name, us.st_size, e.path);
                c.kind = !in_project ? Kind::added : !same_type ? Kind::type : Kind::modified;
            }
        } else if (S_ISLNK(us.st_mode)) {
            c.link_target = read_link_at(e.dirfd, e.name, e.path);
            c.size = c.link_target.size();
            c.hash = hash_bytes(c.link_target);
            c.link_outside = link_leaves_project(project_, std::string(rel), c.link_target);
            if (!in_project) {
                c.kind = Kind::added;
            } else if (!same_type) {
                c.kind = Kind::type;
            } else {
                if (read_link_at(e.twin_dirfd, e.name, proj_path(rel)) == c.link_target)
                    return sys::WalkStep::over;
                c.kind = Kind::modified;
            }
        } else {
            // Devices, fifos and sockets are never copied into a project.
            c.refused = S_ISFIFO(us.st_mode)   ? "fifo"
                        : S_ISSOCK(us.st_mode) ? "socket"
                                               : "device node";
            c.kind = !in_project ? Kind::added : same_type ? Kind::modified : Kind::type;
        }
        emit(std::move(c), rel, depth);
        return sys::WalkStep::over;
    }

    void enter(const sys::WalkEntry& e, const sys::WalkDir& d) override {
        const bool opaque = levels_.back().opaque;
        Level l;
        l.opaque = opaque;
        if (entering_.same_type) {
            Change c = std::move(entering_.c);
            const std::string_view rel = rel_of(e);
            // Opaque matters only where there is a project directory to hide: below a new
            // directory, or one that replaces a file, there is nothing to list. The mode
            // only where it is compared with the project's.
            const DirMarks marks = dir_marks(d.fd, c.new_mode);
            l.opaque = opaque || marks.opaque;
            c.new_mode = marks.mode;
            if (l.opaque && !opaque) {
                c.kind = Kind::replaced;
                emit(std::move(c), rel, e.depth + 1);
            } else if ((c.old_mode & 07777) != (c.new_mode & 07777)) {
                c.kind = Kind::mode;
                emit(std::move(c), rel, e.depth + 1);
            }
            if (l.opaque && !anchor_changed_) hide(l, d, rel);
        }
        entering_ = {};
        levels_.push_back(std::move(l));
    }

    // The deletions an opaque directory stages: the project's entries upper/ lacks.
    void hide(Level& l, const sys::WalkDir& d, std::string_view rel) {
        const std::vector<std::string> proj = list_dir(d.twin_fd, Shown{project_, rel});
        std::vector<std::string_view> up;
        up.reserve(d.entries.size());
        for (const auto& de : d.entries) up.emplace_back(de.name);  // sorted, as proj
        auto u = up.begin();
        for (const std::string& name : proj) {
            while (u != up.end() && *u < name) ++u;
            if (u != up.end() && *u == name) continue;
            Change c;
            c.path = util::path_join(rel, name);
            struct stat ps {};
            if (!lstat_at(d.twin_fd, name, ps, Shown{project_, c.path})) continue;
            c.kind = Kind::deleted;
            c.old_mode = ps.st_mode;
            l.hidden.push_back(std::move(c));
        }
    }

    void leave(const sys::WalkEntry& e, int) override {
        flush_hidden(levels_.back(), nullptr);
        levels_.pop_back();
        if (e.depth != anchor_depth_) return;
        anchor_depth_ = -1;
        if (!anchor_changed_) return;  // the project's own, as it was
        anchor_changed_ = false;
        refuse(anchor_);
        out_.push_back(std::move(anchor_));
    }

    // Whether upper/`rel` (`up_shown`) and the project's, both `size` bytes by lstat, hold the same bytes:
    // read side by side, stopping at the first difference. With `hash`, upper's whole content
    // is hashed on the way (its XXH3-128 is set even when they differ) and the project's is
    // never hashed.
    bool same_content(int up_dir, int proj_dir, const std::string& name, off_t size,
                      const std::string& up_shown, std::string_view rel, std::string* hash) const {
        if (size == 0 && hash == nullptr) return true;
        unique_fd u(::openat(up_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
        if (!u) throw sys::SysError("open", up_shown, errno);
        unique_fd p(::openat(proj_dir, name.c_str(),
                             O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
        if (!p) throw sys::SysError("open", proj_path(rel), errno);
        static thread_local std::vector<char> a(1 << 17), b(1 << 17);
        std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(nullptr,
                                                                               XXH3_freeState);
        if (hash != nullptr) {
            state.reset(XXH3_createState());
            if (!state) throw std::bad_alloc();
            XXH3_128bits_reset(state.get());
        }
        bool same = true;
        off_t done = 0;
        // Without a hash, `size` bytes of each and no read to the end: equal sizes were seen.
        while (hash != nullptr || (same && done < size)) {
            const std::size_t want = hash != nullptr
                                         ? a.size()
                                         : static_cast<std::size_t>(std::min<off_t>(
                                               static_cast<off_t>(a.size()), size - done));
            const std::size_t n = read_up_to(u.get(), a.data(), want, Shown{up_shown, ""});
            if (hash != nullptr) XXH3_128bits_update(state.get(), a.data(), n);
            if (same) {
                const std::size_t m = read_up_to(p.get(), b.data(), n, Shown{project_, rel});
                same = m == n && std::memcmp(a.data(), b.data(), n) == 0;
            }
            done += static_cast<off_t>(n);
            if (n < want || n == 0) {
                // The end of upper's file: it shrank since the lstat when short of `size`.
                same = same && done == size;
                break;
            }
        }
        if (hash != nullptr) {
            XXH128_canonical_t c;
            XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state.get()));
            *hash = util::hex(c.digest, sizeof c.digest);
        }
        return same;
    }

    // Up to `want` bytes (fewer only at the end of the file).
    static std::size_t read_up_to(int fd, char* buf, std::size_t want, const Shown& shown) {
        std::size_t got = 0;
        while (got < want) {
            const ssize_t n = ::read(fd, buf + got, want - got);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw sys::SysError("read", shown.str(), errno);
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        return got;
    }

    std::string upper_, project_;
    bool hashes_;
    Whiteouts whiteouts_;
    std::vector<Change> out_;
    std::vector<Level> levels_;  // the root's, and each directory's the walk is in
    Entering entering_;
    int anchor_depth_ = -1;        // the anchor's WalkEntry::depth; -1 while there is none
    bool anchor_changed_ = false;  // something at or below it is a change: it is anchor_
    Change anchor_;
};

}  // namespace

std::vector<Change> changes(const std::string& upper, const std::string& project, Hashes hashes,
                            Whiteouts whiteouts) {
    return Walker(upper, project, hashes, whiteouts).run();
}

std::vector<Change> changes(const Session& s, const std::string& project, Hashes hashes) {
    return changes(s.upper(), project, hashes, s.whiteouts());
}

std::string hash_file(int dirfd, const std::string& path) { return hash_file(dirfd, path, path); }

std::string hash_file(int dirfd, const std::string& path, const std::string& shown) {
    return hash_file_sized(dirfd, path, -1, shown);
}

std::string hash_file_sized(int dirfd, const std::string& path, off_t size, const std::string& shown) {
    unique_fd fd(::openat(dirfd, path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) throw sys::SysError("open", shown, errno);
    XXH3_state_t* state = XXH3_createState();
    if (state == nullptr) throw std::bad_alloc();
    std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> guard(state,
                                                                          XXH3_freeState);
    XXH3_128bits_reset(state);
    static thread_local std::vector<char> buf(1 << 17);
    off_t done = 0;
    for (;;) {
        // With the size known, one byte more than is left is asked for: a read that comes back
        // short once `size` bytes are in is the end, without another read to see it (a file
        // that grew since the lstat is read on).
        std::size_t want = buf.size();
        if (size >= done && static_cast<std::uint64_t>(size - done) < want)
            want = static_cast<std::size_t>(size - done) + 1;
        const ssize_t n = ::read(fd.get(), buf.data(), want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys::SysError("read", shown, errno);
        if (n == 0) break;
        XXH3_128bits_update(state, buf.data(), static_cast<std::size_t>(n));
        done += n;
        if (size >= 0 && done >= size && static_cast<std::size_t>(n) < want) break;
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state));
    return util::hex(c.digest, sizeof c.digest);
}

}  // namespace agentbox::stage

