// The export archive, written with libarchive (only here, DESIGN.md §10).
#include "stage/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "sys/lazylib.hpp"
#include "stage/patch.hpp"
#include "stage/tree_read.hpp"
#include "sys/error.hpp"
#include "sys/rename.hpp"
#include "sys/stat_times.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

namespace {
sys::LazyLib& libarchive() {
    static sys::LazyLib lib(AGENTBOX_LIBARCHIVE_SONAME);
    return lib;
}
}  // namespace

Format format_for(const std::string& path) {
    if (util::ends_with(path, ".tar")) return Format::tar;
    if (util::ends_with(path, ".tar.gz") || util::ends_with(path, ".tgz")) return Format::tar_gz;
    if (util::ends_with(path, ".tar.zst") || util::ends_with(path, ".tzst"))
        return Format::tar_zst;
    throw std::invalid_argument("cannot tell the archive format from \"" + path +
                                "\": use a name ending in .tar, .tar.gz, .tgz, .tar.zst or .tzst");
}

namespace {

struct ArchiveFree {
    void operator()(archive* a) const { AGENTBOX_LAZY(libarchive(), archive_write_free)(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { AGENTBOX_LAZY(libarchive(), archive_entry_free)(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// A temporary file beside the destination, removed unless committed.
class TempFile {
public:
    explicit TempFile(const std::string& dest) {
        const auto slash = dest.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : dest.substr(0, slash);
        const std::string base = slash == std::string::npos ? dest : dest.substr(slash + 1);
        path_ = dir + "/." + base + ".tmp-XXXXXX";
        fd_ = sys::unique_fd(::mkostemp(path_.data(), O_CLOEXEC));
        if (!fd_) throw sys::SysError("create", path_, errno);
    }
    ~TempFile() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

    // Make the file durable with the permissions a newly created file gets, and move it to
    // `dest`; without `overwrite`, never replace an existing file, even one created meanwhile.
    void commit(const std::string& dest, bool overwrite) {
        const mode_t mask = ::umask(0);
        ::umask(mask);
        if (::fchmod(fd_.get(), 0666 & ~mask) != 0) throw sys::SysError("chmod", path_, errno);
        if (::fsync(fd_.get()) != 0) throw sys::SysError("fsync", path_, errno);
        fd_.reset();
        if (overwrite) {
            if (::rename(path_.c_str(), dest.c_str()) != 0)
                throw sys::SysError("rename", dest, errno);
        } else if (sys::rename_noreplace(AT_FDCWD, path_.c_str(), AT_FDCWD, dest.c_str()) != 0) {
            if (errno != EINVAL) throw sys::SysError("rename", dest, errno);
            // A filesystem without RENAME_NOREPLACE: link() refuses an existing name too.
            if (::link(path_.c_str(), dest.c_str()) != 0) throw sys::SysError("link", dest, errno);
            ::unlink(path_.c_str());
        }
        path_.clear();
    }

private:
    std::string path_;
    sys::unique_fd fd_;
};

class Writer {
public:
    Writer(int fd, Format fmt, const std::string& shown) : a_(AGENTBOX_LAZY(libarchive(), archive_write_new)()), shown_(shown) {
        if (!a_) throw std::runtime_error("libarchive: out of memory");
        check(AGENTBOX_LAZY(libarchive(), archive_write_set_format_pax_restricted)(a_.get()), "set format");
        switch (fmt) {
            case Format::tar_gz: check(AGENTBOX_LAZY(libarchive(), archive_write_add_filter_gzip)(a_.get()), "gzip"); break;
            case Format::tar_zst: check(AGENTBOX_LAZY(libarchive(), archive_write_add_filter_zstd)(a_.get()), "zstd"); break;
            default: break;
        }
        check(AGENTBOX_LAZY(libarchive(), archive_write_open_fd)(a_.get(), fd), "open");
    }

    void header(archive_entry* e) { check(AGENTBOX_LAZY(libarchive(), archive_write_header)(a_.get(), e), "write header"); }
    void data(const char* p, std::size_t n) {
        while (n > 0) {
            const la_ssize_t w = AGENTBOX_LAZY(libarchive(), archive_write_data)(a_.get(), p, n);
            if (w < 0) check(static_cast<int>(w), "write");
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    void close() { check(AGENTBOX_LAZY(libarchive(), archive_write_close)(a_.get()), "close"); }

private:
    void check(int rc, const char* what) {
        // ARCHIVE_WARN: e.g. a name not valid in the locale, stored as raw bytes. Kept.
        if (rc >= ARCHIVE_WARN) return;
        const char* msg = AGENTBOX_LAZY(libarchive(), archive_error_string)(a_.get());
        throw std::runtime_error(std::string("export ") + what + " \"" + shown_ +
                                 "\": " + (msg != nullptr ? msg : "libarchive error"));
    }
    std::unique_ptr<archive, ArchiveFree> a_;
    std::string shown_;
};

EntryPtr new_entry(const std::string& name, mode_t mode, const struct ::stat* st) {
    EntryPtr e(AGENTBOX_LAZY(libarchive(), archive_entry_new)());
    if (!e) throw std::runtime_error("libarchive: out of memory");
    AGENTBOX_LAZY(libarchive(), archive_entry_copy_pathname)(e.get(), name.c_str());
    AGENTBOX_LAZY(libarchive(), archive_entry_set_mode)(e.get(), mode);
    // The staging user's ids mean nothing where the archive is unpacked.
    AGENTBOX_LAZY(libarchive(), archive_entry_set_uid)(e.get(), 0);
    AGENTBOX_LAZY(libarchive(), archive_entry_set_gid)(e.get(), 0);
    const struct timespec* mtime = st != nullptr ? &sys::mtime_of(*st) : nullptr;
    if (mtime != nullptr) AGENTBOX_LAZY(libarchive(), archive_entry_set_mtime)(e.get(), mtime->tv_sec, mtime->tv_nsec);
    return e;
}

// The permission bits that may travel: never setuid or setgid.
mode_t safe_perms(mode_t m) { return m & 07777 & ~static_cast<mode_t>(S_ISUID | S_ISGID); }

void add_manifest(Writer& w, const std::vector<Change>& changes, const std::string& session_json) {
    nlohmann::ordered_json m;
    m["agentbox_export"] = 1;
    m["session"] = nlohmann::ordered_json::parse(session_json);
    if (!m["session"].is_object())
        throw std::invalid_argument("export: the session metadata must be a JSON object");
    m["changes"] = nlohmann::ordered_json::parse(to_json(changes));
    const std::string text =
        m.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    EntryPtr e = new_entry("manifest.json", S_IFREG | 0644, nullptr);
    AGENTBOX_LAZY(libarchive(), archive_entry_set_mtime)(e.get(), ::time(nullptr), 0);
    AGENTBOX_LAZY(libarchive(), archive_entry_set_size)(e.get(), static_cast<la_int64_t>(text.size()));
    w.header(e.get());
    w.data(text.data(), text.size());
}

void add_change(Writer& w, const Change& c, const detail::Tree& upper) {
    const std::string name = "files/" + c.path;
    struct ::stat st {};
    if (!upper.lstat(c.path, st)) throw sys::SysError("stat", upper.shown(c.path), ENOENT);
    if ((st.st_mode & S_IFMT) != (c.new_mode & S_IFMT))
        throw std::runtime_error("\"" + upper.shown(c.path) +
                                 "\" changed type since the change set was computed");
    if (S_ISDIR(st.st_mode)) {
        EntryPtr e = new_entry(name, S_IFDIR | safe_perms(st.st_mode), &st);
        w.header(e.get());
    } else if (S_ISLNK(st.st_mode)) {
        EntryPtr e = new_entry(name, S_IFLNK | 0777, &st);
        AGENTBOX_LAZY(libarchive(), archive_entry_copy_symlink)(e.get(), upper.read_link(c.path).c_str());
        w.header(e.get());
    } else if (S_ISREG(st.st_mode)) {
        const sys::unique_fd fd = upper.open_file(c.path);
        struct ::stat fst {};
        if (::fstat(fd.get(), &fst) != 0) throw sys::SysError("stat", upper.shown(c.path), errno);
        EntryPtr e = new_entry(name, S_IFREG | safe_perms(fst.st_mode), &fst);
        AGENTBOX_LAZY(libarchive(), archive_entry_set_size)(e.get(), static_cast<la_int64_t>(fst.st_size));
        w.header(e.get());
        // Stream: exactly the size in the header, whatever the file does meanwhile.
        auto left = static_cast<std::uint64_t>(fst.st_size);
        char buf[65536];
        while (left > 0) {
            const ssize_t n = ::read(fd.get(), buf, std::min<std::uint64_t>(sizeof buf, left));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw sys::SysError("read", upper.shown(c.path), errno);
            if (n == 0)
                throw std::runtime_error("\"" + upper.shown(c.path) + "\" shrank while exported");
            w.data(buf, static_cast<std::size_t>(n));
            left -= static_cast<std::uint64_t>(n);
        }
    }
    // Anything else (device, fifo, socket) is refused and never archived.
}

void write_archive(const std::vector<Change>& changes, const std::string& upper, int fd,
                   const std::string& shown, Format fmt, const std::string& session_json,
                   const std::function<void(std::size_t, std::size_t)>& progress) {
    const detail::Tree up(upper);
    Writer w(fd, fmt, shown);
    add_manifest(w, changes, session_json);
    std::size_t done = 0;
    for (const Change& c : changes) {
        if (progress) progress(done++, changes.size());
        if (!c.refused.empty()) continue;
        switch (c.kind) {
            case Kind::added:
            case Kind::modified:
            case Kind::mode:
            case Kind::type:
            case Kind::replaced: add_change(w, c, up); break;
            case Kind::deleted: break;  // in the manifest only
        }
    }
    w.close();
    if (progress) progress(changes.size(), changes.size());
}

}  // namespace

void export_archive(const std::vector<Change>& changes, const std::string& upper,
                    const std::string& out_path, Format fmt, const std::string& session_json,
                    bool overwrite,
                    const std::function<void(std::size_t, std::size_t)>& progress) {
    if (fmt == Format::from_name) fmt = format_for(out_path);
    // Fail before the work when we can tell; the rename checks again atomically.
    struct ::stat st {};
    if (!overwrite && ::lstat(out_path.c_str(), &st) == 0)
        throw sys::SysError("create", out_path, EEXIST);

    TempFile tmp(out_path);
    write_archive(changes, upper, tmp.fd(), out_path, fmt, session_json, progress);
    tmp.commit(out_path, overwrite);
}

void export_archive_fd(const std::vector<Change>& changes, const std::string& upper, int fd,
                       const std::string& shown, Format fmt, const std::string& session_json,
                       const std::function<void(std::size_t, std::size_t)>& progress) {
    if (fmt == Format::from_name) throw std::invalid_argument("export: no archive format given");
    write_archive(changes, upper, fd, shown, fmt, session_json, progress);
}

}  // namespace agentbox::stage
