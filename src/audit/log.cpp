#include "audit/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include "sys/io.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"
#include "util/utc.hpp"

namespace agentbox::audit {

namespace {

[[noreturn]] void fail(const std::string& op, const std::string& path, int err) {
    throw std::system_error(err, std::generic_category(), op + " " + util::quote(path));
}

std::string errno_text(const std::string& what, int err) {
    return what + ": " + std::strerror(err);
}

// The last whole line of the file open on `fd` (without its newline), and the length of an
// unfinished fragment after it. Reads backwards in blocks: a log of a long run is large, its
// last line is not.
struct Tail {
    std::string line;
    std::uint64_t whole = 0;     // bytes up to and including the last newline
    std::uint64_t fragment = 0;  // bytes after it
};

Tail read_tail(int fd, std::uint64_t size, const std::string& path) {
    std::string buf;
    std::uint64_t off = size;
    std::size_t last = std::string::npos;
    while (off > 0) {
        const std::uint64_t n = off < 65536 ? off : 65536;
        off -= n;
        std::string chunk(n, '\0');
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::pread(fd, chunk.data() + got, n - got,
                                      static_cast<off_t>(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) fail("read", path, errno);
            if (r == 0) fail("read", path, EIO);  // the file shrank under us
            got += static_cast<std::size_t>(r);
        }
        buf.insert(0, chunk);
        last = buf.rfind('\n');
        if (last == std::string::npos) continue;
        if (last > 0 && buf.rfind('\n', last - 1) != std::string::npos) break;
    }
    Tail t;
    if (last == std::string::npos) {  // not one whole line
        t.fragment = size;
        return t;
    }
    const std::size_t start = last > 0 ? buf.rfind('\n', last - 1) : std::string::npos;
    t.line = buf.substr(start == std::string::npos ? 0 : start + 1,
                        last - (start == std::string::npos ? 0 : start + 1));
    t.whole = off + last + 1;
    t.fragment = size - t.whole;
    return t;
}

}  // namespace

std::string timestamp_now() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const util::UtcTime u = util::utc_fields(ts.tv_sec);
    char buf[96];  // room for any int the compiler cannot rule out
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", u.year, u.month, u.day,
                  u.hour, u.minute, u.second, static_cast<int>(ts.tv_nsec / 1000000) % 1000);
    return buf;
}

std::unique_ptr<Log> Log::create(const std::string& path, std::string session, SigningKey key) {
    std::unique_ptr<Log> log(new Log(std::move(key)));
    log->path_ = path;
    log->session_ = std::move(session);
    log->prev_ = zero_hash_hex();
    log->fd_ = ::open(path.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log->fd_ < 0) fail("open", path, errno);
    return log;
}

std::unique_ptr<Log> Log::open_append(const std::string& path, SigningKey key) {
    std::unique_ptr<Log> log(new Log(std::move(key)));
    log->path_ = path;
    log->fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (log->fd_ < 0) fail("open", path, errno);
    struct stat st {};
    if (::fstat(log->fd_, &st) != 0) fail("fstat", path, errno);
    if (!S_ISREG(st.st_mode)) fail("open", path, EINVAL);
    const Tail tail = read_tail(log->fd_, static_cast<std::uint64_t>(st.st_size), path);
    if (tail.line.empty())
        throw std::runtime_error("cannot resume the log " + util::quote(path) +
                                 ": it holds no whole line");
    Json last;
    try {
        last = Json::parse(tail.line);
        log->session_ = last.at("session").get<std::string>();
        log->seq_ = last.at("seq").get<std::uint64_t>() + 1;
        log->prev_ = last.at("hash").get<std::string>();
    } catch (const Json::exception& e) {
        throw std::runtime_error("cannot resume the log " + util::quote(path) +
                                 ": its last line is not a log line (" + e.what() + ")");
    }
    if (!is_hex(log->prev_, kHashBytes))
        throw std::runtime_error("cannot resume the log " + util::quote(path) +
                                 ": its last line has no valid hash");
    // An unfinished line can never verify, and the next line appended after it would be
    // glued to it: it is cut off, and the cut is recorded below.
    if (tail.fragment > 0 && ::ftruncate(log->fd_, static_cast<off_t>(tail.whole)) != 0)
        fail("ftruncate", path, errno);
    log->size_ = tail.whole;

    const bool ended = util::string_or(last, "event") == "session.end";
    // After a signed line, every line is signed: the resume itself included.
    log->signing_ = last.contains("sig");
    Event resume("log.resume");
    resume.set("after", ended ? "session.end" : "cut short");
    resume.set("fragment_bytes", tail.fragment);
    resume.set("pid", static_cast<long long>(::getpid()));
    log->append(resume);
    return log;
}

Log::~Log() {
    if (fd_ >= 0) ::close(fd_);
    for (const auto& c : copies_)
        if (c.owned && c.fd >= 0) ::close(c.fd);
}

void Log::add_copy_fd(int fd, std::string name) {
    std::lock_guard lock(mu_);
    copies_.push_back(Copy{fd, false, std::move(name)});
}

void Log::add_copy_file(const std::string& path) {
    // Truncated: the copy is this session's log, verifiable on its own from session.start.
    const int fd = ::open(path.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) fail("open", path, errno);
    std::lock_guard lock(mu_);
    copies_.push_back(Copy{fd, true, path});
}

bool Log::write_line(const std::string& line) {
    ssize_t n;
    do n = ::write(fd_, line.data(), line.size());
    while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(line.size())) {
        size_ += line.size();
        return true;
    }
    int err = n < 0 ? errno : ENOSPC;
    // Half a line would glue itself to the next one and break the chain for good.
    if (n > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) err = errno;
    if (!reported_ && report_) report_(errno_text("decision log " + util::quote(path_), err));
    reported_ = true;
    return false;
}

bool Log::append(const Event& ev) {
    for (const auto& [k, v] : ev.fields().items())
        if (is_reserved(k))
            throw std::invalid_argument("log event " + ev.type() + " sets reserved member " + k);
    std::lock_guard lock(mu_);
    Json j;
    j["v"] = 1;
    j["ts"] = timestamp_now();
    j["session"] = session_;
    j["seq"] = seq_;
    j["event"] = ev.type();
    for (const auto& [k, v] : ev.fields().items()) j[k] = v;
    const bool end = ev.type() == "session.end";
    if (ev.type() == "session.start" || end) j["key"] = key_.public_hex();
    if (end) j["dropped"] = dropped_;
    j["prev"] = prev_;
    const bool sign = end || signing_;
    if (sign) j["sig"] = key_.sign_hex(signed_message(canonical(j)));
    std::string line = canonical(j);
    const std::string hash = hash_hex(line);
    line.pop_back();  // the closing brace: "hash" is the last member
    line += ",\"hash\":\"" + hash + "\"}\n";

    if (!write_line(line)) {
        ++dropped_;
        return false;
    }
    ++seq_;
    prev_ = hash;
    if (sign) {
        signing_ = true;
        if (signed_report_) {
            try {
                signed_report_(seq_ - 1, hash);
            } catch (const std::exception& e) {
                if (report_) report_(std::string("recording the head of the decision log: ") +
                                     e.what());
            }
        }
    }
    for (auto& c : copies_) {
        if (c.fd < 0) continue;
        if (const int err = sys::write_full(c.fd, line); err != 0) {
            if (report_) report_(errno_text("copy of the decision log to " + c.name, err) +
                                 "; no more events are copied there");
            if (c.owned) ::close(c.fd);
            c.fd = -1;
        }
    }
    return true;
}

}  // namespace agentbox::audit
