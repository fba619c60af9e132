#include "cli/log.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "audit/chain.hpp"
#include "audit/verify.hpp"
#include "cli/context.hpp"
#include "cli/diff_cmd.hpp"
#include "cli/errors.hpp"
#include "cli/otlp_export.hpp"
#include "cli/term.hpp"
#include "net/post.hpp"
#include "stage/session.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "util/escape.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

using audit::Json;

// Envelope members that text output leaves out: they are for machines (--json, --verify).
bool envelope(const std::string& k) {
    for (const char* e : {"v", "ts", "session", "seq", "event", "prev", "hash", "sig", "key"})
        if (k == e) return true;
    return false;
}

bool plain(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
                        c == '/' || c == ':' || c == '@' || c == '+' || c == ',';
        if (!ok) return false;
    }
    return true;
}

// Every string that reaches the terminal passes through here or through an ASCII-only JSON
// dump: log values can come from inside the sandbox (process names, paths).
std::string text_of(const Json& v, std::size_t list_limit = 0) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        return plain(s) ? s : util::quote(s);
    }
    const auto has_name = [](const Json& e) { return e.is_object() && e.contains("name"); };
    if (v.is_array() && list_limit != 0 && v.size() > list_limit &&
        (has_name(v[0]) || !v[0].is_structured())) {
        // The first few, then the count; `log --full` prints them all. (Other lists of objects
        // are a count anyway.)
        std::vector<std::string> parts;
        for (std::size_t i = 0; i < 3; ++i)
            parts.push_back(has_name(v[i]) ? text_of(v[i]["name"]) : text_of(v[i]));
        return "[" + util::join(parts, " ") + " ... (" + std::to_string(v.size()) +
               " in all; --full lists them)]";
    }
    if (v.is_array()) {
        // A list of objects with names reads as the names; other lists of objects as a count.
        bool named = !v.empty(), scalars = true;
        for (const auto& e : v) {
            named = named && e.is_object() && e.contains("name");
            scalars = scalars && !e.is_structured();
        }
        std::vector<std::string> parts;
        if (named)
            for (const auto& e : v) parts.push_back(text_of(e["name"]));
        else if (scalars)
            for (const auto& e : v) parts.push_back(text_of(e));
        else
            return "(" + std::to_string(v.size()) + ")";
        return "[" + util::join(parts, " ") + "]";
    }
    return v.dump(-1, ' ', true, Json::error_handler_t::replace);
}

Style style_of(const std::string& event) {
    if (event == "session.start" || event == "session.end") return Style::bold;
    if (event == "syscall.denied" || event == "limit") return Style::red;
    if (event == "warning" || event == "log.resume" || event == "log.summary")
        return Style::yellow;
    if (event == "exec") return Style::green;
    return Style::plain;
}

struct Target {
    std::string path;
    std::string session;  // "" for a file named directly
    // The signed head the session's authenticated metadata recorded, if any.
    std::optional<audit::Head> head;
};

Target find_log(const LogOptions& o) {
    if (o.session.find('/') != std::string::npos) return {o.session, "", std::nullopt};
    auto env = environment();
    const std::string home = home_dir(env);
    const std::string cwd = current_dir();
    const std::string project = resolve_project(o.project, cwd, home, /*refuse_broad=*/false);
    stage::Session s;
    try {
        s = stage::Session::open(o.session, project);
    } catch (const sys::SysError&) {
        throw;
    } catch (const std::exception& e) {
        throw Failure(std::string("log: ") + e.what(), exit_refused);
    }
    Target t{s.log_path(), s.meta().id, std::nullopt};
    if (s.meta().log_seq >= 0)
        t.head = audit::Head{static_cast<std::uint64_t>(s.meta().log_seq), s.meta().log_hash};
    return t;
}

