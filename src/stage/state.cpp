#include "stage/state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>

#include "stage/fsops.hpp"
#include "sys/beneath.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/remove.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

using sys::SysError;
using sys::unique_fd;

namespace {

// Past this, a state file is not read: agents keep these files small, and a file the command
// grew without bound is not worth reading into memory to judge. It is held, not lost.
constexpr std::size_t kMaxStateBytes = 64u << 20;
// Deeper nesting than any real configuration; guards the walk below and the JSON parser.
constexpr int kMaxDepth = 256;

// ---- Judging ------------------------------------------------------------------------------

bool nesting_within(const std::string& text, int limit) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') {
            if (++depth > limit) return false;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return true;
}

// One JSON document, or JSON Lines (a history file: one document per line), read as the
// array of its lines.
std::optional<nlohmann::json> parse_json(const std::string& text) {
    if (!nesting_within(text, kMaxDepth)) return std::nullopt;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) return j;
    nlohmann::json lines = nlohmann::json::array();
    for (const auto& line : util::split(text, '\n')) {
        if (util::trim(line).empty()) continue;
        nlohmann::json one = nlohmann::json::parse(line, nullptr, false);
        if (one.is_discarded()) return std::nullopt;
        lines.push_back(std::move(one));
    }
    if (lines.empty()) return std::nullopt;
    return lines;
}

// Every place a reviewed key occurs, as "a.b.key" -> its value in canonical form. An explicit
// stack, not recursion: the depth is bounded above, but the walk need not rely on it.
using Occurrences = std::vector<std::pair<std::string, std::string>>;

// Sorted, so that two of them compare as sets ("a.b" can name two places: {"a.b":…} and
// {"a":{"b":…}}; both are kept).
Occurrences occurrences(const nlohmann::json& root, const std::vector<std::string>& keys) {
    Occurrences out;
    std::vector<std::pair<const nlohmann::json*, std::string>> todo{{&root, ""}};
    while (!todo.empty()) {
        auto [node, where] = todo.back();
        todo.pop_back();
        if (node->is_object()) {
            for (auto it = node->begin(); it != node->end(); ++it) {
                const std::string here = where.empty() ? it.key() : where + "." + it.key();
                if (std::find(keys.begin(), keys.end(), it.key()) != keys.end())
                    out.emplace_back(here, it.value().dump());
                todo.emplace_back(&it.value(), here);
            }
        } else if (node->is_array()) {
            for (std::size_t i = 0; i < node->size(); ++i)
                todo.emplace_back(&(*node)[i], where + "[" + std::to_string(i) + "]");
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// ---- Files --------------------------------------------------------------------------------

struct FileData {
    std::string bytes;
    mode_t mode = 0600;
};

// The whole regular file open at `fd`; `shown` names it. O_NONBLOCK on the open: a fifo put
// in place of the file must not hang the run's end.
FileData read_open(int fd, const std::string& shown) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw SysError("stat", shown, errno);
    if (!S_ISREG(st.st_mode)) throw SysError("open", shown + " (not a regular file)", EINVAL);
    if (static_cast<std::uint64_t>(st.st_size) > kMaxStateBytes)
        throw SysError("read", shown + " (larger than 64 MiB)", EFBIG);
    FileData d;
    d.mode = st.st_mode & 0777;
    if (const int err = sys::read_fd(fd, d.bytes, kMaxStateBytes); err != 0)
        throw SysError("read", err == EFBIG ? shown + " (larger than 64 MiB)" : shown, err);
    return d;
}

constexpr int kReadFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;

// A file beneath `root` (written by the sandbox, or by us); nullopt when it does not exist.
std::optional<FileData> read_beneath(int root, const std::string& rel, const std::string& shown) {
    unique_fd fd(sys::open_beneath(root, rel.c_str(), kReadFlags, sys::Beneath::same_mount));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw SysError("open", shown, errno);
    }
    return read_open(fd.get(), shown);
}

// The host's file; nullopt when it does not exist. Not through a final symlink: the plan
// shows a linked state file read-only instead (policy/mounts.cpp).
std::optional<FileData> read_host(const std::string& path) {
    unique_fd fd(::open(path.c_str(), kReadFlags));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw SysError("open", path, errno);
    }
    return read_open(fd.get(), path);
}

