#include "sandbox/linux/glob_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "sys/io.hpp"
#include "util/paths.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// A pattern walked for, and where its matches go. `name`: the pattern is the walked
// directory, "/**/" and a last component (the usual "@project/**/.env"), so a path matches
// exactly when its own name matches that component -- a match of a dozen bytes instead of the
// whole path against a pattern with **, for every file of the project.
struct Wanted {
    const std::string* pattern;
    std::vector<std::string>* out;
    std::string name;
};

// What a directory's listing is remembered by: the same inode of the same device, with the
// same times, has the same entries (an entry added, removed or renamed sets the ctime).
struct Stamp {
    std::uint64_t dev = 0, ino = 0;
    std::int64_t mtime = 0, ctime = 0;  // ns since the epoch
    bool operator==(const Stamp&) const = default;
};

Stamp stamp_of(const struct stat& st) {
    constexpr std::int64_t ns = 1'000'000'000;
    return {st.st_dev, st.st_ino, st.st_mtim.tv_sec * ns + st.st_mtim.tv_nsec,
            st.st_ctim.tv_sec * ns + st.st_ctim.tv_nsec};
}

// ---- the cache file --------------------------------------------------------------------
// The magic, the walk's key (its directory and patterns), the number of records, then per
// directory: its path below the walked one, dev, ino, mtime, ctime, how many subdirectory
// names and matched names follow, and those names. Integers are 8 bytes in this machine's
// order (the file never leaves it); a string is its length, then its bytes. Last, a digest.
constexpr std::string_view kMagic{"agentbox-walk\x01", 14};
constexpr std::size_t kMaxFile = 64u << 20;

struct Writer {
    std::string out;
    void u64(std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void str(std::string_view s) {
        u64(s.size());
        out += s;
    }
};

struct Reader {
    std::string_view data;
    bool u64(std::uint64_t& v) {
        if (data.size() < sizeof v) return false;
        std::memcpy(&v, data.data(), sizeof v);
        data.remove_prefix(sizeof v);
        return true;
    }
    bool str(std::string_view& s) {
        std::uint64_t n = 0;
        if (!u64(n) || n > data.size()) return false;
        s = data.substr(0, n);
        data.remove_prefix(n);
        return true;
    }
};

// A directory as a walk left it: `names` is its subdirectories' names, then its names that
// matched a pattern, encoded as in the file.
struct Record {
    std::string_view rel;  // the path below the walked directory
    Stamp stamp;
    std::uint64_t subs = 0, hits = 0;
    std::string_view names;
};

bool plain_name(std::string_view n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos &&
           n.find('\0') == std::string_view::npos;
}

// The file ends with this of everything before it. A flipped bit in a name would make the
// walk skip a real directory without it; nobody but the user can write the file, so a fast
// mix of 8-byte words is enough.
std::uint64_t digest(std::string_view s) {
    std::uint64_t h = s.size();
    auto mix = [&h](std::uint64_t w) {
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 32;
    };
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, s.data() + i, 8);
        mix(w);
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    mix(tail);
    return h;
}

// The records of a cache file's text, by path; none when it is another walk's, fails its
// digest or does not parse to its last byte (the walk then reads every directory, as without
// a cache).
std::unordered_map<std::string_view, Record> parse(std::string_view text, std::string_view key) {
    std::unordered_map<std::string_view, Record> out;
    std::uint64_t sum = 0;
    if (text.size() < kMagic.size() + sizeof sum || !text.starts_with(kMagic)) return {};
    std::memcpy(&sum, text.data() + text.size() - sizeof sum, sizeof sum);
    text.remove_suffix(sizeof sum);
    if (digest(text) != sum) return {};
    Reader r{text.substr(kMagic.size())};
    std::string_view k;
    std::uint64_t n = 0;
    if (!r.str(k) || k != key || !r.u64(n) || n > r.data.size()) return {};
    out.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        Record m;
        std::uint64_t mtime = 0, ctime = 0;
        if (!r.str(m.rel) || !r.u64(m.stamp.dev) || !r.u64(m.stamp.ino) || !r.u64(mtime) ||
            !r.u64(ctime) || !r.u64(m.subs) || !r.u64(m.hits) || m.subs > r.data.size() ||
            m.hits > r.data.size())
            return {};
        m.stamp.mtime = static_cast<std::int64_t>(mtime);
        m.stamp.ctime = static_cast<std::int64_t>(ctime);
        const std::string_view from = r.data;
        for (std::uint64_t j = 0; j < m.subs + m.hits; ++j) {
            std::string_view name;
            if (!r.str(name) || !plain_name(name)) return {};
        }
        m.names = from.substr(0, from.size() - r.data.size());
        if (!out.emplace(m.rel, m).second) return {};
    }
    if (!r.data.empty()) return {};
    return out;
}

