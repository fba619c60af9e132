#include <doctest/doctest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "sandbox/linux/landlock_audit.hpp"

using namespace agentbox::sandbox::lnx;

namespace {
std::string field(const agentbox::sandbox::Event& ev, const std::string& key) {
    for (const auto& [k, v] : ev.fields)
        if (k == key) return v;
    return "<none>";
}
}  // namespace

TEST_CASE("a Landlock access record is read with its serial and fields") {
    AuditRecord r;
    REQUIRE(parse_audit_record(
        1423,
        "audit(1796474600.725:51): domain=14509e53e blockers=fs.write_file path=\"/dev/null\" "
        "dev=\"devtmpfs\" ino=3",
        r));
    CHECK(r.serial == 51);
    CHECK(r.get("domain") == "14509e53e");
    CHECK(r.get("blockers") == "fs.write_file");
    CHECK(r.get("path") == "/dev/null");
    CHECK(r.get("ino") == "3");
}

TEST_CASE("a path the kernel wrote in hex (it has a space) is decoded") {
    AuditRecord r;
    // "/tmp/a b"
    REQUIRE(parse_audit_record(1423, "audit(1.2:7): domain=1 blockers=fs.read_file path=2F746D702F612062",
                               r));
    CHECK(r.get("path") == "/tmp/a b");
}

TEST_CASE("text that is not an audit record is refused") {
    AuditRecord r;
    CHECK_FALSE(parse_audit_record(1423, "domain=1 blockers=x", r));
    CHECK_FALSE(parse_audit_record(1423, "audit(1.2:x): domain=1", r));
    CHECK_FALSE(parse_audit_record(1423, "audit(1.2:3): path=\"unterminated", r));
}

TEST_CASE("a denied TCP bind becomes landlock.denied with its address, port and caller") {
    AuditRecord a, sc;
    REQUIRE(parse_audit_record(
        1423, "audit(1.1:53): domain=14509e53e blockers=net.bind_tcp saddr=127.0.0.1 src=5555", a));
    REQUIRE(parse_audit_record(
        1300,
        "audit(1.1:53): arch=c000003e syscall=49 success=no exit=-13 a0=3 items=0 ppid=10968 "
        "pid=10970 auid=4294967295 uid=0 comm=\"python3\" exe=\"/usr/bin/python3\" key=(null)",
        sc));
    const auto ev = landlock_denial_event(a, &sc);
    CHECK(ev.type == "landlock.denied");
    CHECK(field(ev, "blockers") == "net.bind_tcp");
    CHECK(field(ev, "addr") == "127.0.0.1");
    CHECK(field(ev, "port") == "5555");
    CHECK(field(ev, "pid") == "10970");
    CHECK(field(ev, "comm") == "python3");
    CHECK(field(ev, "syscall") == "bind");
    CHECK(field(ev, "nr") == "49");
    CHECK(field(ev, "errno") == "13");
    CHECK(field(ev, "path") == "<none>");
}

TEST_CASE("a denial without a SYSCALL record still names what was blocked") {
    AuditRecord a;
    REQUIRE(parse_audit_record(
        1423, "audit(1.1:9): domain=2 blockers=net.connect_tcp daddr=10.0.0.1 dest=443", a));
    const auto ev = landlock_denial_event(a, nullptr);
    CHECK(field(ev, "addr") == "10.0.0.1");
    CHECK(field(ev, "port") == "443");
    CHECK(field(ev, "pid") == "<none>");
}

TEST_CASE("a denial is counted only once its domain is placed in the sandbox's pid namespace") {
    LandlockAudit audit;
    // This process stands for the sandbox's init. It shares the test's pid namespace, so only
    // its own pid is placed: another process of the namespace (pid 1 below) is not.
    audit.set_sandbox(::getpid());
    std::vector<std::string> seen;
    const agentbox::sandbox::EventSink sink = [&seen](const agentbox::sandbox::Event& e) {
        seen.push_back(field(e, "path"));
    };
    auto feed = [&](int type, const std::string& text) {
        AuditRecord r;
        REQUIRE(parse_audit_record(type, text, r));
        audit.take(r, sink);
    };
    const std::string me = std::to_string(::getpid());
    // A caller that is gone (no such pid): its domain is not known to be ours yet.
    feed(1423, "audit(1.1:10): domain=aa blockers=fs.read_file path=\"/first\"");
    feed(1300, "audit(1.1:10): syscall=257 exit=-13 ppid=4194300 pid=4194301 comm=\"x\"");
    feed(1320, "audit(1.1:10): ");
    CHECK(seen.empty());
    // Another domain whose caller is not ours either, freed: forgotten, never reported.
    feed(1423, "audit(1.1:11): domain=bb blockers=fs.read_file path=\"/other\"");
    feed(1300, "audit(1.1:11): syscall=257 exit=-13 ppid=4194300 pid=4194302 comm=\"y\"");
    feed(1320, "audit(1.1:11): ");
    feed(1424, "audit(1.1:11): domain=bb status=deallocated denials=1");
    // Pid 1 shares the test's namespace but is not the sandbox's init: still not placed.
    feed(1423, "audit(1.1:12): domain=aa blockers=fs.read_file path=\"/host\"");
    feed(1300, "audit(1.1:12): syscall=257 exit=-13 ppid=0 pid=1 comm=\"init\"");
    feed(1320, "audit(1.1:12): ");
    CHECK(seen.empty());
    // A denial of domain aa by the sandbox's own process places aa: all of its denials are
    // reported, in order.
    feed(1423, "audit(1.1:13): domain=aa blockers=fs.read_file path=\"/second\"");
    feed(1300, "audit(1.1:13): syscall=257 exit=-13 ppid=1 pid=" + me + " comm=\"z\"");
    feed(1320, "audit(1.1:13): ");
    CHECK(seen == std::vector<std::string>{"/first", "/host", "/second"});
    // From now on the domain alone is enough, even without a SYSCALL record.
    feed(1423, "audit(1.1:14): domain=aa blockers=fs.read_file path=\"/third\"");
    feed(1423, "audit(1.1:15): domain=cc blockers=fs.read_file path=\"/foreign\"");
    audit.finish(sink);
    CHECK(seen == std::vector<std::string>{"/first", "/host", "/second", "/third"});
}

TEST_CASE("a new domain is placed by its creator, named in the domain's first record") {
    LandlockAudit audit;
    audit.set_sandbox(::getpid());
    int n = 0;
    const agentbox::sandbox::EventSink sink = [&n](const agentbox::sandbox::Event&) { ++n; };
    for (const std::string& text : std::vector<std::string>{
             "audit(1.1:20): domain=dd blockers=fs.write_file path=\"/x\"",
          "audit(1.1:20): domain=dd status=allocated mode=enforcing pid=" +
              std::to_string(::getpid()) + " uid=0 exe=\"/bin/sh\" comm=\"sh\""}) {
        AuditRecord r;
        REQUIRE(parse_audit_record(text.find("status=") != std::string::npos ? 1424 : 1423, text, r));
        audit.take(r, sink);
    }
    audit.finish(sink);
    CHECK(n == 1);
}
