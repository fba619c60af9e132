#include "cli/otlp_export.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "audit/otlp.hpp"
#include "cli/config.hpp"
#include "cli/errors.hpp"
#include "cli/term.hpp"
#include "net/post.hpp"
#include "stage/session.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace agentbox::cli {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

constexpr const char* kSpool = "/otlp.json";
constexpr std::size_t kBatch = 256;

struct Spool {
    std::string endpoint;
    long long acked = -1;      // seq of the last acknowledged event
    std::uint64_t offset = 0;  // where its line ends in log.jsonl: a log no longer than
                               // this has nothing pending, which is found without reading it
};

std::optional<Spool> read_spool(const std::string& dir) {
    std::string text;
    if (!sys::read_own_file(dir + kSpool, text, 64 << 10)) return std::nullopt;
    const Json j = Json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("endpoint") || !j["endpoint"].is_string() ||
        !j.contains("acked_seq") || !j["acked_seq"].is_number_integer() ||
        !j.contains("offset") || !j["offset"].is_number_unsigned())
        return std::nullopt;
    return Spool{j["endpoint"].get<std::string>(), j["acked_seq"].get<long long>(),
                 j["offset"].get<std::uint64_t>()};
}

bool write_spool(const std::string& dir, const Spool& s) {
    Json j = Json::object();
    j["endpoint"] = s.endpoint;
    j["acked_seq"] = s.acked;
    j["offset"] = s.offset;
    return sys::replace_own_file(dir + kSpool, j.dump() + "\n");
}

// The sessions that may have events a collector has not acknowledged, one empty file per
// session id in <state>/otlp-pending, so that the end of every run looks at those and not at
// every session kept (a run used to read each session's otlp.json: ~700 opens with 700
// sessions, whether or not anything was configured). A marker is made before a log with a
// spool grows, and again after (otlp_mark); the flush removes it before it reads a log and
// makes it again when anything is left or the log has not ended. Whatever the interleaving,
// a line appended after the flush's read leaves a marker behind.
// A flush that leaves no marker removes the directory itself, so that the end of a run with
// nothing queued -- every run where no collector is configured -- finds that out with one
// failed stat, not a listing (note 92). A marker is made in a directory that may be removed
// meanwhile, so its creation is retried after mkdir: the rmdir succeeds only while the
// directory is empty, and so never takes a marker with it.
std::string pending_dir() { return stage::state_dir() + "/otlp-pending"; }
// Made once the sessions spooled by an agentbox from before the markers have been marked;
// outside pending_dir(), which would otherwise never be empty. (Such agentboxes kept it as
// otlp-pending/.scanned, which the flush removes.)
std::string scanned_path() { return stage::state_dir() + "/otlp-scanned"; }

std::string session_id(const std::string& session_dir) {
    return session_dir.substr(session_dir.rfind('/') + 1);
}

void mark_pending(const std::string& session_dir) {
    const std::string dir = pending_dir();
    const std::string marker = dir + "/" + session_id(session_dir);
    for (int tries = 0; tries < 16; ++tries) {
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
        sys::unique_fd fd(::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                                 0600));
        if (fd || errno != ENOENT) return;  // ENOENT: a flush removed the directory meanwhile
    }
}

bool has_spool(const std::string& session_dir) {
    struct stat st {};
    return ::lstat((session_dir + kSpool).c_str(), &st) == 0;
}

// Sessions spooled by an agentbox from before the markers: found once by the full scan, which
// marks them; the scan's marker is made only after, so a scan cut short is made again.
void mark_unindexed() {
    const std::string done = scanned_path();
    struct stat st {};
    if (::stat(done.c_str(), &st) == 0) return;
    // Scanned already by an agentbox that kept the mark in the pending directory.
    const bool scanned = ::stat((pending_dir() + "/.scanned").c_str(), &st) == 0;
    std::error_code ec;
    if (!scanned)
        for (std::filesystem::directory_iterator it(stage::state_dir() + "/sessions", ec), end;
             !ec && it != end; it.increment(ec))
            if (has_spool(it->path().string())) mark_pending(it->path().string());
    sys::unique_fd fd(::open(done.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
}

std::string logs_url(const std::string& endpoint, net::HttpUrl& url) {
    if (std::string why = net::parse_http_url(endpoint, url); !why.empty()) return why;
    // A base URL gets the standard logs path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
    if (!url.path.ends_with("/v1/logs")) {
        if (url.path.ends_with("/")) url.path.pop_back();
        url.path += "/v1/logs";
    }
    return {};
}

audit::otlp::Resource resource_for(const std::string& session_dir) {
    audit::otlp::Resource r;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) r.host = host;
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
        r.user = found->pw_name;
    else
        r.user = std::to_string(::getuid());
    r.version = AGENTBOX_VERSION;
    r.session = session_dir.substr(session_dir.rfind('/') + 1);
    return r;
}

struct Pending {
    Json event;
    std::uint64_t end;  // offset just past its line
};

// The complete lines of the log after seq `after`, parsed; a torn last line waits. `ended`:
// the log's last line is a whole session.end (more comes only from a later command, which
// marks the session again).
std::vector<Pending> events_after(const std::string& log_text, long long after, bool& ended) {
    std::vector<Pending> out;
    std::size_t at = 0;
    ended = false;
    for (;;) {
        const std::size_t nl = log_text.find('\n', at);
        if (nl == std::string::npos) break;
        const std::string_view line(log_text.data() + at, nl - at);
        at = nl + 1;
        Json j = Json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_integer()) continue;
        ended = j.contains("event") && j["event"] == "session.end";
        if (j["seq"].get<long long>() <= after) continue;
        out.push_back(Pending{std::move(j), at});
    }
    if (at != log_text.size()) ended = false;
    return out;
}

}  // namespace

