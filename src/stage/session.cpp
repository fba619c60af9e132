// The session store: one directory per run under $XDG_STATE_HOME/agentbox/sessions, named by a
// sortable id, holding meta.json and the overlay's upper/ and work/ directories.
#include "stage/session.hpp"
#include "stage/snapshot.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include "audit/seal.hpp"
#include "stage/fsops.hpp"

#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/random.hpp"
#include "sys/remove.hpp"
#include "util/json_text.hpp"
#include "util/own_dirs.hpp"
#include "util/strings.hpp"
#include "util/utc.hpp"

namespace agentbox::stage {

namespace {

std::string home() {
    const char* h = std::getenv("HOME");
    if (h != nullptr && h[0] == '/') return h;
    struct passwd pw {};
    struct passwd* found = nullptr;
    char buf[16384];
    if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr &&
        found->pw_dir != nullptr && found->pw_dir[0] == '/')
        return found->pw_dir;
    throw std::runtime_error("cannot find the home directory: HOME is unset and uid " +
                             std::to_string(::getuid()) + " has no passwd entry");
}

// util::own_dir from this process's environment; the home directory is looked up only when
// the XDG variable does not decide.
std::string own_dir(util::OwnDir kind) {
    const char* v = std::getenv(util::xdg_variable(kind));
    if (v != nullptr && v[0] == '/') return util::own_dir(kind, v, {});
    return util::own_dir(kind, {}, home());
}

std::string sessions_dir() { return state_dir() + "/sessions"; }

// UTC `t` as 20261201T091516Z (`compact`, for ids) or 2026-12-01T09:15:16Z.
std::string utc(std::time_t t, bool compact) {
    const util::UtcTime u = util::utc_fields(t);
    char buf[96];  // room for any int the compiler cannot rule out
    if (compact)
        std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", u.year, u.month, u.day,
                      u.hour, u.minute, u.second);
    else
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", u.year, u.month, u.day,
                      u.hour, u.minute, u.second);
    return buf;
}

// A sortable id: UTC time to the second, then 6 random hex digits so that two runs started in
// the same second do not collide.
std::string new_id(std::time_t now) {
    const std::string stamp = utc(now, /*compact=*/true);
    return stamp + "-" + sys::random_hex(3);
}

bool looks_like_id(std::string_view name) {
    // YYYYMMDDTHHMMSSZ-xxxxxx
    if (name.size() != 23 || name[8] != 'T' || name[15] != 'Z' || name[16] != '-') return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (i == 8 || i == 15 || i == 16) continue;
        const char c = name[i];
        const bool digit = c >= '0' && c <= '9';
        const bool hex = digit || (c >= 'a' && c <= 'f');
        if (i < 15 ? !digit : !hex) return false;
    }
    return true;
}

std::string rfc3339(std::time_t t) { return utc(t, /*compact=*/false); }

