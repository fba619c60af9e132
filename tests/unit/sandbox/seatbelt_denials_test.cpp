// The denials of a Seatbelt run (macos/denials.cpp), on Linux: the tag every deny rule of a
// launch carries, the parser of macOS's reports, and the watch that reads them from a
// stand-in for `log stream`. Seatbelt itself is not here; what agentbox makes of its reports is.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "../temp_dir.hpp"
#include "policy/plan.hpp"
#include "sandbox/macos/denials.hpp"
#include "sandbox/macos/seatbelt.hpp"

using namespace agentbox;
using namespace agentbox::sandbox;
using namespace agentbox::sandbox::macos;

namespace {

const std::string kTag = "agentbox-00112233445566778899aabbccddeeff";

std::string field(const Event& ev, const std::string& key) {
    for (const auto& [k, v] : ev.fields)
        if (k == key) return v;
    return "<none>";
}

policy::Plan plan_with_a_mask() {
    policy::Plan p;
    p.argv = {"true"};
    p.project = "/Users/u/proj";
    p.cwd = "/Users/u/proj";
    p.home = "/Users/u";
    policy::Mount usr;
    usr.kind = policy::MountKind::bind_ro;
    usr.source = usr.target = "/usr";
    usr.rule = "filesystem.read \"/usr\"";
    policy::Mount mask;
    mask.kind = policy::MountKind::mask_file;
    mask.target = "/usr/secret";
    mask.rule = "filesystem.deny \"/usr/secret\"";
    p.mounts = {usr, mask};
    return p;
}

// A stand-in for `log stream`: announces itself, then prints `body` and waits to be ended.
std::string fake_log(const test::TempDir& dir, const std::string& body) {
    const std::string path = dir.path() + "/log";
    std::ofstream(path) << "#!/bin/sh\necho 'Filtering the log data using ...'\n" << body
                        << "exec sleep 30\n";
    ::chmod(path.c_str(), 0755);
    return path;
}

}  // namespace

TEST_CASE("every deny rule of a launch carries its tag; the printed profile none") {
    const policy::Plan p = plan_with_a_mask();
    LaunchFacts facts;
    facts.log_tag = kTag;
    const std::string sb = seatbelt_launch(p, "/Users/u/s/copy", "/Users/u/s/scratch", facts).argv[2];
    std::istringstream lines(sb);
    int denies = 0;
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("(deny ")) continue;
        ++denies;
        CHECK_MESSAGE(line.ends_with(" (with message \"" + kTag + "\"))"), line);
    }
    CHECK(denies >= 2);  // default, and the mask
    CHECK(seatbelt_profile(p).find("with message") == std::string::npos);
}

TEST_CASE("a Sandbox report with this run's tag is a seatbelt.denied event") {
    const auto ev = parse_denial(
        "2026-12-05 10:00:00.123 E  kernel[0:1a2b] (Sandbox) Sandbox: curl(4711) deny(1) "
        "network-outbound 203.0.113.7:443 " + kTag, kTag);
    REQUIRE(ev);
    CHECK(ev->type == "seatbelt.denied");
    CHECK(field(*ev, "operation") == "network-outbound");
    CHECK(field(*ev, "target") == "203.0.113.7:443");
    CHECK(field(*ev, "pid") == "4711");
    CHECK(field(*ev, "comm") == "curl");

    // A name with spaces and parentheses; a path with spaces; no target at all.
    const auto named = parse_denial("Sandbox: Code Helper (GPU)(88) deny(1) file-read-data "
                                    "/Users/u/My Files/.ssh/id_rsa " + kTag, kTag);
    REQUIRE(named);
    CHECK(field(*named, "comm") == "Code Helper (GPU)");
    CHECK(field(*named, "pid") == "88");
    CHECK(field(*named, "target") == "/Users/u/My Files/.ssh/id_rsa");
    const auto bare = parse_denial("Sandbox: sh(5) deny(1) process-fork " + kTag, kTag);
    REQUIRE(bare);
    CHECK(field(*bare, "target") == "<none>");
}

TEST_CASE("attack: reports of another run or forged by the command are not this run's") {
    const std::string other = "agentbox-ffffffffffffffffffffffffffffffff";
    CHECK_FALSE(parse_denial("Sandbox: curl(1) deny(1) file-read-data /x " + other, kTag));
    // The tag not at the end: a path that merely contains it.
    CHECK_FALSE(parse_denial("Sandbox: curl(1) deny(1) file-read-data /" + kTag + "/x", kTag));
    CHECK_FALSE(parse_denial("curl(1) deny(1) file-read-data /x " + kTag, kTag));
    CHECK_FALSE(parse_denial("Sandbox: curl(x) deny(1) file-read-data /x " + kTag, kTag));
    CHECK_FALSE(parse_denial("Sandbox: curl(1) allow(1) file-read-data /x " + kTag, kTag));
    CHECK_FALSE(parse_denial("Sandbox: curl(1) deny(1) file-read-data /x", ""));
    // The query asks the kernel's Sandbox sender only, and only for this tag.
    const auto argv = log_stream_argv(kLogProgram, kTag);
    REQUIRE(argv.size() >= 3);
    CHECK(argv.front() == "/usr/bin/log");
    CHECK(argv.back() == "process == \"kernel\" AND sender == \"Sandbox\" AND eventMessage "
                         "ENDSWITH \"" + kTag + "\"");
    CHECK(new_log_tag() != new_log_tag());
    CHECK(new_log_tag().size() == kTag.size());
}

TEST_CASE("the watch reads this run's denials from the log program, in order, and ends it") {
    test::TempDir dir("seatbelt-denials");
    const std::string log = fake_log(dir,
        "echo 'Sandbox: curl(7) deny(1) network-outbound 1.2.3.4:443 " + kTag + "'\n"
        "echo 'Sandbox: other(8) deny(1) file-read-data /x agentbox-ffff'\n"
        "echo 'Sandbox: sh(9) deny(1) file-write-create /usr/secret " + kTag + "'\n");
    DenialWatch watch(log_stream_argv(log, kTag), kTag);
    CHECK(watch.wait_started(std::chrono::seconds(10)));
    const auto t0 = std::chrono::steady_clock::now();
    const auto events = watch.stop(std::chrono::milliseconds(300));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));  // ended, not waited
    REQUIRE(events.size() == 2);
    CHECK(field(events[0], "pid") == "7");
    CHECK(field(events[1], "target") == "/usr/secret");
}

TEST_CASE("a flood of denials is bounded, and said to be") {
    test::TempDir dir("seatbelt-denials");
    const std::string log = fake_log(dir,
        "i=0; while [ $i -lt 1005 ]; do echo \"Sandbox: sh($i) deny(1) process-fork " + kTag +
        "\"; i=$((i+1)); done\n");
    DenialWatch watch(log_stream_argv(log, kTag), kTag);
    CHECK(watch.wait_started(std::chrono::seconds(10)));
    const auto events = watch.stop(std::chrono::milliseconds(1500));
    REQUIRE(events.size() == DenialWatch::kMaxEvents + 1);
    CHECK(events.back().type == "warning");
    CHECK(field(events.back(), "message").starts_with("5 more"));
}

TEST_CASE("a log program that cannot run leaves a warning, not a failed run") {
    DenialWatch watch(log_stream_argv("/nonexistent/log", kTag), kTag);
    CHECK_FALSE(watch.wait_started(std::chrono::milliseconds(10)));
    const auto events = watch.stop(std::chrono::milliseconds(0));
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == "warning");
    CHECK(field(events[0], "message").find("/nonexistent/log") != std::string::npos);
}
