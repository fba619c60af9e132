#include "sandbox/macos/denials.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys/random.hpp"

extern char** environ;

namespace agentbox::sandbox::macos {

std::string new_log_tag() { return "agentbox-" + sys::random_hex(16); }

std::vector<std::string> log_stream_argv(const std::string& log_program, const std::string& tag) {
    // The tag is hex: nothing in it needs quoting inside the predicate's string.
    return {log_program, "stream", "--style", "compact", "--level", "default", "--predicate",
            "process == \"kernel\" AND sender == \"Sandbox\" AND eventMessage ENDSWITH \"" + tag +
                "\""};
}

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t'))
        s.remove_suffix(1);
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    return s;
}

}  // namespace

std::optional<Event> parse_denial(std::string_view line, std::string_view tag) {
    line = trim(line);
    if (tag.empty() || !line.ends_with(tag)) return std::nullopt;
    line.remove_suffix(tag.size());
    // The message, wherever the style puts its prefix (time, process, sender) before it.
    const auto at = line.find("Sandbox: ");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view rest = line.substr(at + 9);
    // comm(pid): the name may hold spaces and parentheses, the pid is the last "(digits)"
    // before " deny(".
    const auto deny = rest.find(") deny(");
    if (deny == std::string_view::npos) return std::nullopt;
    const auto open = rest.rfind('(', deny);
    if (open == std::string_view::npos || !all_digits(rest.substr(open + 1, deny - open - 1)))
        return std::nullopt;
    const std::string_view comm = rest.substr(0, open);
    const std::string_view pid = rest.substr(open + 1, deny - open - 1);
    rest.remove_prefix(deny + 7);
    const auto close = rest.find(") ");
    if (close == std::string_view::npos || !all_digits(rest.substr(0, close))) return std::nullopt;
    rest = trim(rest.substr(close + 2));
    const auto sp = rest.find(' ');
    const std::string_view op = rest.substr(0, sp);
    const std::string_view target = sp == std::string_view::npos ? std::string_view()
                                                                 : trim(rest.substr(sp + 1));
    if (op.empty()) return std::nullopt;
    Event ev{"seatbelt.denied", {}};
    ev.fields.emplace_back("operation", std::string(op));
    if (!target.empty()) ev.fields.emplace_back("target", std::string(target));
    ev.fields.emplace_back("pid", std::string(pid));
    ev.fields.emplace_back("comm", std::string(comm));
    return ev;
}

DenialWatch::DenialWatch(const std::vector<std::string>& argv, std::string tag)
    : tag_(std::move(tag)), program_(argv.empty() ? std::string() : argv[0]) {
    int fds[2];
    if (argv.empty() || ::pipe(fds) != 0) {
        err_ = argv.empty() ? EINVAL : errno;
        return;
    }
    ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    // posix_spawn, not fork: the supervisor has threads (the proxy's).
    const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        err_ = rc;
        return;
    }
    pid_ = pid;
    out_ = fds[0];
    reader_ = std::thread([this] { read_lines(); });
}

void DenialWatch::read_lines() {
    std::string buf;
    char chunk[4096];
    for (;;) {
        const ssize_t n = ::read(out_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        {
            std::lock_guard lock(mu_);
            started_ = true;
        }
        ready_.notify_all();
        std::size_t start = 0;
        for (std::size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
            auto ev = parse_denial(std::string_view(buf).substr(start, nl - start), tag_);
            if (!ev) continue;
            std::lock_guard lock(mu_);
            if (events_.size() < kMaxEvents) events_.push_back(std::move(*ev));
            else ++dropped_;
        }
        buf.erase(0, start);
        // A line longer than any report is not one: it is dropped rather than kept growing.
        if (buf.size() > 64 * 1024) buf.clear();
    }
    {
        std::lock_guard lock(mu_);
        started_ = true;  // ended: nobody waits for it any more
    }
    ready_.notify_all();
}

bool DenialWatch::wait_started(std::chrono::milliseconds limit) {
    if (pid_ <= 0) return false;
    std::unique_lock lock(mu_);
    return ready_.wait_for(lock, limit, [this] { return started_; });
}

std::vector<Event> DenialWatch::stop(std::chrono::milliseconds grace) {
    if (pid_ > 0) {
        // The reports of the last denials may still be on their way to the log.
        std::this_thread::sleep_for(grace);
        ::kill(pid_, SIGTERM);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (out_ >= 0) {
        ::close(out_);
        out_ = -1;
    }
    std::vector<Event> out = std::move(events_);
    events_.clear();
    if (dropped_ > 0)
        out.push_back(Event{"warning", {{"message", std::to_string(dropped_) +
                                                        " more Seatbelt denials were not logged"}}});
    if (err_ != 0)
        out.push_back(Event{"warning",
                            {{"message", std::string("Seatbelt denials are not logged: cannot run ") +
                                             program_ + ": " + std::strerror(err_)}}});
    dropped_ = 0;
    err_ = 0;
    return out;
}

DenialWatch::~DenialWatch() {
    if (pid_ > 0 || reader_.joinable()) (void)stop(std::chrono::milliseconds(0));
}

}  // namespace agentbox::sandbox::macos