void sync_path(const std::string& path, int flags) {
    sys::unique_fd fd(::open(path.c_str(), flags | O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw sys::SysError("open", path, errno);
    if (::fsync(fd.get()) != 0) throw sys::SysError("fsync", path, errno);
}

// A status change that need not be durable yet (the end of a run; sync_meta follows where it
// matters): the new document written over the old one in one pwrite when it is no longer,
// padded with spaces before its final newline (JSON allows them), so that the file keeps its
// size. That replaces no inode: creating meta.json.tmp and freeing the old meta.json's inode
// and block was 0.14 ms of every run's end. A file of one disk sector (512 bytes) is rewritten
// whole or not at all by a crash; a reader racing the copy into the page cache may see part of
// each, which read_meta reads again. False, having written nothing, when it does not apply.
bool rewrite_in_place(const std::string& dir, const std::string& path, std::string text) {
    constexpr off_t kSector = 512;
    sys::unique_fd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return false;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kSector ||
        static_cast<off_t>(text.size() + audit::kSealBytes) > st.st_size)
        return false;
    // Padded so that the sealed document (its MAC trailer included) keeps the file's size.
    text.insert(text.size() - 1,
                static_cast<std::size_t>(st.st_size) - audit::kSealBytes - text.size(), ' ');
    const std::string sealed = seal_session_file(dir, kMetaFile, text);
    const ssize_t n = ::pwrite(fd.get(), sealed.data(), sealed.size(), 0);
    if (n != static_cast<ssize_t>(sealed.size()))
        throw sys::SysError("write", path, n < 0 ? errno : EIO);
    return true;
}

// meta.json is replaced atomically: a reader sees the old file or the new one, never half of
// one. With `durable`, so does a crash once this returns: the data is flushed before the
// rename and the rename before returning. Without it a crash may leave either file, or none
// (a new session, which its command never ran in: removed by the next look, sweep_unrecorded);
// and a shorter document is written in place (rewrite_in_place).
void write_meta(const std::string& dir, const Meta& m, bool durable) {
    nlohmann::ordered_json j;
    j["v"] = 1;
    j["id"] = m.id;
    // A project path or an argument need not be UTF-8 (`run -- touch $'\xff'`): JSON strings
    // must be, so such bytes go as util/json_text.hpp says.
    util::put_text(j, "project", m.project);
    util::put_text_list(j, "argv", m.argv);
    j["status"] = m.status;
    j["created"] = m.created;
    j["start_ns"] = m.start_ns;
    j["profiles"] = m.profiles;
    j["staging"] = staged_name(m.staged);
    j["project_dev"] = m.project_dev;
    j["project_ino"] = m.project_ino;
    j["log_seq"] = m.log_seq;
    j["log_hash"] = m.log_hash;
    const std::string text = j.dump(2) + "\n";

    const std::string tmp = dir + "/" + kMetaFile + ".tmp";
    const std::string final_path = dir + "/" + kMetaFile;
    // Sealed first: a key that cannot be used (log-key readable by others) fails here, naming
    // the key, before any file is touched.
    const std::string sealed = seal_session_file(dir, kMetaFile, text);
    if (!durable && rewrite_in_place(dir, final_path, text)) return;
    // A leftover from a crash is ours and stale.
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) throw sys::SysError("unlink", tmp, errno);
    sys::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                             0600));
    if (!fd) throw sys::SysError("open", tmp, errno);
    sys::write_all(fd.get(), sealed, tmp);
    if (durable && ::fsync(fd.get()) != 0) throw sys::SysError("fsync", tmp, errno);
    if (::close(fd.release()) != 0) throw sys::SysError("close", tmp, errno);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0)
        throw sys::SysError("rename", final_path, errno);
    // The rename itself is durable only once the directory is synced.
    if (durable) sync_path(dir, O_DIRECTORY);
}

Meta read_meta(const std::string& dir) {
    const std::string path = dir + "/" + kMetaFile;
    std::string sealed, text;
    nlohmann::json j;
    // Read again when it does not verify or parse: it may be being rewritten in place (a run's
    // end), and a read racing that copy can see part of both versions.
    // The limit only stops a runaway read: argv is at most ARG_MAX (2 MiB by default), six
    // times that JSON-escaped.
    constexpr std::size_t kMaxMeta = 32u << 20;
    for (int attempt = 0;; ++attempt) {
        if (const int err = sys::read_file(path, sealed, kMaxMeta, O_NOFOLLOW); err != 0)
            throw sys::SysError("open", path, err);
        try {
            text = unseal_session_file(dir, kMetaFile, sealed);
        } catch (const Unauthenticated&) {
            if (attempt == 2) throw;
            continue;
        }
        j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (!j.is_discarded() || attempt == 2) break;
    }
    Meta m;
    try {
        if (j.is_discarded()) j = nlohmann::json::parse(text);  // for its message
        m.id = j.at("id").get<std::string>();
        m.project = util::get_text(j, "project");
        m.argv = util::get_text_list(j, "argv");
        m.status = j.at("status").get<std::string>();
        m.created = j.at("created").get<std::string>();
        m.start_ns = j.at("start_ns").get<long long>();
        if (j.contains("profiles")) m.profiles = j.at("profiles").get<std::vector<std::string>>();
        if (j.contains("staging")) {
            const std::string how = j.at("staging").get<std::string>();
            if (how == staged_name(Staged::copy)) m.staged = Staged::copy;
            else if (how == staged_name(Staged::none)) m.staged = Staged::none;
            else if (how != staged_name(Staged::overlay))
                throw std::runtime_error("session " + util::quote(path) +
                                         ": meta.json names an unknown staging " +
                                         util::quote(how));
        }
        if (m.project.empty() || m.project[0] != '/')
            throw std::runtime_error("session " + util::quote(path) +
                                     ": meta.json names no absolute project directory");
        m.project_dev = j.at("project_dev").get<std::uint64_t>();
        m.project_ino = j.at("project_ino").get<std::uint64_t>();
        m.log_seq = j.at("log_seq").get<long long>();
        m.log_hash = j.at("log_hash").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error("session " + util::quote(path) + ": malformed meta.json: " +
                                 e.what());
    }
    return m;
}

