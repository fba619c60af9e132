#include "approve/approver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "approve/approver_os.hpp"
#include "sys/fd.hpp"

extern char** environ;

namespace agentbox::approve {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxAnswer = 64 * 1024;

long long ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// write(2) to a pipe whose reader may be gone: EPIPE, without the SIGPIPE that would end
// agentbox. The signal is blocked for the call and a pending one taken back, the usual way for
// a pipe (send's MSG_NOSIGNAL is for sockets only).
ssize_t write_nosigpipe(int fd, const char* data, std::size_t len) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    const ssize_t w = ::write(fd, data, len);
    const int err = errno;
    if (w < 0 && err == EPIPE) {
        struct timespec zero {};
        while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return w;
}

Answer denial(std::string how, std::string reason) {
    Answer a;
    a.verdict = Verdict::deny;
    a.by = "approver";
    a.how = std::move(how);
    a.reason = std::move(reason);
    return a;
}

}  // namespace

#ifndef __linux__
// Where the system has no pipe2 and no pidfd (macOS): approver_linux.cpp has the Linux forms.
namespace detail {

// What this loses: a child another thread spawns between the pipe and the fcntl inherits the
// ends, and an inherited write end of the answer pipe keeps it open past the approver's exit
// (its answer is then read at the timeout, a denial).
int cloexec_pipe(int fds[2]) {
    if (::pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; ++i) {
        if (::fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            const int err = errno;
            ::close(fds[0]);
            ::close(fds[1]);
            errno = err;
            return -1;
        }
    }
    return 0;
}

// No process descriptor: ask_command polls waitpid instead (a kqueue EVFILT_PROC would serve).
int exit_fd(pid_t) { return -1; }

}  // namespace detail
#endif

const char* to_string(Verdict v) { return v == Verdict::allow ? "allow" : "deny"; }
const char* to_string(Scope s) { return s == Scope::session ? "session" : "once"; }

nlohmann::ordered_json Request::to_json() const {
    nlohmann::ordered_json j;
    j["v"] = 1;
    j["op"] = op;
    j["target"] = target;
    j["rule"] = rule;
    j["source"] = source;
    j["session"] = session;
    return j;
}

nlohmann::ordered_json Answer::to_json() const {
    nlohmann::ordered_json j;
    j["verdict"] = to_string(verdict);
    j["scope"] = to_string(scope);
    j["by"] = by;
    j["how"] = how;
    j["reason"] = reason;
    j["ms"] = ms;
    return j;
}

bool parse_answer(const std::string& text, Answer& out, std::string& why) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        why = "the answer is not JSON";
        return false;
    }
    if (!j.is_object()) {
        why = "the answer is not a JSON object";
        return false;
    }
    for (const auto& [k, v] : j.items()) {
        // An unknown member may be a typo of one that matters ("scpoe"): refuse rather than
        // guess what the approver meant.
        if (k != "verdict" && k != "scope" && k != "reason") {
            why = "unknown member \"" + k + "\" in the answer";
            return false;
        }
    }
    if (!j.contains("verdict") || !j["verdict"].is_string() ||
        (j["verdict"] != "allow" && j["verdict"] != "deny")) {
        why = "\"verdict\" must be \"allow\" or \"deny\"";
        return false;
    }
    if (j.contains("scope") && (!j["scope"].is_string() ||
                                (j["scope"] != "once" && j["scope"] != "session"))) {
        why = "\"scope\" must be \"once\" or \"session\"";
        return false;
    }
    if (j.contains("reason") && !j["reason"].is_string()) {
        why = "\"reason\" must be a string";
        return false;
    }
    out.verdict = j["verdict"] == "allow" ? Verdict::allow : Verdict::deny;
    out.scope = j.value("scope", "once") == "session" ? Scope::session : Scope::once;
    out.reason = j.value("reason", "");
    return true;
}