int verify_log(const Target& t) {
    const std::string text = sys::read_file(t.path);
    // The user's own key, if there is one: a log re-signed with another key must not pass.
    std::string mine;
    const std::string key_path = stage::config_dir() + "/log-key";
    if (::access(key_path.c_str(), F_OK) == 0) mine = audit::SigningKey::load(key_path).public_hex();
    const audit::Verdict v = audit::verify(text, mine, t.head);
    const std::string name = t.session.empty() ? util::quote(t.path) : "session " + t.session;
    // What a signature still covers, whatever went wrong after it.
    const std::string vouched =
        v.vouched_seq < 0 ? std::string("no event is vouched for by a signature")
                          : "the last event vouched for by a signature is #" +
                                std::to_string(v.vouched_seq) + " " +
                                util::quote(v.vouched_event);
    if (v.bad_line != 0) {
        std::cout << name << ": line " << v.bad_line << ": " << v.reason << "\n";
        if (v.lines > 0) std::cout << "lines 1-" << v.lines << " verify; " << vouched << "\n";
        return exit_refused;
    }
    if (v.truncated) {
        std::cout << name << ": " << v.reason << " (" << v.lines
                  << (v.lines == 1 ? " line" : " lines") << " verified); " << vouched << "\n";
        return exit_refused;
    }
    if (v.cut_short) {
        std::cout << name << ": cut short: " << v.reason << " (" << v.lines
                  << (v.lines == 1 ? " line" : " lines") << " verified); " << vouched << "\n";
        return exit_refused;
    }
    std::cout << name << ": ok, " << v.lines << " events, signed by key "
              << v.key.substr(0, 16) << "…"
              << (mine.empty() ? " (no key of yours to compare with)" : " (yours)")
              << (t.head ? ", complete to the head the session recorded (#" +
                               std::to_string(t.head->seq) + ")"
                         : std::string(", not checked for truncation (no session record)"))
              << "\n";
    return 0;
}

// Prints the whole lines of `data` (from `pos`), returns where the unprinted rest starts.
// `ended` is set when a session.end was printed.
std::size_t print_lines(const std::string& data, std::size_t pos, bool json, bool colour,
                        bool& ended, std::size_t list_limit, std::string& out) {
    static const bool terminal = ::isatty(1) == 1;
    for (;;) {
        const std::size_t nl = data.find('\n', pos);
        if (nl == std::string::npos) return pos;
        const std::string line = data.substr(pos, nl - pos);
        pos = nl + 1;
        if (json)
            // On a terminal the JSON line too may not drive it: C1 and bidi characters as
            // \uNNNN, which is still the same JSON.
            out += (terminal ? util::escape_content_for_terminal(line) : line) + '\n';
        else
            out += format_event_line(line, colour, list_limit) + '\n';
        ended = line.find("\"event\":\"session.end\"") != std::string::npos;
    }
}

// The supervisor's pid from session.start, to notice a run that died without session.end.
long long writer_pid(const std::string& data) {
    const std::size_t nl = data.find('\n');
    if (nl == std::string::npos) return 0;
    try {
        const Json j = Json::parse(data.substr(0, nl));
        return j.value("pid", 0LL);
    } catch (const Json::exception&) {
        return 0;
    }
}

