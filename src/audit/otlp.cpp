#include "audit/otlp.hpp"

#include <chrono>

#include "util/json_text.hpp"

namespace agentbox::audit::otlp {

namespace {

Json any_value(const Json& v);

Json key_value(const std::string& key, Json value) {
    Json kv = Json::object();
    kv["key"] = key;
    kv["value"] = std::move(value);
    return kv;
}

Json string_value(std::string_view s) {
    Json a = Json::object();
    a["stringValue"] = std::string(s);
    return a;
}

// The protobuf JSON mapping: 64-bit integers are strings.
Json any_value(const Json& v) {
    Json a = Json::object();
    if (v.is_string()) {
        a["stringValue"] = v.get<std::string>();
    } else if (v.is_boolean()) {
        a["boolValue"] = v.get<bool>();
    } else if (v.is_number_unsigned()) {
        // intValue is an int64: what does not fit stays exact as text.
        const std::uint64_t u = v.get<std::uint64_t>();
        a[u > 0x7fffffffffffffffULL ? "stringValue" : "intValue"] = std::to_string(u);
    } else if (v.is_number_integer()) {
        a["intValue"] = std::to_string(v.get<std::int64_t>());
    } else if (v.is_number_float()) {
        a["doubleValue"] = v.get<double>();
    } else if (v.is_array()) {
        // An empty list is an arrayValue without "values": the mapping omits empty repeated
        // fields, so that is the one canonical form.
        a["arrayValue"] = Json::object();
        for (const Json& e : v) a["arrayValue"]["values"].push_back(any_value(e));
    } else if (v.is_object()) {
        a["kvlistValue"] = Json::object();
        for (const auto& [k, e] : v.items())
            a["kvlistValue"]["values"].push_back(key_value(k, any_value(e)));
    }
    // null: an AnyValue with no value set, which the mapping allows.
    return a;
}

int digits(std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

}  // namespace

std::optional<std::uint64_t> unix_nanos(std::string_view ts) {
    // YYYY-MM-DDTHH:MM:SS[.fff...]Z
    if (ts.size() < 20 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' || ts[13] != ':' ||
        ts[16] != ':' || ts.back() != 'Z')
        return std::nullopt;
    const int y = digits(ts, 0, 4), mo = digits(ts, 5, 2), d = digits(ts, 8, 2);
    const int h = digits(ts, 11, 2), mi = digits(ts, 14, 2), s = digits(ts, 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || s < 0 || s > 60)
        return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    std::uint64_t ns = 0;
    std::string_view rest = ts.substr(19, ts.size() - 20);
    if (!rest.empty()) {
        if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10) return std::nullopt;
        std::uint64_t scale = 100000000;
        for (char c : rest.substr(1)) {
            if (c < '0' || c > '9') return std::nullopt;
            ns += static_cast<std::uint64_t>(c - '0') * scale;
            scale /= 10;
        }
    }
    const auto secs = sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{s};
    return static_cast<std::uint64_t>(duration_cast<seconds>(secs).count()) * 1000000000ULL + ns;
}

int severity(const Json& event) {
    const std::string type = util::string_or(event, "event");
    const std::string verdict = util::string_or(event, "verdict");
    // log.summary: events were counted rather than written (repeats, or a full log).
    if (type == "syscall.denied" || type == "warning" || type == "log.summary" ||
        verdict == "deny")
        return 13;
    return 9;
}

std::string logs_request(const std::vector<Json>& events, const Resource& r) {
    Json attrs = Json::array();
    attrs.push_back(key_value("service.name", string_value("agentbox")));
    if (!r.version.empty()) attrs.push_back(key_value("service.version", string_value(r.version)));
    if (!r.host.empty()) attrs.push_back(key_value("host.name", string_value(r.host)));
    if (!r.user.empty()) {
        attrs.push_back(key_value("user.name", string_value(r.user)));
        attrs.push_back(key_value("enduser.id", string_value(r.user)));
    }
    if (!r.session.empty()) attrs.push_back(key_value("agentbox.session", string_value(r.session)));

    Json records = Json::array();
    for (const Json& ev : events) {
        Json rec = Json::object();
        const auto ns = ev.contains("ts") && ev["ts"].is_string()
                            ? unix_nanos(ev["ts"].get<std::string>())
                            : std::nullopt;
        if (ns) {
            rec["timeUnixNano"] = std::to_string(*ns);
            rec["observedTimeUnixNano"] = std::to_string(*ns);
        }
        const int sev = severity(ev);
        rec["severityNumber"] = sev;
        rec["severityText"] = sev >= 13 ? "WARN" : "INFO";
        rec["body"] = string_value(util::string_or(ev, "event"));
        Json a = Json::array();
        for (const auto& [k, v] : ev.items()) a.push_back(key_value("agentbox." + k, any_value(v)));
        rec["attributes"] = std::move(a);
        records.push_back(std::move(rec));
    }

    Json scope = Json::object();
    scope["name"] = "agentbox.decision_log";
    if (!r.version.empty()) scope["version"] = r.version;
    Json scope_logs = Json::object();
    scope_logs["scope"] = std::move(scope);
    scope_logs["logRecords"] = std::move(records);
    Json resource_logs = Json::object();
    resource_logs["resource"]["attributes"] = std::move(attrs);
    resource_logs["scopeLogs"] = Json::array({std::move(scope_logs)});
    Json req = Json::object();
    req["resourceLogs"] = Json::array({std::move(resource_logs)});
    return canonical(req);
}

}  // namespace agentbox::audit::otlp
