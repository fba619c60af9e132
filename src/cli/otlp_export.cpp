#include "cli/otlp_export.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// The complete lines of the log after seq `after`, parsed; a torn last line waits.
std::vector<Pending> events_after(const std::string& log_text, long long after) {
    std::vector<Pending> out;
    std::size_t at = 0;
    for (;;) {
        const std::size_t nl = log_text.find('\n', at);
        if (nl == std::string::npos) break;
        const std::string_view line(log_text.data() + at, nl - at);
        at = nl + 1;
        Json j = Json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_integer()) continue;
        if (j["seq"].get<long long>() <= after) continue;
        out.push_back(Pending{std::move(j), at});
    }
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
    if (!write_spool(session_dir, Spool{endpoint, -1}))
        warn("could not write " + session_dir + kSpool + ": this run's log will not be exported");
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
    if (!spool) spool = Spool{endpoint, -1};
    if (!endpoint.empty() && spool->endpoint != endpoint) {
        // Another collector: it has acknowledged nothing yet.
        spool = Spool{endpoint, -1};
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
    const std::vector<Pending> events = events_after(log_text, spool->acked);
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
    std::error_code ec;
    std::vector<std::string> dirs;
    for (std::filesystem::directory_iterator it(stage::state_dir() + "/sessions", ec), end;
         !ec && it != end; it.increment(ec)) {
        const std::string dir = it->path().string();
        if (dir == skip) continue;
        const std::optional<Spool> spool = read_spool(dir);
        if (!spool) continue;
        struct stat st {};
        if (::stat((dir + "/log.jsonl").c_str(), &st) != 0) continue;
        if (static_cast<std::uint64_t>(st.st_size) > spool->offset) dirs.push_back(dir);
    }
    std::sort(dirs.begin(), dirs.end());  // ids sort by creation time: oldest first
    std::size_t stuck = 0;
    std::string why;
    for (const std::string& dir : dirs) {
        if (Clock::now() >= deadline) {
            ++stuck;
            continue;
        }
        const OtlpResult r = otlp_export(dir, "", deadline);
        if (r.pending > 0) {
            ++stuck;
            if (why.empty()) why = r.error;
        }
    }
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