int follow_log(const Target& t, bool json, bool colour, std::size_t list_limit) {
    std::string data;
    std::size_t printed = 0;
    bool ended = false;
    int idle = 0;
    for (;;) {
        // The file only grows (O_APPEND, whole lines), so re-reading the tail is enough.
        sys::unique_fd fd(::open(t.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
        if (!fd) throw sys::SysError("open", t.path, errno);
        if (::lseek(fd.get(), static_cast<off_t>(data.size()), SEEK_SET) < 0)
            throw sys::SysError("lseek", t.path, errno);
        char buf[65536];
        ssize_t n;
        bool grew = false;
        while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
            data.append(buf, static_cast<std::size_t>(n));
            grew = true;
        }
        std::string out;
        printed = print_lines(data, printed, json, colour, ended, list_limit, out);
        std::cout << out << std::flush;
        if (grew) {
            idle = 0;
            continue;
        }
        if (ended) return 0;
        // A supervisor that is gone without a session.end was killed: nothing more will come.
        const long long pid = writer_pid(data);
        if (pid > 0 && ++idle >= 5 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
            if (!json) note("the run ended without session.end (cut short)");
            return exit_refused;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace

std::string format_event_line(const std::string& line, bool colour, std::size_t list_limit) {
    Json j;
    try {
        j = Json::parse(line);
    } catch (const Json::exception&) {
        return "(not a log line: " + util::quote(line.substr(0, 80)) + ")";
    }
    if (!j.is_object()) return "(not a log line)";
    const std::string ts = util::string_or(j, "ts");
    const std::string event = util::string_or(j, "event", "?");
    std::string out = ts.size() >= 23 ? ts.substr(11, 12) : text_of(j.value("ts", Json()));
    out += " #" + text_of(j.value("seq", Json())) + " ";
    std::string ev = plain(event) ? event : util::quote(event);
    if (colour) {
        const Style st = style_of(event);
        if (st != Style::plain) ev = paint(1, st, ev);
    }
    out += ev;
    if (event == "session.start" && ts.size() >= 10) out += " date=" + ts.substr(0, 10);
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (envelope(it.key())) continue;
        const std::string& k = it.key();
        // KEY_base64 holds the exact bytes of a KEY that is not UTF-8 (util/json_text.hpp):
        // shown in place of KEY, escaped, rather than as base64 beside it.
        if (k.ends_with("_base64") && j.contains(k.substr(0, k.size() - 7))) continue;
        std::string value = text_of(it.value(), list_limit);
        std::string raw;
        if (const auto b = j.find(k + "_base64");
            b != j.end() && b->is_string() && util::unbase64(b->get<std::string>(), raw))
            value = util::quote(raw);
        out += " " + (plain(k) ? k : util::quote(k)) + "=" + value;
    }
    return out;
}

// `--export otlp URL`: what the collector has not acknowledged of the session, now; the
// spool remembers the rest for the next command (cli/otlp_export.hpp).
static int export_log(const LogOptions& o, const Target& t) {
    if (o.export_to[0] != "otlp")
        throw UsageError("--export: unknown format " + util::quote(o.export_to[0]) + " (otlp)");
    if (t.session.empty())
        throw UsageError("--export: name a session, not a log file: what was sent is recorded "
                         "in the session");
    net::HttpUrl url;
    if (std::string why = net::parse_http_url(o.export_to[1], url); !why.empty())
        throw UsageError("--export otlp " + o.export_to[1] + ": " + why);
    const std::string dir = t.path.substr(0, t.path.rfind('/'));
    const auto deadline = std::chrono::steady_clock::now() + kOtlpBudget;
    const OtlpResult r = otlp_export(dir, o.export_to[1], deadline);
    if (r.pending > 0 || !r.error.empty()) {
        error("session " + t.session + ": " + std::to_string(r.sent) + " events sent, " +
              std::to_string(r.pending) + " not yet (" + r.error +
              "); the next run or log command sends them");
        return exit_refused;
    }
    note("session " + t.session + ": " + std::to_string(r.sent) + " events sent to " +
         o.export_to[1]);
    return 0;
}

int run_log(const LogOptions& o) {
    const Target t = find_log(o);
    if (!o.export_to.empty()) return export_log(o, t);
    // Logs a collector has not acknowledged yet go out first, within a bounded time.
    otlp_flush_pending(std::chrono::steady_clock::now() + kOtlpBudget, /*quiet=*/false);
    if (o.verify) return verify_log(t);
    const bool colour = !o.json && colour_enabled(1);
    const std::size_t list_limit = o.full || o.json ? 0 : kLogListLimit;
    if (o.follow) return follow_log(t, o.json, colour, list_limit);
    const std::string data = sys::read_file(t.path);
    bool ended = false;
    std::string out;
    const std::size_t rest = print_lines(data, 0, o.json, colour, ended, list_limit, out);
    // As git log: through the pager on a terminal (diff_cmd.hpp, Pager), unless --no-pager.
    page(out, o.no_pager);
    if (rest < data.size() && !o.json) note("the last line is unfinished");
    return 0;
}

}  // namespace agentbox::cli
