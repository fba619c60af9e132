// The bound on what a command can make the decision log hold (audit/repeats.hpp): a repeated
// denial is written kPerKey times then counted; past log_size everything is counted; the
// counts come out as log.summary events that add up to what was held back.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "audit/event.hpp"
#include "audit/repeats.hpp"

using namespace agentbox::audit;
using std::chrono::seconds;

namespace {

Event denied(const std::string& syscall, const std::string& comm) {
    Event ev("syscall.denied");
    ev.set("syscall", syscall).set("pid", 42).set("comm", comm);
    return ev;
}

Repeats::Moment at(int s) {
    return {std::chrono::steady_clock::time_point(seconds(s)), "t" + std::to_string(s)};
}

constexpr std::uint64_t kBig = 1ull << 40;

}  // namespace

TEST_CASE("a denial repeated in a loop is written kPerKey times, then counted") {
    Repeats r(kBig);
    int written = 0;
    for (int i = 0; i < 1000; ++i) written += r.admit(denied("unshare", "python3"), 0, at(1));
    CHECK(written == Repeats::kPerKey);
    CHECK(r.counted() == 1000 - Repeats::kPerKey);
    const auto s = r.take_summaries(at(2));
    REQUIRE(s.size() == 1);
    const Json& f = s[0].fields();
    CHECK(s[0].type() == "log.summary");
    CHECK(f["of"] == "syscall.denied");
    CHECK(f["syscall"] == "unshare");
    CHECK(f["comm"] == "python3");
    CHECK(f["count"] == 1000 - Repeats::kPerKey);
    CHECK(f["total"] == 1000 - Repeats::kPerKey);
    CHECK(f["first"] == "t1");
    CHECK(f["last"] == "t1");
    CHECK(r.take_summaries(at(3)).empty());  // nothing new counted: nothing to say
    CHECK_FALSE(r.size_reached());
}

TEST_CASE("each syscall and each process name has its own first kPerKey") {
    Repeats r(kBig);
    int written = 0;
    for (int i = 0; i < 100; ++i) {
        written += r.admit(denied("unshare", "a"), 0, at(0));
        written += r.admit(denied("mount", "a"), 0, at(0));
        written += r.admit(denied("unshare", "b"), 0, at(0));
    }
    CHECK(written == 3 * Repeats::kPerKey);
    CHECK(r.take_summaries(at(1)).size() == 3);
}

TEST_CASE("events that are not denials pass below the size and are counted past it") {
    Repeats r(1000);
    Event connect("net.connect");
    connect.set("host", "registry.npmjs.org").set("verdict", "allow");
    for (int i = 0; i < 100; ++i) CHECK(r.admit(connect, 999, at(0)));
    CHECK(r.counted() == 0);
    CHECK_FALSE(r.admit(connect, 1000, at(1)));
    CHECK_FALSE(r.admit(connect, 1000, at(2)));
    CHECK(r.size_reached());
    CHECK(r.counted() == 2);
    const auto s = r.take_summaries(at(3));
    REQUIRE(s.size() == 1);
    CHECK(s[0].fields()["host"] == "registry.npmjs.org");
    CHECK(s[0].fields()["count"] == 2);
    CHECK(s[0].fields()["first"] == "t1");
    CHECK(s[0].fields()["last"] == "t2");
}

TEST_CASE("the sandbox being ended for a limit is written even past the size") {
    Repeats r(100);
    Event limit("limit");
    limit.set("limit", "stage_size");
    CHECK(r.admit(limit, 1000, at(0)));
    CHECK(r.counted() == 0);
}

TEST_CASE("a proxy refusal (verdict deny) is a denial; past the size even the first is counted") {
    Repeats r(500);
    Event refused("decision");
    refused.set("op", "connect").set("target", "evil.example:443").set("verdict", "deny");
    int written = 0;
    for (int i = 0; i < 50; ++i) written += r.admit(refused, 0, at(0));
    CHECK(written == Repeats::kPerKey);
    CHECK_FALSE(r.admit(denied("ptrace", "x"), 500, at(0)));  // a new key, over the size
    CHECK(r.counted() == 50 - Repeats::kPerKey + 1);
}

TEST_CASE("summaries are due each period while the log is under its size, and then wait") {
    Repeats r(1000, seconds(10));
    for (int i = 0; i < 30; ++i) r.admit(denied("unshare", "p"), 0, at(0));
    CHECK_FALSE(r.due(at(9), 0));
    CHECK(r.due(at(10), 0));
    CHECK_FALSE(r.due(at(10), 1000));  // over the size: only the end's summary is written
    auto s = r.take_summaries(at(10));
    REQUIRE(s.size() == 1);
    CHECK(s[0].fields()["count"] == 10);
    CHECK_FALSE(r.due(at(30), 0));  // nothing pending
    for (int i = 0; i < 5; ++i) r.admit(denied("unshare", "p"), 0, at(25));
    CHECK_FALSE(r.due(at(19), 0));  // the period restarted at the last summary
    CHECK(r.due(at(20), 0));
    s = r.take_summaries(at(25));
    REQUIRE(s.size() == 1);
    CHECK(s[0].fields()["count"] == 5);
    CHECK(s[0].fields()["total"] == 15);
}

TEST_CASE("keys a command makes up (a new comm each call) stop at kMaxKeys, then fold by type") {
    Repeats r(kBig);
    const std::size_t n = Repeats::kMaxKeys + 100;
    for (std::size_t i = 0; i < n; ++i)
        for (std::uint32_t k = 0; k <= Repeats::kPerKey; ++k)
            r.admit(denied("unshare", "c" + std::to_string(i)), 0, at(0));
    const auto s = r.take_summaries(at(1));
    CHECK(s.size() == Repeats::kMaxKeys + 1);
    const Json& last = s.back().fields();
    CHECK(last["comm"] == "*");
    CHECK_FALSE(last.contains("syscall"));
    std::uint64_t total = 0;
    for (const auto& e : s) total += e.fields()["count"].get<std::uint64_t>();
    CHECK(total == r.counted());
}