// The project index: one empty file per session, <state>/session-index/<id>.<key>.<tag>, where
// key is a hash of the session's project path, so that a command looking for a project's session
// reads the meta.json of that project's sessions and not of every session kept (700 sessions
// of other projects made `diff` 3x slower). The index is a hint and never the authority:
// - a session it does not know (its run killed before the entry was written, or made by an
//   agentbox from before the index) is read as before, and indexed then, when its meta.json
//   verifies; which sessions exist is read from sessions/ itself, one readdir, so a missing
//   entry costs a read, never a session;
// - an entry naming the project is only a reason to read that meta.json, which is verified
//   and its project compared as before; a hash collision costs a read;
// - an entry is written only for a session whose directory exists and whose project is
//   known (after its mkdir, from the project it was made for or a verified meta.json), with
//   `tag`, the session-file MAC of its key and id: an entry under another key would hide a
//   session from its project, so one is believed to be another project's only when its tag
//   verifies -- computed from its name, no read -- and a forged one is removed and its session
//   read (design note 91).
// An entry whose session is gone (removed by hand, its prune killed, the state moved without
// it), one that named this project for another's session, and one that is not a plain file
// are removed by the look that finds them (list_project_sessions): no cost where none is.
std::string index_dir() { return state_dir() + "/session-index"; }

constexpr std::size_t kIdSize = 23;   // looks_like_id
constexpr std::size_t kKeySize = 16;  // project_key
constexpr std::size_t kTagSize = 32;  // index_tag
constexpr std::size_t kEntrySize = kIdSize + 1 + kKeySize + 1 + kTagSize;
// <id>.<key>, an entry of an agentbox from before the tag: removed, its session read once.
constexpr std::size_t kUntaggedSize = kIdSize + 1 + kKeySize;

const audit::FileKey& file_key();

// FNV-1a, 64 bits, in hex: a name for the project path in a file name, not a MAC (above).
std::string project_key(std::string_view project) {
    std::uint64_t h = 14695981039346656037ULL;
    for (const unsigned char c : project) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char buf[kKeySize + 1];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

// 128 bits of the session-file MAC of (key, id): what only agentbox can put in an entry's name.
std::string index_tag(std::string_view id, std::string_view key) {
    std::string tag = file_key().tag_hex("session-index", key, id);
    tag.resize(kTagSize);
    return tag;
}

std::string index_entry(const std::string& id, std::string_view project) {
    const std::string key = project_key(project);
    return index_dir() + "/" + id + "." + key + "." + index_tag(id, key);
}

// Best effort: a session without its entry is still found (read like every unknown one).
void index_session(const std::string& id, std::string_view project) noexcept {
    try {
        const std::string path = index_entry(id, project);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == ENOENT && ::mkdir(index_dir().c_str(), 0700) == 0)
            fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) ::close(fd);
    } catch (const std::exception&) {
    }
}

// A session directory is made whole under a name no reader takes for a session, then renamed
// to its id (Session::create_unrecorded); removed, it goes back to such a name first. Either
// way a run or a sweep killed part way leaves nothing that lists as a session.
constexpr std::string_view kNewPrefix = ".new-";
// How long a directory without meta.json or run.lock may be a creation under way: the window
// between a mkdir and the next open is microseconds.
constexpr std::time_t kUnlockedGrace = 60;

enum class Unrecorded { starting, removed, kept };

bool is_leftover(std::string_view name) {
    return name.starts_with(kNewPrefix) && looks_like_id(name.substr(kNewPrefix.size()));
}

