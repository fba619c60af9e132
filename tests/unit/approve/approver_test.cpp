// The approver protocol (DESIGN.md §8) against real shell approvers: allow, deny, session
// scope, and every way an approver can fail — late, crashed, non-zero exit, garbage, too long,
// a misspelt member — each a denial that says which. Plus the two example approvers.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "approve/approver.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using namespace agentbox::approve;
using namespace std::chrono_literals;

namespace {

struct TempDir {
    agentbox::test::TempDir tmp{"approve-test"};
    std::string root = tmp.path();
};

Request connect_request(const std::string& target = "example.com:443") {
    Request r;
    r.op = "connect";
    r.target = target;
    r.rule = "network.unlisted = \"ask\"";
    r.source = "/home/u/.config/agentbox/profiles/x.toml:4:1";
    r.session = "20261122T221400Z-3f9a1c";
    return r;
}

std::string slurp(const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

const std::string kExamples = std::string(AGENTBOX_SOURCE_DIR) + "/examples/approvers/";

}  // namespace

TEST_CASE("an approver that allows, for the session") {
    const Answer a = ask_command(
        R"(echo '{"verdict":"allow","scope":"session","reason":"fine"}')", connect_request(), 5s);
    CHECK(a.verdict == Verdict::allow);
    CHECK(a.scope == Scope::session);
    CHECK(a.reason == "fine");
    CHECK(a.how == "answered");
    CHECK(a.by == "approver");
}

TEST_CASE("an approver that denies; scope defaults to once") {
    const Answer a = ask_command(R"(echo '{"verdict":"deny"}')", connect_request(), 5s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.scope == Scope::once);
    CHECK(a.how == "answered");
}

TEST_CASE("the request arrives as one JSON object on stdin") {
    TempDir t;
    const std::string saved = t.root + "/req.json";
    const Answer a = ask_command("cat > " + saved + R"(; echo '{"verdict":"allow"}')",
                                 connect_request(), 5s);
    CHECK(a.verdict == Verdict::allow);
    const auto j = nlohmann::json::parse(slurp(saved));
    CHECK(j["v"] == 1);
    CHECK(j["op"] == "connect");
    CHECK(j["target"] == "example.com:443");
    CHECK(j["session"] == "20261122T221400Z-3f9a1c");
}

TEST_CASE("an approver that never answers is denied at the timeout, and killed with its children") {
    TempDir t;
    const std::string pidfile = t.root + "/pid";
    const auto t0 = std::chrono::steady_clock::now();
    const Answer a = ask_command("sleep 30 & echo $! > " + pidfile + "; wait", connect_request(),
                                 300ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "timeout");
    CHECK(took < 5s);
    const pid_t child = std::stoi(slurp(pidfile));
    // The grandchild (sleep) was in the approver's process group: gone, or a zombie about to
    // be reaped by init.
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i) {
        std::ifstream st("/proc/" + std::to_string(child) + "/stat");
        std::string s((std::istreambuf_iterator<char>(st)), {});
        gone = s.empty() || s.find(") Z") != std::string::npos;
        if (!gone) ::usleep(20000);
    }
    CHECK(gone);
}

TEST_CASE("an approver that crashes is a denial") {
    const Answer a = ask_command(R"(echo '{"verdict":"allow"}'; kill -SEGV $$)",
                                 connect_request(), 5s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "crashed");
}

TEST_CASE("an approver that exits non-zero is a denial, even after printing allow") {
    const Answer a = ask_command(R"(echo '{"verdict":"allow"}'; exit 3)", connect_request(), 5s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "exit 3");
}

TEST_CASE("garbage answers are denials") {
    for (const char* cmd : {"echo yes", "echo", "true", R"(echo '["allow"]')",
                            R"(echo '{"verdict":"ALLOW"}')", R"(echo '{"verdict":true}')",
                            R"(echo '{"verdict":"allow","scpoe":"session"}')",
                            R"(echo '{"verdict":"allow","scope":"forever"}')",
                            R"(echo '{"verdict":"allow"}{"verdict":"allow"}')",
                            R"(echo '{"verdict":"allow","reason":1}')"}) {
        CAPTURE(cmd);
        const Answer a = ask_command(cmd, connect_request(), 5s);
        CHECK(a.verdict == Verdict::deny);
        CHECK(a.how == "malformed");
    }
}

TEST_CASE("an endless answer is cut off and denied") {
    const Answer a = ask_command("yes", connect_request(), 5s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "malformed");
}