std::string otlp_endpoint(const std::optional<std::string>& flag, const profile::Context& ctx) {
    const std::string endpoint = flag ? *flag : load_config(ctx).otlp_endpoint;
    if (endpoint.empty()) return {};
    net::HttpUrl url;
    if (std::string why = logs_url(endpoint, url); !why.empty())
        throw UsageError(std::string(flag ? "--otlp" : "otlp_endpoint") + " " + endpoint + ": " + why);
    return endpoint;
}

void otlp_start(const std::string& session_dir, const std::string& endpoint) {
    if (endpoint.empty()) return;
    mark_pending(session_dir);
    if (!write_spool(session_dir, Spool{endpoint, -1}))
        warn("could not write " + session_dir + kSpool + ": this run's log will not be exported");
}

void otlp_mark(const std::string& session_dir) {
    if (has_spool(session_dir)) mark_pending(session_dir);
}

OtlpResult otlp_export(const std::string& session_dir, const std::string& endpoint,
                       Clock::time_point deadline) {
    OtlpResult r;
    // One sender per session at a time; another one busy with it is left to finish.
    sys::unique_fd lock(::open((session_dir + "/otlp.lock").c_str(),
                               O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        r.error = "another agentbox is exporting this session";
        return r;
    }
    std::optional<Spool> spool = read_spool(session_dir);
    if (!spool || (!endpoint.empty() && spool->endpoint != endpoint)) {
        // A new spool (`log --export`), or another collector, which has acknowledged nothing
        // yet: what this call does not send, the next flush does.
        spool = Spool{endpoint, -1};
        mark_pending(session_dir);
    }
    net::HttpUrl url;
    if (std::string why = logs_url(spool->endpoint, url); !why.empty()) {
        r.error = spool->endpoint + ": " + why;
        return r;
    }
    std::string log_text;
    if (sys::read_file(session_dir + "/log.jsonl", log_text, std::size_t{1} << 30) != 0) {
        r.error = "cannot read " + session_dir + "/log.jsonl";
        return r;
    }
    const std::vector<Pending> events = events_after(log_text, spool->acked, r.ended);
    const audit::otlp::Resource res = resource_for(session_dir);
    std::size_t i = 0;
    while (i < events.size()) {
        const std::size_t n = std::min(kBatch, events.size() - i);
        std::vector<Json> batch;
        for (std::size_t k = i; k < i + n; ++k) batch.push_back(events[k].event);
        if (Clock::now() >= deadline) {
            r.error = "out of time";
            break;
        }
        const net::PostResult p =
            net::http_post(url, "application/json", audit::otlp::logs_request(batch, res), deadline);
        if (p.status < 200 || p.status > 299) {
            r.error = p.status == 0 ? p.error : "the collector answered " + std::to_string(p.status);
            break;
        }
        spool->acked = batch.back()["seq"].get<long long>();
        spool->offset = events[i + n - 1].end;
        if (!write_spool(session_dir, *spool)) {
            r.error = "cannot write " + session_dir + kSpool;
            break;
        }
        r.sent += n;
        i += n;
    }
    r.pending = events.size() - i;
    return r;
}

void otlp_flush_pending(Clock::time_point deadline, bool quiet, const std::string& skip) {
    mark_unindexed();
    const std::string pending = pending_dir();
    const std::string sessions = stage::state_dir() + "/sessions/";
    // Nothing queued (the directory is removed with its last marker): one system call.
    struct stat pst {};
    if (::lstat(pending.c_str(), &pst) != 0) return;
    std::error_code ec;
    std::vector<std::string> dirs;
    for (std::filesystem::directory_iterator it(pending, ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string id = it->path().filename().string();
        if (id.front() == '.') {
            if (id == ".scanned") ::unlink(it->path().c_str());  // superseded: scanned_path()
            continue;
        }
        const std::string dir = sessions + id;
        if (dir == skip) continue;
        struct stat st {};
        if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !has_spool(dir)) {
            ::unlink(it->path().c_str());  // pruned, or never spooled: nothing to send
            continue;
        }
        dirs.push_back(dir);
    }
    std::sort(dirs.begin(), dirs.end());  // ids sort by creation time: oldest first
    std::size_t stuck = 0;
    std::string why;
    for (const std::string& dir : dirs) {
        if (Clock::now() >= deadline) {
            ++stuck;
            continue;
        }
        // Unmarked before its log is read, marked again below unless everything up to a
        // session.end was acknowledged (the comment at pending_dir).
        ::unlink((pending + "/" + session_id(dir)).c_str());
        const OtlpResult r = otlp_export(dir, "", deadline);
        if (r.pending > 0 || !r.ended || !r.error.empty()) mark_pending(dir);
        if (r.pending > 0) {
            ++stuck;
            if (why.empty()) why = r.error;
        }
    }
    // Fails (ENOTEMPTY) while a marker is left, or another agentbox has made one since.
    ::rmdir(pending.c_str());
    if (stuck > 0 && !quiet)
        warn("decision logs of " + std::to_string(stuck) + " session(s) are not exported yet (" +
             why + "); the next run or log command sends them");
}

void otlp_after_run(const std::string& session_dir, const std::string& endpoint, bool quiet) {
    const Clock::time_point deadline = Clock::now() + kOtlpBudget;
    // Its own session once: a collector that just refused it is not asked again at once.
    if (!endpoint.empty()) {
        const OtlpResult r = otlp_export(session_dir, endpoint, deadline);
        if (r.pending > 0 && !quiet)
            warn("this run's decision log is not exported yet (" + r.error +
                 "); the next run or log command sends it");
    }
    otlp_flush_pending(deadline, quiet, session_dir);
}

}  // namespace agentbox::cli