// The file's name: the digest of its key, in hex (the file itself holds the whole key).
std::string name_of(std::string_view key) {
    std::uint64_t h = digest(key);
    static const char hex[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[static_cast<std::size_t>(i)] = hex[h & 15];
    return s;
}

// Filesystems whose directory ctime the kernel keeps, on this machine's clock.
bool local_fs(const struct statfs& fs) {
    switch (static_cast<unsigned long>(fs.f_type)) {
        case EXT4_SUPER_MAGIC:
        case XFS_SUPER_MAGIC:
        case BTRFS_SUPER_MAGIC:
        case TMPFS_MAGIC:
            return true;
        default:
            return false;
    }
}

// ---- the walk --------------------------------------------------------------------------

// Below the walked directory, every path matching each wanted pattern (util::glob_match,
// where ** spans directories): one walk serves them all. Symlinks are matched but not
// followed, so a link loop or a link out of the tree cannot make the walk wander.
// getdents64's d_type says which entries are directories, so a project is walked without an
// lstat per file (only filesystems that leave d_type unknown pay one); each directory is read
// to its end with one buffer (not a DIR*: three syscalls more per directory), then its
// subdirectories are opened relative to it. A directory the cache vouches for is not read:
// its matches and subdirectories are the remembered ones.
class Walker {
public:
    Walker(const std::vector<Wanted>& want, const std::string& base)
        : want_(want), base_len_(base.size()),
          buf_(std::make_unique_for_overwrite<char[]>(kBufSize)) {}

    // Walk with the cache file's `text` (which the caller keeps alive), and keep what this
    // walk sees for changed_cache().
    void remember(std::uint64_t dev, std::int64_t racy_from, std::string_view text,
                  std::string_view key) {
        remember_ = true;
        dev_ = dev;
        racy_from_ = racy_from;
        old_ = parse(text, key);
    }

    // The directory `name` in the directory open at `parent` (or AT_FDCWD and its path),
    // known as `path`. Only the walked directory itself is followed when it is a symlink.
    void visit(int parent, const char* name, const std::string& path, bool follow) {
        ++dirs_;
        if (!old_.empty()) {
            struct stat st {};
            if (::fstatat(parent, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISDIR(st.st_mode)) {
                const auto it = old_.find(rel(path));
                if (it != old_.end() && it->second.stamp == stamp_of(st) &&
                    trusted(it->second.stamp)) {
                    replay(it->second, path);
                    return;
                }
            }
        }
        const int fd =
            ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
        if (fd >= 0) read(fd, path);
    }

    std::size_t dirs() const { return dirs_; }
    std::size_t reads() const { return reads_; }

    // The cache file for what this walk saw, or "" when it would say what the old one says.
    std::string changed_cache(std::string_view key) const {
        if (!remember_ || (kept_ == 0 && fresh_.size() == old_.size())) return {};
        Writer w;
        w.out += kMagic;
        w.str(key);
        w.u64(fresh_.size());
        for (const Record& m : fresh_) {
            w.str(m.rel);
            for (const std::uint64_t v :
                 {m.stamp.dev, m.stamp.ino, static_cast<std::uint64_t>(m.stamp.mtime),
                  static_cast<std::uint64_t>(m.stamp.ctime), m.subs, m.hits})
                w.u64(v);
            w.out += m.names;
        }
        w.u64(digest(w.out));
        return std::move(w.out);
    }

private:
    std::string_view rel(const std::string& path) const {
        return std::string_view(path).substr(base_len_);
    }
    // Changed before the last two seconds, on the walked filesystem: see glob_walk.hpp.
    bool trusted(const Stamp& s) const { return s.dev == dev_ && s.ctime < racy_from_; }

    // Whether `name` in `dir` matched a pattern (recorded in its answer).
    bool match(const std::string& dir, std::string_view name) {
        bool any = false;
        for (const auto& w : want_)
            if (w.name.empty() ? util::glob_match(*w.pattern, util::path_join(dir, name))
                               : util::glob_match(w.name, name)) {
                w.out->push_back(util::path_join(dir, name));
                any = true;
            }
        return any;
    }

    // Takes `fd`. The stamp is taken before the entries are read: a change made while they
    // are gives the directory another ctime, so the next walk reads it again.
    void read(int fd, const std::string& path) {
        ++reads_;
        struct stat st {};
        // A listing cut short by an error is used this once, never remembered.
        bool keep = remember_ && ::fstat(fd, &st) == 0 && trusted(stamp_of(st));
        std::vector<std::string> subdirs, hits;
        for (;;) {
            const ssize_t n = ::getdents64(fd, buf_.get(), kBufSize);
            if (n < 0) keep = false;
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
                const auto* e = reinterpret_cast<const struct dirent64*>(buf_.get() + off);
                off += e->d_reclen;
                const std::string_view name = e->d_name;
                if (name == "." || name == "..") continue;
                if (match(path, name) && keep) hits.emplace_back(name);
                bool is_dir = e->d_type == DT_DIR;
                if (e->d_type == DT_UNKNOWN) {
                    struct stat sub {};
                    if (::fstatat(fd, e->d_name, &sub, AT_SYMLINK_NOFOLLOW) != 0) keep = false;
                    is_dir = S_ISDIR(sub.st_mode);
                }
                if (is_dir) subdirs.emplace_back(name);
            }
        }
        if (keep) {
            Writer names;
            for (const auto& s : subdirs) names.str(s);
            for (const auto& h : hits) names.str(h);
            const std::string& r = arena_.emplace_back(rel(path));
            const std::string& enc = arena_.emplace_back(std::move(names.out));
            fresh_.push_back(Record{r, stamp_of(st), subdirs.size(), hits.size(), enc});
            ++kept_;
        }
        for (const std::string& sub : subdirs)
            visit(fd, sub.c_str(), util::path_join(path, sub), false);
        ::close(fd);
    }

    void replay(const Record& m, const std::string& path) {
        fresh_.push_back(m);
        Reader r{m.names};
        std::string_view name;
        for (std::uint64_t i = 0; i < m.subs; ++i) r.str(name);
        for (std::uint64_t i = 0; i < m.hits; ++i)
            if (r.str(name)) match(path, name);
        r = Reader{m.names};
        for (std::uint64_t i = 0; i < m.subs && r.str(name); ++i) {
            const std::string sub = util::path_join(path, name);
            visit(AT_FDCWD, sub.c_str(), sub, false);
        }
    }

    const std::vector<Wanted>& want_;
    const std::size_t base_len_;
    // Not zeroed: getdents64 writes what is read, and a zeroed 64 KiB touched 16 pages at every
    // run's compile (a page fault each, ~10-20 us on the benchmark's guest) that a small
    // project's listing never reaches.
    static constexpr std::size_t kBufSize = 64 * 1024;
    std::unique_ptr<char[]> buf_;
    std::size_t dirs_ = 0, reads_ = 0;
    // The cache: the records read from its file, those of this walk, and what they point to.
    bool remember_ = false;
    std::uint64_t dev_ = 0;
    std::int64_t racy_from_ = 0;
    std::unordered_map<std::string_view, Record> old_;
    std::vector<Record> fresh_;
    std::deque<std::string> arena_;
    std::size_t kept_ = 0;
};

std::int64_t clock_ns() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void walk(const std::string& dir, const std::vector<Wanted>& want, const WalkCache& cache) {
    std::string key, file, text;  // text: the old cache, which the walker points into
    Walker w(want, dir);
    struct stat st {};
    struct statfs fs {};
    if (!cache.dir.empty() && ::stat(dir.c_str(), &st) == 0 && ::statfs(dir.c_str(), &fs) == 0 &&
        local_fs(fs)) {
        Writer k;
        k.str(dir);
        for (const auto& x : want) k.str(*x.pattern);
        key = std::move(k.out);
        file = cache.dir + "/" + name_of(key);
        if (!sys::read_own_file(file, text, kMaxFile)) text.clear();
        const std::int64_t racy_from =
            (cache.now_ns != 0 ? cache.now_ns : clock_ns()) - 2'000'000'000;
        w.remember(st.st_dev, racy_from, text, key);
    }
    w.visit(AT_FDCWD, dir.c_str(), dir, /*follow=*/true);
    if (cache.read != nullptr) *cache.read += w.reads();
    if (key.empty() || w.dirs() < cache.min_dirs) return;
    const std::string changed = w.changed_cache(key);
    // Not written, it is read whole next time: only slower.
    if (!changed.empty() && (::mkdir(cache.dir.c_str(), 0700) == 0 || errno == EEXIST))
        sys::replace_own_file(file, changed);
}

}  // namespace