TEST_CASE("an approver that does not read its request can still answer") {
    const Answer a = ask_command(R"(exec 0<&-; echo '{"verdict":"allow"}')", connect_request(),
                                 5s);
    CHECK(a.verdict == Verdict::allow);
}

TEST_CASE("an approver that cannot be found is a denial") {
    const Answer a = ask_command("/nonexistent/approver", connect_request(), 5s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "exit 127");
}

TEST_CASE("the answer as the log records it") {
    Answer a;
    a.verdict = Verdict::allow;
    a.scope = Scope::session;
    a.by = "approver";
    a.how = "answered";
    a.reason = "r";
    a.ms = 12;
    CHECK(a.to_json().dump() ==
          R"({"verdict":"allow","scope":"session","by":"approver","how":"answered","reason":"r","ms":12})");
}

TEST_CASE("example allow-hosts.sh allows a listed host and denies the rest") {
    TempDir t;
    const std::string hosts = t.root + "/hosts";
    {
        std::ofstream f(hosts);
        f << "# hosts the agent may reach\npypi.org\n  Example.COM  # with a comment\n";
    }
    const std::string cmd = kExamples + "allow-hosts.sh " + hosts;
    Answer a = ask_command(cmd, connect_request("pypi.org:443"), 10s);
    CHECK(a.verdict == Verdict::allow);
    CHECK(a.scope == Scope::session);
    CHECK(a.how == "answered");
    // The file's lines are compared as they are after comments and blanks go: "Example.COM"
    // is not the canonical (lower-case) host, so it does not match.
    a = ask_command(cmd, connect_request("example.com:443"), 10s);
    CHECK(a.verdict == Verdict::deny);
    a = ask_command(cmd, connect_request("evil.org:443"), 10s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "answered");
    // A listed name inside another must not match (no substring or pattern matching).
    a = ask_command(cmd, connect_request("pypi.org.evil.org:443"), 10s);
    CHECK(a.verdict == Verdict::deny);
    a = ask_command(cmd, connect_request("pypi-org:443"), 10s);
    CHECK(a.verdict == Verdict::deny);
    Request commit = connect_request("pypi.org:443");
    commit.op = "commit";
    a = ask_command(cmd, commit, 10s);
    CHECK(a.verdict == Verdict::deny);
}

TEST_CASE("example ask-desktop.sh: denies without a desktop, asks the dialog with one") {
    TempDir t;
    const std::string bin = t.root + "/bin";
    fs::create_directories(bin);
    const std::string base = "PATH=" + bin + ":/usr/bin:/bin ";
    Answer a = ask_command("env -u DISPLAY -u WAYLAND_DISPLAY " + base + kExamples +
                               "ask-desktop.sh",
                           connect_request(), 10s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "answered");
    CHECK(a.reason.find("no desktop") != std::string::npos);

    // A stand-in zenity: says yes when the dialog text names the host, records what it saw.
    {
        std::ofstream z(bin + "/zenity");
        z << "#!/bin/sh\nprintf '%s\\n' \"$@\" > " << t.root << "/dialog\n"
          << "case \"$*\" in *pypi.org:443*) exit 0 ;; *) exit 1 ;; esac\n";
    }
    ::chmod((bin + "/zenity").c_str(), 0755);
    const std::string with = "env DISPLAY=:99 " + base + kExamples + "ask-desktop.sh";
    a = ask_command(with, connect_request("pypi.org:443"), 10s);
    CHECK(a.verdict == Verdict::allow);
    CHECK(a.scope == Scope::once);
    CHECK(slurp(t.root + "/dialog").find("network.unlisted") != std::string::npos);
    a = ask_command(with, connect_request("evil.org:443"), 10s);
    CHECK(a.verdict == Verdict::deny);
}

TEST_CASE("a cancelled question kills the approver at once and is a denial") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    // Readable from the start: the answer is no longer wanted.
    REQUIRE(::write(p[1], "x", 1) == 1);
    const auto t0 = std::chrono::steady_clock::now();
    const Answer a = ask_command(R"(sleep 20; echo '{"verdict":"allow"}')", connect_request(),
                                 30s, p[0]);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(a.verdict == Verdict::deny);
    CHECK(a.how == "cancelled");
    ::close(p[0]);
    ::close(p[1]);
}

TEST_CASE("a cancel descriptor that stays quiet changes nothing") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    const Answer a = ask_command(R"(echo '{"verdict":"allow"}')", connect_request(), 5s, p[0]);
    CHECK(a.verdict == Verdict::allow);
    CHECK(a.how == "answered");
    ::close(p[0]);
    ::close(p[1]);
}
