// The change set: one walk of upper/, with the project consulted only at the paths upper/
// names. Every directory on both sides is opened relative to its parent with O_NOFOLLOW, so a
// symlink swapped into the project while we read cannot redirect the walk.
#include "stage/changes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "stage/fsops.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "util/paths.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

namespace {

using sys::unique_fd;

// Names in a directory, sorted bytewise, without . and .. and without agentbox's own
// temporaries (fsops::kTempPrefix): a commit or undo cut short may leave one in upper/ or the
// project until recovery, which knows it by name from the journal and removes it; it is never
// a change, on either side.
std::vector<std::string> list_dir(int dirfd, const std::string& shown) {
    sys::DirStream d(dirfd, shown);
    std::vector<std::string> names;
    std::string_view name;
    unsigned char type = DT_UNKNOWN;
    while (d.next(name, type))
        if (!fsops::is_temp_name(name)) names.emplace_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

// lstat of `name` in `dirfd`; false when it does not exist (or dirfd is -1: no such directory).
bool lstat_at(int dirfd, const std::string& name, struct stat& st, const std::string& shown) {
    if (dirfd < 0) return false;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw sys::SysError("stat", shown, errno);
}

unique_fd open_dir_at(int dirfd, const std::string& name, const std::string& shown) {
    unique_fd fd(::openat(dirfd, name.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw sys::SysError("open", shown, errno);
    return fd;
}

bool is_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0);
}

// The overlay marks a directory that hides everything below it in the lower layer with
// overlay.opaque = "y": in the user namespace (userxattr) or the trusted one (mounted as real
// root). What the command sets through the overlay arrives as user.overlay.overlay.* (escaped
// by the kernel) and is not read here.
bool is_opaque(int dirfd) {
    for (const char* name : {"user.overlay.opaque", "trusted.overlay.opaque"}) {
        char v[4];
        const ssize_t n = ::fgetxattr(dirfd, name, v, sizeof v);
        if (n == 1 && v[0] == 'y') return true;
    }
    return false;
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

class Walker {
public:
    Walker(std::string upper, std::string project)
        : upper_(std::move(upper)), project_(std::move(project)) {}

    std::vector<Change> run() {
        unique_fd up(::open(upper_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!up) throw sys::SysError("open", upper_, errno);
        unique_fd proj(::open(project_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!proj) throw sys::SysError("open", project_, errno);
        walk(up.get(), proj.get(), "", false);
        return std::move(out_);
    }

private:
    std::string up_path(const std::string& rel) const { return upper_ + "/" + rel; }
    std::string proj_path(const std::string& rel) const { return project_ + "/" + rel; }

    // `opaque`: this directory hides the project's (an opaque ancestor): project entries that
    // upper/ lacks are deleted.
    void walk(int up_dir, int proj_dir, const std::string& rel, bool opaque) {
        const std::vector<std::string> names = list_dir(up_dir, rel.empty() ? upper_ : up_path(rel));
        std::vector<std::string> proj_only;
        if (opaque && proj_dir >= 0) {
            const auto proj_names = list_dir(proj_dir, rel.empty() ? project_ : proj_path(rel));
            std::set_difference(proj_names.begin(), proj_names.end(), names.begin(), names.end(),
                                std::back_inserter(proj_only));
        }
        // Both lists are sorted: merge them so that the output is in order.
        auto a = names.begin();
        auto b = proj_only.begin();
        while (a != names.end() || b != proj_only.end()) {
            if (b == proj_only.end() || (a != names.end() && *a < *b)) {
                entry(up_dir, proj_dir, rel, *a, opaque);
                ++a;
            } else {
                hidden(proj_dir, util::path_join(rel, *b), *b);
                ++b;
            }
        }
    }

    // A project entry under an opaque directory that upper/ does not have.
    void hidden(int proj_dir, const std::string& path, const std::string& name) {
        struct stat ps {};
        if (!lstat_at(proj_dir, name, ps, proj_path(path))) return;
        Change c;
        c.path = path;
        c.kind = Kind::deleted;
        c.old_mode = ps.st_mode;
        out_.push_back(std::move(c));
    }

    void entry(int up_dir, int proj_dir, const std::string& rel, const std::string& name,
               bool opaque) {
        const std::string path = util::path_join(rel, name);
        struct stat us {};
        if (::fstatat(up_dir, name.c_str(), &us, AT_SYMLINK_NOFOLLOW) != 0)
            throw sys::SysError("stat", up_path(path), errno);
        struct stat ps {};
        const bool in_project = lstat_at(proj_dir, name, ps, proj_path(path));

        Change c;
        c.path = path;
        c.old_mode = in_project ? ps.st_mode : 0;
        c.new_mode = us.st_mode;
        const bool same_type = in_project && (ps.st_mode & S_IFMT) == (us.st_mode & S_IFMT);

        if (is_whiteout(us)) {
            if (!in_project) return;  // deletes nothing
            c.kind = Kind::deleted;
            c.new_mode = 0;
            out_.push_back(std::move(c));
            return;
        }
        if (S_ISDIR(us.st_mode)) {
            unique_fd sub = open_dir_at(up_dir, name, up_path(path));
            const bool now_opaque = opaque || (is_opaque(sub.get()) && in_project);
            unique_fd proj_sub;
            if (same_type) {
                proj_sub = open_dir_at(proj_dir, name, proj_path(path));
                if (now_opaque && !opaque) {
                    c.kind = Kind::replaced;
                    out_.push_back(c);
                } else if ((ps.st_mode & 07777) != (us.st_mode & 07777)) {
                    c.kind = Kind::mode;
                    out_.push_back(c);
                }
            } else {
                c.kind = in_project ? Kind::type : Kind::added;
                out_.push_back(c);
            }
            c.setid = (us.st_mode & (S_ISUID | S_ISGID)) != 0;
            walk(sub.get(), proj_sub ? proj_sub.get() : -1, path, now_opaque);
            return;
        }

        c.setid = (us.st_mode & (S_ISUID | S_ISGID)) != 0;
        if (S_ISREG(us.st_mode)) {
            c.size = static_cast<std::uint64_t>(us.st_size);
            c.hash = hash_file(up_dir, name, up_path(path));
            if (!in_project) {
                c.kind = Kind::added;
            } else if (!same_type) {
                c.kind = Kind::type;
            } else {
                const bool same_content = ps.st_size == us.st_size &&
                                          hash_file(proj_dir, name, proj_path(path)) == c.hash;
                if (!same_content) c.kind = Kind::modified;
                else if ((ps.st_mode & 07777) != (us.st_mode & 07777)) c.kind = Kind::mode;
                else return;  // copied up (touch, chown) but the same
            }
        } else if (S_ISLNK(us.st_mode)) {
            c.link_target = read_link_at(up_dir, name, up_path(path));
            c.size = c.link_target.size();
            c.hash = hash_bytes(c.link_target);
            c.link_outside = link_leaves_project(project_, path, c.link_target);
            if (!in_project) {
                c.kind = Kind::added;
            } else if (!same_type) {
                c.kind = Kind::type;
            } else {
                if (read_link_at(proj_dir, name, proj_path(path)) == c.link_target) return;
                c.kind = Kind::modified;
            }
        } else {
            // Devices, fifos and sockets are never copied into a project.
            c.refused = S_ISFIFO(us.st_mode)   ? "fifo"
                        : S_ISSOCK(us.st_mode) ? "socket"
                                               : "device node";
            c.kind = !in_project ? Kind::added : same_type ? Kind::modified : Kind::type;
        }
        out_.push_back(std::move(c));
    }

    std::string upper_, project_;
    std::vector<Change> out_;
};

}  // namespace

std::vector<Change> changes(const std::string& upper, const std::string& project) {
    return Walker(upper, project).run();
}

std::string hash_file(int dirfd, const std::string& path) { return hash_file(dirfd, path, path); }

std::string hash_file(int dirfd, const std::string& path, const std::string& shown) {
    unique_fd fd(::openat(dirfd, path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) throw sys::SysError("open", shown, errno);
    XXH3_state_t* state = XXH3_createState();
    if (state == nullptr) throw std::bad_alloc();
    std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> guard(state,
                                                                          XXH3_freeState);
    XXH3_128bits_reset(state);
    static thread_local std::vector<char> buf(1 << 17);
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys::SysError("read", shown, errno);
        if (n == 0) break;
        XXH3_128bits_update(state, buf.data(), static_cast<std::size_t>(n));
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state));
    return util::hex(c.digest, sizeof c.digest);
}

}  // namespace agentbox::stage