Answer ask_command(const std::string& command, const Request& req,
                   std::chrono::milliseconds timeout, int cancel_fd) {
    const auto t0 = Clock::now();
    const auto deadline = t0 + timeout;
    int in[2], out[2];
    if (detail::cloexec_pipe(in) != 0) return denial("not started", std::strerror(errno));
    sys::unique_fd in_r(in[0]), in_w(in[1]);
    if (detail::cloexec_pipe(out) != 0) return denial("not started", std::strerror(errno));
    sys::unique_fd out_r(out[0]), out_w(out[1]);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    ::posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    // Its own process group, so that the timeout kills what it started too (sh, jq, ...);
    // default signal handling and mask, whatever agentbox's are.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv),
                                 environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) return denial("not started", std::strerror(rc));
    in_r.reset();
    out_w.reset();
    sys::unique_fd pidfd(detail::exit_fd(pid));

    // Whatever happens below, the approver and its children do not outlive the question.
    auto finish = [&](Answer a) {
        ::kill(-pid, SIGKILL);
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        a.ms = ms_since(t0);
        return a;
    };

    const std::string request = req.to_json().dump() + "\n";
    std::size_t sent = 0;
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
    std::string answer;
    bool out_open = true;
    int status = 0;
    bool exited = false;
    while (out_open || !exited) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                Clock::now());
        if (left.count() <= 0)
            return finish(denial("timeout", "no answer within " +
                                                std::to_string(timeout.count()) + "ms"));
        struct pollfd p[4] = {{-1, 0, 0}, {-1, 0, 0}, {-1, 0, 0}, {cancel_fd, POLLIN, 0}};
        if (out_open) p[0] = {out_r.get(), POLLIN, 0};
        if (in_w) p[1] = {in_w.get(), POLLOUT, 0};
        if (!out_open && pidfd) p[2] = {pidfd.get(), POLLIN, 0};
        if (!out_open && !pidfd) {
            // No pidfd (an old kernel, or macOS): poll the exit status.
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                exited = true;
                break;
            }
        }
        const int n = ::poll(p, 4, static_cast<int>(std::min<long long>(left.count(),
                                                                          pidfd ? left.count() : 20)));
        if (n < 0 && errno != EINTR) return finish(denial("not started", std::strerror(errno)));
        if (p[3].revents != 0)
            return finish(denial("cancelled", "the run ended before the approver answered"));
        if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
            const ssize_t w = write_nosigpipe(in_w.get(), request.data() + sent,
                                              request.size() - sent);
            if (w > 0) sent += static_cast<std::size_t>(w);
            // An approver that does not read its request (or closed stdin) may still answer.
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == request.size())
                in_w.reset();
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[4096];
            const ssize_t r = ::read(out_r.get(), buf, sizeof buf);
            if (r > 0) {
                answer.append(buf, static_cast<std::size_t>(r));
                if (answer.size() > kMaxAnswer)
                    return finish(denial("malformed", "the answer is longer than 64 KiB"));
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                out_open = false;
            }
        }
        if (p[2].revents & POLLIN) {
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) exited = true;
        }
    }
    // The shell is reaped; anything it left in its group goes too.
    ::kill(-pid, SIGKILL);
    Answer a;
    a.by = "approver";
    a.ms = ms_since(t0);
    if (WIFSIGNALED(status)) {
        a = denial("crashed", std::string("killed by signal ") + std::to_string(WTERMSIG(status)));
        a.ms = ms_since(t0);
        return a;
    }
    if (WEXITSTATUS(status) != 0) {
        a = denial("exit " + std::to_string(WEXITSTATUS(status)),
                   "the approver exited with status " + std::to_string(WEXITSTATUS(status)));
        a.ms = ms_since(t0);
        return a;
    }
    std::string why;
    if (!parse_answer(answer, a, why)) {
        a = denial("malformed", why);
        a.ms = ms_since(t0);
        return a;
    }
    a.how = "answered";
    return a;
}

}  // namespace agentbox::approve