// Creates `rel` beneath `root` (missing directories 0700), replacing nothing.
void create_beneath(int root, const std::string& rel, const std::string& bytes, mode_t mode,
                    const std::string& shown) {
    const auto [dir, name] = fsops::split_parent(rel);
    unique_fd parent = fsops::make_dirs_beneath(root, dir, shown);
    unique_fd out(::openat(parent.get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw SysError("create", shown, errno);
    sys::write_all(out.get(), bytes, shown);
    if (::fchmod(out.get(), mode & 0777) != 0) throw SysError("chmod", shown, errno);
}

unique_fd open_dir(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw SysError("open", path, errno);
    return fd;
}

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == 0 ? std::string("/") : path.substr(0, slash);
}

// The one temporary of host file `name`, beside it: a save killed before its rename leaves
// that file, which the next save of the file takes over and the next run's prepare_state
// removes, where a new random name per save left one more file in the user's home per kill.
std::string host_temp(const std::string& name) { return "." + name + ".agentbox-tmp"; }

// host_temp `tmp` in `dfd`, opened and locked: agentbox runs saving the same file take turns
// here. Another's temporary renamed into place meanwhile is not ours: the new name is opened.
// Anything there but a plain file of ours with one name is removed first: the file is
// written in place, and through a second name it would write another file.
unique_fd lock_host_temp(int dfd, const std::string& tmp, const std::string& shown) {
    for (int attempt = 0; attempt < 8; ++attempt) {
        unique_fd fd(::openat(dfd, tmp.c_str(),
                              O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
        if (!fd && errno == ELOOP) {
            if (::unlinkat(dfd, tmp.c_str(), 0) != 0) throw SysError("unlink", shown, errno);
            continue;
        }
        if (!fd) throw SysError("create", shown, errno);
        while (::flock(fd.get(), LOCK_EX) != 0)
            if (errno != EINTR) throw SysError("flock", shown, errno);
        struct stat mine {}, named {};
        if (::fstat(fd.get(), &mine) != 0) throw SysError("stat", shown, errno);
        if (::fstatat(dfd, tmp.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0 ||
            named.st_ino != mine.st_ino || named.st_dev != mine.st_dev)
            continue;
        if (S_ISREG(mine.st_mode) && mine.st_uid == ::geteuid() && mine.st_nlink == 1) return fd;
        if (::unlinkat(dfd, tmp.c_str(), 0) != 0) throw SysError("unlink", shown, errno);
    }
    throw SysError("open", shown, EAGAIN);
}

// A host_temp left by a killed save of `path`, removed when no save holds it. Best effort: a
// leftover is only clutter, and the next save takes it over anyway.
void sweep_host_temp(const std::string& path) {
    const std::string dir = parent_of(path);
    const std::string tmp = dir + "/" + host_temp(path.substr(path.rfind('/') + 1));
    struct stat st {};
    if (::lstat(tmp.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
        return;
    unique_fd fd(::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat mine {};
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 || ::fstat(fd.get(), &mine) != 0 ||
        ::lstat(tmp.c_str(), &st) != 0 || st.st_ino != mine.st_ino || st.st_dev != mine.st_dev)
        return;
    ::unlink(tmp.c_str());
}

// Replace the host file, if it is still `before` (its bytes; nullopt: absent), with `bytes`:
// host_temp written under its lock, flushed, renamed over it, and the directory flushed. A
// reader -- the agent started outside a moment later -- sees the old file or the whole new
// one. The host file is compared under the lock, so that of two runs saving the same file
// the second sees the first's save as a change on the host. False, having written nothing,
// when the host file changed.
bool write_host(const std::string& path, const std::string& bytes, mode_t mode,
                const std::optional<std::string>& before) {
    const std::string dir = parent_of(path);
    const std::string name = path.substr(path.rfind('/') + 1);
    sys::make_dirs(dir);
    unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) throw SysError("open", dir, errno);
    const std::string tmp = host_temp(name);
    const std::string shown = dir + "/" + tmp;
    unique_fd out = lock_host_temp(dfd.get(), tmp, shown);
    try {
        const auto now = read_host(path);
        if ((now ? std::optional<std::string>(now->bytes) : std::nullopt) != before) {
            ::unlinkat(dfd.get(), tmp.c_str(), 0);
            return false;
        }
        if (::ftruncate(out.get(), 0) != 0) throw SysError("truncate", shown, errno);
        sys::write_all(out.get(), bytes, shown);
        if (::fchmod(out.get(), mode & 0777) != 0) throw SysError("chmod", shown, errno);
        if (::fsync(out.get()) != 0) throw SysError("fsync", shown, errno);
        if (::renameat(dfd.get(), tmp.c_str(), dfd.get(), name.c_str()) != 0)
            throw SysError("rename", path, errno);
    } catch (...) {
        // Still ours: the lock is held, and only a holder renames or removes it.
        ::unlinkat(dfd.get(), tmp.c_str(), 0);
        throw;
    }
    ::fsync(dfd.get());
    return true;
}

}  // namespace

StateVerdict review_state_change(const std::optional<std::string>& before,
                                 const std::optional<std::string>& after, bool review_whole,
                                 const std::vector<std::string>& keys) {
    StateVerdict v;
    if (before == after) return v;
    v.hold = true;
    if (!after) {
        v.reason = "removed in the sandbox; the host file is kept";
        return v;
    }
    if (review_whole) {
        v.reason = "every change to this file is reviewed (filesystem.state_review)";
        return v;
    }
    if (keys.empty()) {
        v.hold = false;
        return v;
    }
    const auto now = parse_json(*after);
    const auto was = before ? parse_json(*before) : std::optional(nlohmann::json::object());
    if (!now || !was) {
        v.reason = std::string(!now ? "the new version" : "the host's version") +
                   " is not JSON, so its reviewed keys cannot be checked";
        return v;
    }
    const auto a = occurrences(*was, keys);
    const auto b = occurrences(*now, keys);
    Occurrences only;
    std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(),
                                  std::back_inserter(only));
    for (const auto& [where, value] : only)
        if (std::find(v.keys.begin(), v.keys.end(), where) == v.keys.end())
            v.keys.push_back(where);
    if (v.keys.empty()) {
        v.hold = false;
        return v;
    }
    v.reason = "changes what runs later: " + util::join(v.keys, ", ");
    return v;
}

const char* to_string(StateOutcome o) {
    switch (o) {
        case StateOutcome::unchanged: return "unchanged";
        case StateOutcome::saved: return "saved";
        case StateOutcome::held: return "held";
        case StateOutcome::host_changed: return "host-changed";
        case StateOutcome::failed: return "failed";
    }
    return "?";
}

void prepare_state(const std::string& session_dir, const std::vector<StateFile>& files) {
    if (files.empty()) return;
    const std::string home = session_dir + "/home";
    const std::string orig = session_dir + "/state/orig";
    if (::mkdir(home.c_str(), 0700) != 0) throw SysError("mkdir", home, errno);
    sys::make_dirs(orig);
    const unique_fd hfd = open_dir(home);
    const unique_fd ofd = open_dir(orig);
    for (const auto& f : files) {
        // Its directory exists inside whether or not the file does, so that the agent can
        // create it there (a save back makes the directory on the host when needed).
        fsops::make_dirs_beneath(hfd.get(), fsops::split_parent(f.rel).first, home + "/" + f.rel);
        sweep_host_temp(f.path);
        const auto data = read_host(f.path);
        if (!data) continue;  // created inside, if at all
        create_beneath(hfd.get(), f.rel, data->bytes, data->mode, home + "/" + f.rel);
        create_beneath(ofd.get(), f.rel, data->bytes, data->mode, orig + "/" + f.rel);
    }
}

std::vector<StateResult> save_state(const std::string& session_dir,
                                    const std::vector<StateFile>& files,
                                    const std::vector<std::string>& keys) {
    std::vector<StateResult> out;
    if (files.empty()) return out;
    const std::string home = session_dir + "/home";
    const std::string orig = session_dir + "/state/orig";
    const std::string held = session_dir + "/state/held";
    const unique_fd hfd = open_dir(home);
    const unique_fd ofd = open_dir(orig);
    unique_fd keep_fd;
    // The agent's version goes to S/state/held/REL, for the user to review and apply.
    auto keep = [&](StateResult& r, const std::optional<FileData>& after, const StateFile& f) {
        if (!after) return;
        if (!keep_fd) {
            sys::make_dirs(held);
            keep_fd = open_dir(held);
        }
        const std::string at = held + "/" + f.rel;
        create_beneath(keep_fd.get(), f.rel, after->bytes, 0600, at);
        r.kept = at;
    };
    for (const auto& f : files) {
        StateResult r;
        r.path = f.path;
        std::optional<FileData> after;
        try {
            after = read_beneath(hfd.get(), f.rel, "the sandbox's " + f.path);
        } catch (const SysError& e) {
            r.outcome = StateOutcome::held;
            r.reason = std::string("the sandbox left something unreadable there: ") + e.what();
            out.push_back(std::move(r));
            continue;
        }
        try {
            const auto before = read_beneath(ofd.get(), f.rel, orig + "/" + f.rel);
            const auto bytes = [](const std::optional<FileData>& d) {
                return d ? std::optional<std::string>(d->bytes) : std::nullopt;
            };
            if (bytes(before) == bytes(after)) {
                out.push_back(std::move(r));
                continue;
            }
            const StateVerdict v =
                review_state_change(bytes(before), bytes(after), f.review_whole, keys);
            if (v.hold) {
                r.outcome = StateOutcome::held;
                r.reason = v.reason;
                r.keys = v.keys;
                keep(r, after, f);
            } else if (write_host(f.path, after->bytes, before ? before->mode : 0600,
                                  bytes(before))) {
                // The host's mode when it existed: the sandbox's chmod is not carried over
                // (a state file made world-writable would let others plant code in it).
                r.outcome = StateOutcome::saved;
            } else {
                r.outcome = StateOutcome::host_changed;
                r.reason = "the host file changed during the run; not overwritten";
                keep(r, after, f);
            }
        } catch (const std::exception& e) {
            r.outcome = StateOutcome::failed;
            r.reason = e.what();
            try {
                if (r.kept.empty()) keep(r, after, f);
            } catch (const std::exception&) {
            }
        }
        out.push_back(std::move(r));
    }
    // What else the command wrote in its home is thrown away, as with the empty tmpfs.
    sys::remove_contents(home);
    ::rmdir(home.c_str());
    return out;
}

}  // namespace agentbox::stage
