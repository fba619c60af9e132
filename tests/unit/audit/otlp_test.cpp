// The decision log as OTLP/JSON (audit/otlp.hpp): the request's shape, each member an
// attribute with its JSON type mapped to the AnyValue it belongs in (64-bit integers as
// strings), the chain fields kept, times in nanoseconds, WARN for what was refused.
#include <doctest/doctest.h>

#include <string>

#include "audit/otlp.hpp"

using namespace agentbox::audit;

namespace {

Json attr(const Json& record, const std::string& key) {
    for (const Json& a : record["attributes"])
        if (a["key"] == key) return a["value"];
    return Json();
}

Json resource_attr(const Json& req, const std::string& key) {
    for (const Json& a : req["resourceLogs"][0]["resource"]["attributes"])
        if (a["key"] == key) return a["value"];
    return Json();
}

}  // namespace

TEST_CASE("otlp: RFC 3339 UTC times become nanoseconds since the epoch") {
    CHECK(otlp::unix_nanos("1970-01-01T00:00:00Z") == 0);
    CHECK(otlp::unix_nanos("1970-01-01T00:00:01.5Z") == 1500000000ULL);
    CHECK(otlp::unix_nanos("2026-12-05T15:52:31.123Z") == 1796485951123000000ULL);
    CHECK_FALSE(otlp::unix_nanos("2026-12-05 15:52:31Z"));
    CHECK_FALSE(otlp::unix_nanos("2026-02-30T00:00:00Z"));
    CHECK_FALSE(otlp::unix_nanos("2026-12-05T15:52:31.12x3Z"));
    CHECK_FALSE(otlp::unix_nanos("2026-12-05T15:52:31+01:00"));
    CHECK_FALSE(otlp::unix_nanos(""));
}

TEST_CASE("otlp: one record per event, in order, with every member and the chain as attributes") {
    const Json a = Json::parse(R"({"v":1,"ts":"2026-12-05T15:52:31.123Z","session":"S","seq":0,
        "event":"session.start","argv":["sh","-c","x"],"kernel":{"userns":true,"landlock_abi":4},
        "key_id":null,"empty":[],"prev":"00","hash":"aa"})");
    const Json b = Json::parse(R"({"v":1,"ts":"2026-12-05T15:52:32Z","session":"S","seq":1,
        "event":"decision","op":"connect","verdict":"deny","prev":"aa","hash":"bb"})");
    const Json req = Json::parse(otlp::logs_request({a, b}, {"host1", "alice", "0.9", "S"}));

    CHECK(resource_attr(req, "service.name") == Json::parse(R"({"stringValue":"agentbox"})"));
    CHECK(resource_attr(req, "host.name")["stringValue"] == "host1");
    CHECK(resource_attr(req, "user.name")["stringValue"] == "alice");
    CHECK(resource_attr(req, "enduser.id")["stringValue"] == "alice");
    CHECK(resource_attr(req, "agentbox.session")["stringValue"] == "S");

    const Json& scope = req["resourceLogs"][0]["scopeLogs"][0];
    CHECK(scope["scope"]["name"] == "agentbox.decision_log");
    const Json& recs = scope["logRecords"];
    REQUIRE(recs.size() == 2);
    CHECK(recs[0]["timeUnixNano"] == "1796485951123000000");
    CHECK(recs[0]["body"]["stringValue"] == "session.start");
    CHECK(recs[0]["severityNumber"] == 9);
    CHECK(recs[0]["severityText"] == "INFO");
    CHECK(attr(recs[0], "agentbox.seq") == Json::parse(R"({"intValue":"0"})"));
    CHECK(attr(recs[0], "agentbox.prev")["stringValue"] == "00");
    CHECK(attr(recs[0], "agentbox.hash")["stringValue"] == "aa");
    CHECK(attr(recs[0], "agentbox.argv")["arrayValue"]["values"][2]["stringValue"] == "x");
    const Json kernel = attr(recs[0], "agentbox.kernel")["kvlistValue"]["values"];
    CHECK(kernel[0] == Json::parse(R"({"key":"userns","value":{"boolValue":true}})"));
    CHECK(kernel[1]["value"]["intValue"] == "4");
    CHECK(attr(recs[0], "agentbox.key_id") == Json::object());  // null: an empty AnyValue
    CHECK(attr(recs[0], "agentbox.empty") == Json::parse(R"({"arrayValue":{}})"));

    CHECK(recs[1]["body"]["stringValue"] == "decision");
    CHECK(recs[1]["severityNumber"] == 13);
    CHECK(recs[1]["severityText"] == "WARN");
    CHECK(attr(recs[1], "agentbox.seq")["intValue"] == "1");
    CHECK(attr(recs[1], "agentbox.prev")["stringValue"] == "aa");
}

TEST_CASE("otlp: denials and warnings are WARN, the rest INFO") {
    CHECK(otlp::severity(Json::parse(R"({"event":"syscall.denied"})")) == 13);
    CHECK(otlp::severity(Json::parse(R"({"event":"warning"})")) == 13);
    CHECK(otlp::severity(Json::parse(R"({"event":"approval","verdict":"deny"})")) == 13);
    CHECK(otlp::severity(Json::parse(R"({"event":"decision","verdict":"allow"})")) == 9);
    CHECK(otlp::severity(Json::parse(R"({"event":"exec"})")) == 9);
}

TEST_CASE("otlp: a line without a readable ts has no time, and nothing throws") {
    const Json odd = Json::parse(R"({"event":"x","ts":5,"seq":2,"big":18446744073709551615,"f":1.5})");
    const Json req = Json::parse(otlp::logs_request({odd}, {}));
    const Json& rec = req["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    CHECK_FALSE(rec.contains("timeUnixNano"));
    CHECK(attr(rec, "agentbox.big")["stringValue"] == "18446744073709551615");
    CHECK(attr(rec, "agentbox.f")["doubleValue"] == 1.5);
}

// Found by fuzz_audit: Json's value("event", "") throws when the member is there with another
// type, and the export is given log files from disk, which need not be agentbox's own lines.
TEST_CASE("otlp: an event or verdict that is not a string is INFO with an empty body, and nothing throws") {
    for (const char* text : {R"({"event":{"a":[1,true,null]}})", R"({"event":7,"verdict":["deny"]})",
                             R"({"event":null,"verdict":{"v":"deny"}})"}) {
        const Json odd = Json::parse(text);
        CHECK(otlp::severity(odd) == 9);
        const Json req = Json::parse(otlp::logs_request({odd}, {}));
        const Json& rec = req["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        CHECK(rec["body"]["stringValue"] == "");
        CHECK(rec["severityText"] == "INFO");
    }
}