// glob(3) treats ** like *, so patterns with ** are walked from their last literal directory
// instead, once per directory for all of them.
std::vector<std::vector<std::string>> expand_globs(const std::vector<std::string>& patterns,
                                                   const WalkCache& cache) {
    std::vector<std::vector<std::string>> out(patterns.size());
    std::map<std::string, std::vector<Wanted>> walks;  // walked directory -> its patterns
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        const std::string& pattern = patterns[i];
        if (pattern.find("**") != std::string::npos) {
            std::string base;
            for (const auto& part : util::split(pattern, '/')) {
                if (util::has_glob(part)) break;
                if (!part.empty()) base += "/" + part;
            }
            if (base.empty()) base = "/";
            // BASE/**/NAME: whatever is below BASE matches when its own name matches NAME.
            const std::string prefix = (base == "/" ? "" : base) + "/**/";
            std::string name;
            if (pattern.starts_with(prefix) &&
                pattern.find('/', prefix.size()) == std::string::npos)
                name = pattern.substr(prefix.size());
            walks[base].push_back(Wanted{&pattern, &out[i], std::move(name)});
            continue;
        }
        glob_t g{};
        if (::glob(pattern.c_str(), GLOB_PERIOD, nullptr, &g) == 0)
            for (std::size_t k = 0; k < g.gl_pathc; ++k) {
                const std::string p = g.gl_pathv[k];
                const std::string last = p.substr(p.rfind('/') + 1);
                if (last != "." && last != "..") out[i].push_back(p);
            }
        ::globfree(&g);
    }
    for (const auto& [dir, want] : walks) walk(dir, want, cache);
    for (auto& o : out) std::sort(o.begin(), o.end());
    return out;
}

std::vector<std::string> expand_glob(const std::string& pattern) {
    return std::move(expand_globs({pattern}).front());
}

}  // namespace agentbox::sandbox::lnx
