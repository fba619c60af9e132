#include "stage/gitrefs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "sys/fd.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace agentbox::stage {

namespace {

using sys::unique_fd;

constexpr std::size_t kMaxOutput = std::size_t{8} << 20;
constexpr auto kTimeout = std::chrono::seconds(10);

bool is_id(const std::string& s) {
    if (s.size() != 40 && s.size() != 64) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// A git directory of its own, empty, removed with it: git needs one to run in, and this one
// holds no config, hooks or refs of anyone's.
class TempGitDir {
public:
    TempGitDir() {
        char tmpl[] = "/tmp/agentbox-refs-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) return;
        path_ = tmpl;
        ::mkdir((path_ + "/objects").c_str(), 0700);
        ::mkdir((path_ + "/refs").c_str(), 0700);
        const int f = ::open((path_ + "/HEAD").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (f >= 0) {
            const char head[] = "ref: refs/heads/none\n";
            (void)!::write(f, head, sizeof head - 1);
            ::close(f);
        }
    }
    ~TempGitDir() {
        if (path_.empty()) return;
        ::unlink((path_ + "/HEAD").c_str());
        ::rmdir((path_ + "/objects").c_str());
        ::rmdir((path_ + "/refs").c_str());
        ::rmdir(path_.c_str());
    }
    TempGitDir(const TempGitDir&) = delete;
    TempGitDir& operator=(const TempGitDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

struct Ran {
    bool ok = false;
    std::string out;
    std::string error;
};

// `git ARGS` with `env` only, its output read up to kMaxOutput, stopped at kTimeout; `dir`,
// when given, is its descriptor 3 (named /proc/self/fd/3 in ARGS).
Ran run_git(const std::vector<std::string>& args, const std::vector<std::string>& env,
            int dir = -1) {
    Ran r;
    int fds[2];
    // pipe, not pipe2 (the macOS build has none), then close-on-exec: a child another
    // thread spawned in between would only hold the pipe open longer.
    if (::pipe(fds) != 0) {
        r.error = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    unique_fd rd(fds[0]), wr(fds[1]);
    ::fcntl(rd.get(), F_SETFD, FD_CLOEXEC);
    ::fcntl(wr.get(), F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    // A copy above 3, so that dup2 onto 3 always clears close-on-exec.
    unique_fd dir_copy(dir < 0 ? -1 : ::fcntl(dir, F_DUPFD_CLOEXEC, 10));
    if (dir >= 0 && !dir_copy) {
        posix_spawn_file_actions_destroy(&fa);
        r.error = std::string("fcntl: ") + std::strerror(errno);
        return r;
    }
    if (dir_copy) posix_spawn_file_actions_adddup2(&fa, dir_copy.get(), 3);
    std::vector<char*> argv{const_cast<char*>("git")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int err = ::posix_spawnp(&pid, "git", &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    wr.reset();
    if (err != 0) {
        r.error = std::string("git: ") + std::strerror(err);
        return r;
    }
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    bool cut = false;
    char buf[65536];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        struct pollfd p {rd.get(), POLLIN, 0};
        const int n = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            cut = true;
            break;
        }
        const ssize_t got = ::read(rd.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        r.out.append(buf, static_cast<std::size_t>(got));
        if (r.out.size() > kMaxOutput) {
            cut = true;
            break;
        }
    }
    if (cut) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (cut) r.error = "git took too long or printed too much";
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r.error = "git could not read the objects (missing or malformed)";
    else r.ok = true;
    return r;
}

// No configuration, the empty git directory `git_dir`, the object stores `alternates`.
std::vector<std::string> git_env(const std::string& git_dir, const std::string& alternates) {
    const char* path = std::getenv("PATH");
    return {
        std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"),
        "GIT_DIR=" + git_dir,
        "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + alternates,
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_CONFIG_GLOBAL=/dev/null",
        "GIT_NO_REPLACE_OBJECTS=1",
        "GIT_TERMINAL_PROMPT=0",
        "GIT_OPTIONAL_LOCKS=0",
        "HOME=/nonexistent",
        "LC_ALL=C",
    };
}

}  // namespace

std::string verify_pack(int dir, const std::string& pack_name, bool rev) {
    const TempGitDir tmp;
    if (tmp.path().empty()) return std::string("mkdtemp: ") + std::strerror(errno);
    // index-pack --verify reads every object of the pack, computes its id and compares the
    // index it would write (and the reverse index) with the ones beside the pack, byte for
    // byte: the pack's own files through the descriptor, never a path the sandbox shaped.
    std::vector<std::string> args{"index-pack", "--verify"};
    if (rev) args.emplace_back("--rev-index");
    args.push_back("/proc/self/fd/3/" + pack_name);
    const Ran r = run_git(args, git_env(tmp.path(), ""), dir);
    if (r.ok) return "";
    return r.error == "git could not read the objects (missing or malformed)"
               ? "git's index-pack --verify finds that its index does not list what the pack holds"
               : r.error;
}

RefMove read_ref_move(const std::vector<std::string>& objects, const std::string& old_id,
                      const std::string& new_id) {
    RefMove m;
    if (!is_id(new_id) || (!old_id.empty() && !is_id(old_id))) {
        m.error = "it does not name an object id";
        return m;
    }
    const TempGitDir dir;
    if (dir.path().empty()) {
        m.error = std::string("mkdtemp: ") + std::strerror(errno);
        return m;
    }
    std::string alternates;
    for (const auto& o : objects) {
        struct stat st {};
        if (::stat(o.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (o.find(':') != std::string::npos) continue;  // the list's separator
        alternates += (alternates.empty() ? "" : ":") + o;
    }
    const std::vector<std::string> env = git_env(dir.path(), alternates);
    const std::string empty_tree = new_id.size() == 64
        ? "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"
        : "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    std::vector<std::string> log{"log", "--no-decorate", "--no-show-signature", "-n", "20",
                                 "--format=%h %s", new_id};
    if (!old_id.empty()) log.insert(log.end(), {"--not", old_id});
    Ran commits = run_git(log, env);
    if (!commits.ok) {
        m.error = commits.error;
        return m;
    }
    Ran diff = run_git({"diff-tree", "-r", "-z", "--no-renames", "--name-status",
                        old_id.empty() ? empty_tree : old_id, new_id},
                       env);
    if (!diff.ok) {
        m.error = diff.error;
        return m;
    }
    for (auto& line : util::split(commits.out, '\n'))
        if (!line.empty()) m.commits.push_back(std::move(line));
    // -z --name-status: each change a letter and a path, each ended by a NUL.
    const auto fields = util::split(diff.out, '\0');
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].empty() || fields[i + 1].empty()) continue;
        m.status.push_back(fields[i].front());
        m.paths.push_back(fields[i + 1]);
    }
    m.readable = true;
    return m;
}

}  // namespace agentbox::stage