// Session directory `dir` (named `name` in `parent`; an id, or kNewPrefix + id) whose meta.json
// does not exist: a run killed before it recorded its session, or one recording it now. The
// command never started in it (the backend lets it exec only after meta.json is written;
// copy staging records the session before its snapshot): what upper/ holds is the sandbox's
// own (hide_absent_masks' whiteouts), never staged work. It is removed once its creator is
// proven gone: its run.lock free (the run takes it before the directory has its id, and its
// sandbox holds it until it is gone), or, having none, the directory untouched for a minute.
// `kept` (listed as broken, as before) when that cannot be told, and for a directory that is
// not our own or holds what only a recorded session has.
Unrecorded sweep_unrecorded(const std::string& parent, const std::string& name) {
    const std::string dir = parent + "/" + name;
    try {
        struct stat st {};
        // A directory of our own, not a link to one: nothing is looked up through a link.
        if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
            return Unrecorded::kept;
        const std::time_t changed = st.st_ctime;
        sys::unique_fd lock(::open((dir + "/run.lock").c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
        if (lock) {
            if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
                return errno == EWOULDBLOCK ? Unrecorded::starting : Unrecorded::kept;
        } else if (errno != ENOENT) {
            return Unrecorded::kept;
        } else if (std::time(nullptr) - changed < kUnlockedGrace) {
            return Unrecorded::starting;
        }
        // Never recorded: no meta.json, nor what only a recorded session has (its log, a
        // commit's journal and records). One that lost its meta.json later is kept, broken.
        for (const char* f : {kMetaFile, kLogFile, kJournalFile, kCommitsDir})
            if (::lstat((dir + "/" + f).c_str(), &st) == 0 || errno != ENOENT)
                return Unrecorded::kept;
        std::string gone = name;
        if (!name.starts_with(kNewPrefix)) {
            gone = std::string(kNewPrefix) + name;
            if (::rename(dir.c_str(), (parent + "/" + gone).c_str()) != 0) return Unrecorded::kept;
        }
        const sys::unique_fd pfd(
            ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (pfd) sys::remove_at(pfd.get(), gone, parent + "/" + gone);
        return Unrecorded::removed;
    } catch (const std::exception&) {
        return Unrecorded::kept;  // another sweep at it, or an error: listed, never lost
    }
}

// The names in sessions/ that are session ids, unsorted; none when it does not exist yet.
// What a run or a sweep killed part way left (kNewPrefix) is removed on the way.
std::vector<std::string> session_names(const std::string& parent) {
    std::vector<std::string> names;
    const sys::unique_fd fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return names;
        throw sys::SysError("opendir", parent, errno);
    }
    for (auto& e : sys::read_dir(fd.get(), parent)) {
        if (looks_like_id(e.name)) names.push_back(std::move(e.name));
        else if (is_leftover(e.name)) sweep_unrecorded(parent, e.name);
    }
    return names;
}

// Ids sort by creation second; start_ns orders sessions created within the same second.
void sort_oldest_first(std::vector<Meta>& v) {
    std::sort(v.begin(), v.end(), [](const Meta& a, const Meta& b) {
        if (a.id.substr(0, 16) != b.id.substr(0, 16)) return a.id < b.id;
        if (a.start_ns != b.start_ns) return a.start_ns < b.start_ns;
        return a.id < b.id;
    });
}

// The Meta of session directory parent/name as list_sessions() gives it; nullopt when it is
// not a session (yet): unrecorded, and being recorded now or just removed (sweep_unrecorded).
std::optional<Meta> listed_meta(const std::string& parent, const std::string& name) {
    const std::string dir = parent + "/" + name;
    Meta m;
    try {
        m = read_meta(dir);
    } catch (const std::exception& e) {
        if (const auto* se = dynamic_cast<const sys::SysError*>(&e);
            se != nullptr && se->err() == ENOENT && se->op() == "open" &&
            sweep_unrecorded(parent, name) != Unrecorded::kept)
            return std::nullopt;
        // A session whose meta.json cannot be read (a corrupt file, one agentbox did not
        // write, one left by an agentbox from before sessions were made whole) is still
        // listed, so that it is never silently forgotten with its upper/; it is never acted on.
        m = Meta{};
        m.status = "broken";
        m.broken = e.what();
    }
    // The directory name is the identity; a meta.json claiming another id is not trusted.
    if (m.id != name) {
        if (m.broken.empty()) m.broken = "meta.json names another session";
        m.id = name;
        m.status = "broken";
    }
    return m;
}

// listed_meta of a session named by the user: one that is not (yet) a session is not found.
Meta session_meta(const std::string& parent, const std::string& id) {
    auto m = listed_meta(parent, id);
    if (!m) throw std::runtime_error("no session matches " + util::quote(id));
    return std::move(*m);
}

std::string base_name(const std::string& dir) {
    const auto slash = dir.rfind('/');
    return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

// The user's session-file MAC key, derived from the log signing key; loaded once per process
// (per key path: tests move XDG_CONFIG_HOME).
std::mutex file_key_mu;
std::map<std::string, std::unique_ptr<audit::FileKey>> file_keys;

const audit::FileKey& file_key() {
    const std::string dir = config_dir();
    const std::string path = dir + "/log-key";
    std::lock_guard lock(file_key_mu);
    auto& k = file_keys[path];
    if (!k) {
        sys::make_dirs(dir);
        k = std::make_unique<audit::FileKey>(audit::FileKey::load_or_create(path));
    }
    return *k;
}

}  // namespace

void remember_log_key(const audit::SigningKey& key) {
    const std::string path = config_dir() + "/log-key";
    std::lock_guard lock(file_key_mu);
    auto& k = file_keys[path];
    if (!k) k = std::make_unique<audit::FileKey>(audit::FileKey::derive(key));
}

std::string seal_session_file(const std::string& dir, const std::string& name,
                              std::string_view bytes) {
    return audit::seal(file_key(), base_name(dir), name, bytes);
}

std::string unseal_session_file(const std::string& dir, const std::string& name,
                                std::string_view sealed) {
    std::string why;
    auto bytes = audit::unseal(file_key(), base_name(dir), name, sealed, &why);
    if (!bytes)
        throw Unauthenticated("session file " + util::quote(dir + "/" + name) + ": " + why);
    return std::move(*bytes);
}

void write_authenticated(const std::string& dir, const std::string& name,
                         std::string_view bytes) {
    fsops::write_file_atomic(dir + "/" + name, seal_session_file(dir, name, bytes));
}

std::string read_authenticated(const std::string& dir, const std::string& name) {
    return unseal_session_file(dir, name, sys::read_file(dir + "/" + name, O_NOFOLLOW));
}

std::string state_dir() { return own_dir(util::OwnDir::state); }

std::string config_dir() { return own_dir(util::OwnDir::config); }

std::string cache_dir() { return own_dir(util::OwnDir::cache); }

Session Session::create(const std::string& project, const std::vector<std::string>& argv,
                        const std::vector<std::string>& profiles, Staged staged) {
    Session s = create_unrecorded(project, argv, profiles, staged);
    s.record_start();
    s.run_lock_.reset();  // no run holds it
    return s;
}

Session Session::create_unrecorded(const std::string& project,
                                   const std::vector<std::string>& argv,
                                   const std::vector<std::string>& profiles,
                                   Staged staged) {
    const std::string parent = sessions_dir();
    sys::make_dirs(parent);

    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    Session s;
    // Made under kNewPrefix + id, which no reader takes for a session, and renamed to its id
    // once it has its run.lock, held, and upper/ and work/: a run killed before the rename
    // leaves a directory the next look at sessions/ removes (sweep_unrecorded), one killed
    // after it a session whose free lock proves its run gone. Never one without a lock, which
    // would have to be kept, as "broken", for fear of removing a run being made.
    // A collision needs the same second and the same 24 random bits; retrying a few times makes
    // it practically impossible, and mkdir's EEXIST and rename's ENOTEMPTY make it safe.
    std::string made;
    for (int attempt = 0;; ++attempt) {
        s.meta_.id = new_id(ts.tv_sec);
        made = parent + "/" + std::string(kNewPrefix) + s.meta_.id;
        if (::mkdir(made.c_str(), 0700) == 0) break;
        if (errno != EEXIST || attempt == 8) throw sys::SysError("mkdir", made, errno);
    }
    const auto fail = [&made](const char* op, const std::string& path, int err) {
        // A full disk: nothing half-made is left.
        try {
            sys::remove_contents(made);
        } catch (const std::exception&) {
        }
        ::rmdir(made.c_str());
        throw sys::SysError(op, path, err);
    };
    const std::string lock = made + "/run.lock";
    s.run_lock_ = sys::unique_fd(
        ::open(lock.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!s.run_lock_ || ::flock(s.run_lock_.get(), LOCK_EX | LOCK_NB) != 0)
        fail(s.run_lock_ ? "flock" : "open", lock, errno);
    // upper/ and work/ sit side by side in one directory: overlayfs needs them on the same
    // filesystem, and work/ empty.
    for (const char* sub : {kUpperDir, kWorkDir}) {
        const std::string d = made + "/" + sub;
        if (::mkdir(d.c_str(), 0700) != 0) fail("mkdir", d, errno);
    }
    for (int attempt = 0;; ++attempt) {
        s.dir_ = parent + "/" + s.meta_.id;
        if (::rename(made.c_str(), s.dir_.c_str()) == 0) break;
        if ((errno != EEXIST && errno != ENOTEMPTY) || attempt == 8)
            fail("rename", s.dir_, errno);
        s.meta_.id = new_id(ts.tv_sec);
    }
    s.meta_.project = project;
    // A project that cannot be stat'ed keeps identity 0: nothing is ever written into it
    // (open_project refuses), as nothing could be staged from it either.
    if (struct stat pst {}; ::stat(project.c_str(), &pst) == 0) {
        s.meta_.project_dev = static_cast<std::uint64_t>(pst.st_dev);
        s.meta_.project_ino = static_cast<std::uint64_t>(pst.st_ino);
    }
    s.meta_.argv = argv;
    s.meta_.profiles = profiles;
    s.meta_.staged = staged;
    s.meta_.status = "running";
    s.meta_.created = rfc3339(ts.tv_sec);
    s.meta_.start_ns = static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
    return s;
}

void Session::record_start() {
    // Not flushed: "running" is superseded by the run's end, which is (sync_meta), and a
    // crash before then leaves a session that list_sessions() shows as "running" (cut short),
    // or, without its meta.json, none (sweep_unrecorded) -- never one that claims staged
    // work. Two flushes (~1 ms idle, tens of ms on a busy disk) saved on every run's way in.
    try {
        write_meta(dir_, meta_, /*durable=*/false);
    } catch (...) {
        // No meta.json (a full disk): the session never held anything; gone, not broken.
        remove_unrecorded();
        throw;
    }
    meta_durable_ = false;
    // Here, while the sandbox is being built, not on the way to the clone; a run killed
    // before this line leaves a session the index does not know, which is read anyway.
    index_session(meta_.id, meta_.project);
}

void Session::remove_unrecorded() const {
    try {
        sys::remove_contents(dir_);
        ::rmdir(dir_.c_str());
    } catch (const std::exception&) {
        // Left for `sessions` to list as broken: better than hiding why it failed.
    }
}

Session Session::open_listed(const Meta& m) {
    if (m.status == "broken")
        throw std::runtime_error("session " + m.id + " is broken: " + m.broken);
    Session s;
    s.meta_ = m;
    s.dir_ = sessions_dir() + "/" + m.id;
    if (!s.running()) {
        s.finish_discard();
        // The copy strategy (snapshot.hpp): a run killed before it staged its snapshot's work
        // left it there; stage it now, as a crashed commit is rolled forward when touched.
        resume_snapshot(m.project, s.dir_ + "/snapshot", s.upper(), s.whiteouts());
        // An overlay run cut short (its launcher killed: its run.lock is free, and the
        // sandbox died with it) never opened up what the command left unreadable; done at
        // every open while the session says "running", which no chmod of the walk can aim
        // outside upper/ (open_up_staged).
        // Never a reason not to open the session: what stays shut is the review's to report.
        if (m.status == "running" && m.staged == Staged::overlay) {
            try {
                open_up_staged(s.upper());
            } catch (const std::exception&) {
            }
        }
    }
    return s;
}

Session Session::open(const std::string& id_or_prefix, const std::string& project) {
    const std::string parent = sessions_dir();

    // A whole id names one directory: its meta.json is read alone, not every session's (the
    // commands that pick the newest session list them once, then open it by id).
    if (looks_like_id(id_or_prefix)) {
        struct stat st {};
        if (::lstat((parent + "/" + id_or_prefix).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            return open_listed(session_meta(parent, id_or_prefix));
    }
    if (id_or_prefix.empty()) {
        // Oldest first: the newest of the project is the last.
        const std::vector<Meta> mine = list_project_sessions(project);
        if (!mine.empty()) return open_listed(mine.back());
        throw std::runtime_error("no session for the project " + util::quote(project) +
                                 " (name one: agentbox sessions lists them)");
    }
    // A prefix is matched against the directory names, which are the ids (listed_meta): only
    // the one it names is read.
    std::vector<std::string> matches;
    for (auto& id : session_ids()) {
        if (id == id_or_prefix) return open_listed(session_meta(parent, id));
        if (id.starts_with(id_or_prefix)) matches.push_back(std::move(id));
    }
    if (matches.empty())
        throw std::runtime_error("no session matches " + util::quote(id_or_prefix));
    if (matches.size() > 1)
        throw std::runtime_error("session prefix " + util::quote(id_or_prefix) +
                                 " is ambiguous: " + util::join(matches, ", "));
    return open_listed(session_meta(parent, matches.front()));
}

void Session::open_up_work() const { sys::open_up(work()); }

void Session::finish_discard() {
    const std::string gone = dir_ + "/" + kDiscardedDir;
    struct stat st {};
    if (::lstat(gone.c_str(), &st) != 0) return;
    if (::mkdir(upper().c_str(), 0700) != 0 && errno != EEXIST)
        throw sys::SysError("mkdir", upper(), errno);
    if (meta_.status != "discarded") set_status("discarded");
    sys::remove_contents(gone);
    if (::rmdir(gone.c_str()) != 0) throw sys::SysError("rmdir", gone, errno);
}

sys::unique_fd Session::hold_run_lock() {
    if (run_lock_) return std::move(run_lock_);  // held since create_unrecorded
    const std::string path = dir_ + "/run.lock";
    sys::unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw sys::SysError("open", path, errno);
    while (::flock(fd.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw sys::SysError("flock", path, errno);
    return fd;
}

bool Session::running() const {
    if (meta_.status != "running") return false;
    const std::string path = dir_ + "/run.lock";
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return false;  // never locked: the run never got that far
    return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

sys::unique_fd Session::open_project() const {
    const std::string& p = meta_.project;
    sys::unique_fd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw sys::SysError("open", p, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw sys::SysError("fstat", p, errno);
    if (meta_.project_ino == 0 || static_cast<std::uint64_t>(st.st_dev) != meta_.project_dev ||
        static_cast<std::uint64_t>(st.st_ino) != meta_.project_ino)
        throw std::runtime_error("the project " + util::quote(p) +
                                 " is no longer the directory session " + meta_.id +
                                 " was created for (renamed or replaced since); nothing is "
                                 "written there");
    return fd;
}

void Session::record_log_head(std::uint64_t seq, const std::string& hash) {
    Meta next = meta_;
    next.log_seq = static_cast<long long>(seq);
    next.log_hash = hash;
    if (!hold_meta_) write_meta(dir_, next, /*durable=*/false);
    meta_held_ = hold_meta_;
    meta_ = std::move(next);
    meta_durable_ = false;
}

void Session::set_status(const std::string& status, bool durable) {
    Meta next = meta_;
    next.status = status;
    const bool hold = hold_meta_ && !durable;
    if (!hold) write_meta(dir_, next, durable);
    meta_held_ = hold;
    meta_ = std::move(next);
    meta_durable_ = durable;
}

void Session::hold_meta() { hold_meta_ = true; }

void Session::write_held_meta() {
    hold_meta_ = false;
    if (!meta_held_) return;
    write_meta(dir_, meta_, /*durable=*/false);
    meta_held_ = false;
}

void Session::sync_meta() {
    if (meta_held_) {
        // Written as set_status would have (in place when it can), then flushed below.
        write_meta(dir_, meta_, /*durable=*/false);
        meta_held_ = false;
    }
    if (meta_durable_) return;
    sync_path(dir_ + "/" + kMetaFile, 0);
    sync_path(dir_, O_DIRECTORY);
    meta_durable_ = true;
}

bool Session::sync_staged() const {
    const std::string up = upper();
    const sys::unique_fd fd(::open(up.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw sys::SysError("open", up, errno);
    // Opened for this alone: read through its own offset (sys::has_entries_here).
    if (!sys::has_entries_here(fd.get(), up)) return false;
    sys::sync_fs(fd.get(), up);
    return true;
}

bool has_staged(const std::string& id) {
    const std::string up = sessions_dir() + "/" + id + "/" + kUpperDir;
    const sys::unique_fd fd(::open(up.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return false;
    try {
        return sys::has_entries_here(fd.get(), up);
    } catch (const sys::SysError&) {
        return false;
    }
}

std::vector<Meta> list_sessions() {
    const std::string parent = sessions_dir();
    std::vector<Meta> out;
    for (const auto& name : session_names(parent))
        if (auto m = listed_meta(parent, name)) out.push_back(std::move(*m));
    sort_oldest_first(out);
    return out;
}

std::vector<Meta> list_project_sessions(const std::string& project) {
    // Read entry by entry (DirStream), ids kept as fixed arrays: with 700 sessions kept, a
    // string per name was ~30 of the command's ~170 page faults.
    using Id = std::array<char, kIdSize>;
    using Key = std::array<char, kKeySize>;
    using Tag = std::array<char, kTagSize>;
    const auto id_of = [](std::string_view name) {
        Id id;
        std::memcpy(id.data(), name.data(), kIdSize);
        return id;
    };
    // Every indexed id, the key and tag of its entry, whether that is this project's, and
    // whether sessions/ has the id (or the entry is gone already).
    struct Entry {
        Id id;
        Key key;
        Tag tag;
        bool ours;
        bool seen;
    };
    std::vector<Entry> indexed;
    const std::string key = project_key(project);
    const std::string dir = index_dir();
    const sys::unique_fd ifd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // Entries by their names only: an entry is never opened, so what one holds (written by
    // hand) or points to (a symlink) cannot steer a read. One that is not a plain file is not
    // agentbox's: removed, and its session read as one the index does not know.
    const auto entry_name = [](const Entry& e) {
        return std::string(e.id.data(), kIdSize) + "." + std::string(e.key.data(), kKeySize) +
               "." + std::string(e.tag.data(), kTagSize);
    };
    // Whether agentbox wrote `e` (index_tag). Only asked of an entry that would have its
    // session skipped, another project's: one naming this project costs a read at worst.
    const auto authentic = [](const Entry& e) {
        const std::string want = index_tag(std::string_view(e.id.data(), kIdSize),
                                           std::string_view(e.key.data(), kKeySize));
        unsigned char diff = 0;
        for (std::size_t i = 0; i < kTagSize; ++i)
            diff |= static_cast<unsigned char>(want[i] ^ e.tag[i]);
        return diff == 0;
    };
    if (ifd) {
        sys::DirStream entries(ifd.get(), dir);
        std::string_view n;
        unsigned char type = 0;
        while (entries.next(n, type)) {
            if (n.size() == kUntaggedSize && n[kIdSize] == '.' &&
                looks_like_id(n.substr(0, kIdSize))) {
                ::unlinkat(ifd.get(), std::string(n).c_str(), 0);
                continue;
            }
            if (n.size() != kEntrySize || n[kIdSize] != '.' || n[kIdSize + 1 + kKeySize] != '.')
                continue;
            if (type != DT_REG && type != DT_UNKNOWN) {
                if (type != DT_DIR) ::unlinkat(ifd.get(), std::string(n).c_str(), 0);
                continue;
            }
            Entry e{id_of(n), {}, {}, n.substr(kIdSize + 1, kKeySize) == key, false};
            std::memcpy(e.key.data(), n.data() + kIdSize + 1, kKeySize);
            std::memcpy(e.tag.data(), n.data() + kIdSize + 1 + kKeySize + 1, kTagSize);
            indexed.push_back(e);
        }
    } else if (errno != ENOENT) {
        throw sys::SysError("opendir", dir, errno);
    }
    // Ours first among an id's entries, so that lower_bound finds it.
    std::sort(indexed.begin(), indexed.end(), [](const Entry& a, const Entry& b) {
        return a.id != b.id ? a.id < b.id : a.ours > b.ours;
    });
    // Read after the index: a session made in between is read as one the index does not know;
    // one the index read knows had its directory, with its id, before its entry was written
    // (Session::record_start), so sessions/ read now shows it unless it was removed since.
    const std::string parent = sessions_dir();
    std::vector<Meta> out;
    const sys::unique_fd fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return out;
        throw sys::SysError("opendir", parent, errno);
    }
    sys::DirStream names(fd.get(), parent);
    std::string_view n;
    unsigned char type = 0;
    while (names.next(n, type)) {
        if (!looks_like_id(n)) {
            if (is_leftover(n)) sweep_unrecorded(parent, std::string(n));
            continue;
        }
        const Id id = id_of(n);
        auto it = std::lower_bound(indexed.begin(), indexed.end(), id,
                                   [](const Entry& e, const Id& i) { return e.id < i; });
        // Another project's only by an entry agentbox wrote; a forged one goes, and the
        // session is read as one the index does not know.
        const bool ours = it != indexed.end() && it->id == id && it->ours;
        bool theirs = false;
        for (auto e = it; e != indexed.end() && e->id == id; ++e) {
            e->seen = true;
            if (e->ours || theirs) continue;
            if (authentic(*e)) theirs = true;
            else if (ifd) ::unlinkat(ifd.get(), entry_name(*e).c_str(), 0);
        }
        const bool known = ours || theirs;
        if (theirs && !ours) continue;  // another project's
        auto m = listed_meta(parent, std::string(n));
        if (!m || m->status == "broken") continue;
        if (m->project != project) {
            // An entry that named this project wrongly (written by hand, or a hash
            // collision): only a read lost, and not again.
            if (ours && ifd) ::unlinkat(ifd.get(), entry_name(*it).c_str(), 0);
            if (ours || !known) index_session(m->id, m->project);
            continue;
        }
        // Unknown to the index, and now read and verified: indexed, once.
        if (!known) index_session(m->id, m->project);
        out.push_back(std::move(*m));
    }
    // Entries whose session is gone (discarded and pruned by a command killed before its
    // entry went, removed by hand, the state directory moved without them): removed here,
    // where finding them cost nothing, so that the index does not grow without bound.
    if (ifd)
        for (const Entry& e : indexed)
            if (!e.seen) ::unlinkat(ifd.get(), entry_name(e).c_str(), 0);
    sort_oldest_first(out);
    return out;
}

std::vector<std::string> session_ids() {
    std::vector<std::string> names = session_names(sessions_dir());
    std::sort(names.begin(), names.end());
    return names;
}

void unindex_session(const Meta& m) { ::unlink(index_entry(m.id, m.project).c_str()); }

}  // namespace agentbox::stage
