// The decision log: the line format and its one canonical serialization, the hash chain, the
// signing key file, resuming a log, and every kind of tampering `agentbox log --verify` must
// catch (edit, delete, reorder, append, a replaced key) or report (cut short).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "audit/chain.hpp"
#include "audit/event.hpp"
#include "audit/log.hpp"
#include "audit/verify.hpp"
#include "util/strings.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using namespace agentbox::audit;

namespace {

struct TempDir {
    agentbox::test::TempDir tmp{"audit-test"};
    std::string root = tmp.path();
};

std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const std::string& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

SigningKey key_a() {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(7);
    return SigningKey::from_seed(seed);
}

SigningKey key_b() {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(9);
    return SigningKey::from_seed(seed);
}

// A complete log of one small session, written by `key`.
std::string write_session(const std::string& path, SigningKey key) {
    auto log = Log::create(path, "20261122T221400Z-3f9a1c", std::move(key));
    log->append(Event("session.start").set("argv", Json::array({"make", "test"})));
    log->append(Event("plan").set("mounts", 12));
    log->append(Event("exec").set("argv0", "make"));
    log->append(Event("syscall.denied").set("syscall", "mount").set("nr", 165));
    log->append(Event("process.exit").set("status", 0));
    log->append(Event("session.end"));
    return slurp(path);
}

// Recomputes "hash" (and re-chains "prev") of every line from `from` on, as a forger without
// the key can; session.end keeps its old signature.
std::vector<std::string> rechain(std::vector<std::string> lines, std::size_t from) {
    std::string prev = from == 0 ? zero_hash_hex() : Json::parse(lines[from - 1])["hash"].get<std::string>();
    for (std::size_t i = from; i < lines.size(); ++i) {
        Json j = Json::parse(lines[i]);
        j["prev"] = prev;
        j.erase("hash");
        const std::string h = hash_hex(canonical(j));
        j["hash"] = h;
        lines[i] = canonical(j);
        prev = h;
    }
    return lines;
}

}  // namespace

TEST_CASE("BLAKE2b-256 is the hash (RFC 7693 style test vector)") {
    CHECK(hash_hex("abc") ==
          "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    CHECK(zero_hash_hex() == std::string(64, '0'));
}

TEST_CASE("each line has the envelope in order, hash last, and is canonical") {
    TempDir t;
    const auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    REQUIRE(lines.size() == 6);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const Json j = Json::parse(lines[i]);
        std::vector<std::string> keys;
        for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
        REQUIRE(keys.size() >= 7);
        CHECK(std::vector<std::string>(keys.begin(), keys.begin() + 5) ==
              std::vector<std::string>{"v", "ts", "session", "seq", "event"});
        CHECK(keys.back() == "hash");
        CHECK(j["v"] == 1);
        CHECK(j["seq"] == i);
        CHECK(canonical(j) == lines[i]);
        CHECK(std::regex_search(j["ts"].get<std::string>(),
                                std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)")));
    }
    CHECK(Json::parse(lines[0])["key"] == key_a().public_hex());
    const Json end = Json::parse(lines[5]);
    CHECK(end["event"] == "session.end");
    CHECK(end["dropped"] == 0);
    CHECK(end.contains("sig"));
}

TEST_CASE("the hash covers the line without it and chains to the previous line") {
    TempDir t;
    const auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    std::string prev = zero_hash_hex();
    for (const auto& l : lines) {
        const Json j = Json::parse(l);
        CHECK(j["prev"] == prev);
        const std::string h = j["hash"];
        const std::string body = l.substr(0, l.size() - std::string(",\"hash\":\"\"}").size() - 64) + "}";
        CHECK(hash_hex(body) == h);
        prev = h;
    }
}

TEST_CASE("invalid UTF-8 in a value is replaced, not thrown, and still verifies") {
    TempDir t;
    const std::string path = t.root + "/log.jsonl";
    auto log = Log::create(path, "s", key_a());
    log->append(Event("session.start").set("argv", Json::array({std::string("a\xff\xfe b")})));
    log->append(Event("session.end"));
    CHECK(verify(slurp(path)).ok);
}

TEST_CASE("a log written by Log verifies, with or without the trusted key") {
    TempDir t;
    const std::string text = write_session(t.root + "/log.jsonl", key_a());
    Verdict v = verify(text);
    CHECK(v.ok);
    CHECK_FALSE(v.cut_short);
    CHECK(v.lines == 6);
    CHECK(v.signed_lines == 6);
    CHECK(v.bad_line == 0);
    CHECK(v.session == "20261122T221400Z-3f9a1c");
    CHECK(verify(text, key_a().public_hex()).ok);
}

TEST_CASE("tamper: editing a value is caught at that line") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    const std::string orig = lines[3];
    lines[3] = agentbox::util::join(agentbox::util::split(orig, 'm'), "M");  // "mount" -> "Mount"
    REQUIRE(lines[3] != orig);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 4);
    CHECK(v.reason.find("hash") != std::string::npos);
}

TEST_CASE("tamper: an edit with the chain recomputed is caught by the signature") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    Json j = Json::parse(lines[3]);
    j["syscall"] = "getpid";
    lines[3] = canonical(j);
    lines = rechain(lines, 3);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 6);
    CHECK(v.reason.find("signature") != std::string::npos);
}

TEST_CASE("tamper: deleting a line is caught") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    lines.erase(lines.begin() + 3);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 4);
    CHECK(v.lines == 3);
}

TEST_CASE("tamper: deleting the last lines, session.end included, leaves it cut short") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    lines.resize(4);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.cut_short);
    CHECK(v.bad_line == 0);
    CHECK(v.lines == 4);
    CHECK(v.signed_lines == 0);
}

TEST_CASE("tamper: swapping two lines is caught") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    std::swap(lines[2], lines[3]);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 3);
}

TEST_CASE("tamper: swapping two lines and renumbering and rechaining them is caught") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    std::swap(lines[2], lines[3]);
    for (std::size_t i : {2u, 3u}) {
        Json j = Json::parse(lines[i]);
        j["seq"] = i;
        lines[i] = canonical(j);
    }
    lines = rechain(lines, 2);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 6);  // only the signature can tell
}

TEST_CASE("tamper: reordering members inside a line is caught") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    Json j = Json::parse(lines[2]);
    Json k;
    for (const char* name : {"v", "ts", "session", "seq", "event", "prev", "argv0", "hash"})
        k[name] = j[name];
    lines[2] = canonical(k);
    CHECK(verify(joined(lines)).bad_line == 3);
}

TEST_CASE("tamper: whitespace added to a line is caught as not canonical") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    lines[1].insert(1, " ");
    const Verdict v = verify(joined(lines));
    CHECK(v.bad_line == 2);
    CHECK(v.reason.find("canonical") != std::string::npos);
}

TEST_CASE("tamper: a forged line appended after session.end is not signed") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    Json j = Json::parse(lines[4]);
    j["seq"] = 6;
    j["event"] = "commit";
    lines.push_back(canonical(j));
    lines = rechain(lines, 6);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    // Every line after a signed one is signed by agentbox: an unsigned one is a forgery.
    CHECK(v.bad_line == 7);
    CHECK(v.lines == 6);
    CHECK(v.signed_lines == 6);
    CHECK(v.vouched_event == "session.end");
    CHECK(v.vouched_seq == 5);
    CHECK(v.reason.find("not signed") != std::string::npos);
}

TEST_CASE("tamper: a garbage line appended is caught at that line") {
    TempDir t;
    const std::string text = write_session(t.root + "/log.jsonl", key_a()) + "{\"v\":1}\n";
    const Verdict v = verify(text);
    CHECK(v.bad_line == 7);
    CHECK(v.lines == 6);
}

TEST_CASE("tamper: a log rewritten and re-signed with another key fails against the user's key") {
    TempDir t;
    const std::string forged = write_session(t.root + "/forged.jsonl", key_b());
    CHECK(verify(forged).ok);  // self-consistent...
    const Verdict v = verify(forged, key_a().public_hex());
    CHECK_FALSE(v.ok);  // ...but not signed by this user
    CHECK(v.bad_line == 1);
    CHECK(v.reason.find("not yours") != std::string::npos);
}

TEST_CASE("tamper: replacing the key in session.start breaks the signature") {
    TempDir t;
    auto lines = lines_of(write_session(t.root + "/log.jsonl", key_a()));
    for (std::size_t i : {0u, 5u}) {
        Json j = Json::parse(lines[i]);
        j["key"] = key_b().public_hex();
        lines[i] = canonical(j);
    }
    lines = rechain(lines, 0);
    const Verdict v = verify(joined(lines));
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 6);
}

TEST_CASE("an unfinished last line is cut short, the lines before it verified") {
    TempDir t;
    const std::string text = write_session(t.root + "/log.jsonl", key_a());
    const std::string cut = text.substr(0, text.size() - 20);
    const Verdict v = verify(cut);
    CHECK_FALSE(v.ok);
    CHECK(v.cut_short);
    CHECK(v.bad_line == 0);
    CHECK(v.lines == 5);
    CHECK(v.reason.find("line 6 is unfinished") != std::string::npos);
}

TEST_CASE("an empty log does not verify") {
    const Verdict v = verify("");
    CHECK_FALSE(v.ok);
    CHECK(v.cut_short);
}

TEST_CASE("open_append resumes the chain, cuts a fragment, and a new session.end signs it") {
    TempDir t;
    const std::string path = t.root + "/log.jsonl";
    write_session(path, key_a());
    {
        std::ofstream out(path, std::ios::app);
        out << "{\"v\":1,\"ts\":";  // a fragment from a writer that ran out of disk
    }
    {
        auto log = Log::open_append(path, key_a());
        CHECK(log->next_seq() == 7);  // log.resume took seq 6
        log->append(Event("commit").set("paths", 3));
        log->append(Event("session.end"));
    }
    const std::string text = slurp(path);
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 9);
    const Json resume = Json::parse(lines[6]);
    CHECK(resume["event"] == "log.resume");
    CHECK(resume["after"] == "session.end");
    CHECK(resume["fragment_bytes"] == 12);
    const Verdict v = verify(text, key_a().public_hex());
    CHECK(v.ok);
    CHECK(v.signed_lines == 9);
}

TEST_CASE("open_append after a cut-short log says so") {
    TempDir t;
    const std::string path = t.root + "/log.jsonl";
    {
        auto log = Log::create(path, "s", key_a());
        log->append(Event("session.start"));
        log->append(Event("exec"));
    }
    auto log = Log::open_append(path, key_a());
    log->append(Event("session.end"));
    const auto lines = lines_of(slurp(path));
    REQUIRE(lines.size() == 4);
    CHECK(Json::parse(lines[2])["after"] == "cut short");
    CHECK(verify(slurp(path)).ok);
}

TEST_CASE("open_append refuses a log whose last line is not a log line") {
    TempDir t;
    const std::string path = t.root + "/log.jsonl";
    spit(path, "hello\n");
    CHECK_THROWS(Log::open_append(path, key_a()));
}

TEST_CASE("a session's log is never overwritten") {
    TempDir t;
    const std::string path = t.root + "/log.jsonl";
    write_session(path, key_a());
    CHECK_THROWS(Log::create(path, "x", key_a()));
}

TEST_CASE("an event may not set the envelope's members") {
    TempDir t;
    auto log = Log::create(t.root + "/log.jsonl", "s", key_a());
    for (const char* name : {"v", "ts", "session", "seq", "event", "prev", "hash", "sig", "key"})
        CHECK_THROWS_AS(log->append(Event("exec").set(name, "forged")), std::invalid_argument);
    CHECK(log->next_seq() == 0);
}

TEST_CASE("copies get every line; a failing copy is reported once and dropped") {
    TempDir t;
    const std::string copy = t.root + "/copy.jsonl";
    auto log = Log::create(t.root + "/log.jsonl", "s", key_a());
    log->add_copy_file(copy);
    const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    REQUIRE(full >= 0);
    log->add_copy_fd(full, "/dev/full");
    std::vector<std::string> errors;
    log->on_error([&](const std::string& m) { errors.push_back(m); });
    log->append(Event("session.start"));
    log->append(Event("exec"));
    log->append(Event("session.end"));
    ::close(full);
    CHECK(errors.size() == 1);
    CHECK(errors.front().find("/dev/full") != std::string::npos);
    CHECK(slurp(copy) == slurp(t.root + "/log.jsonl"));
    CHECK(verify(slurp(copy)).ok);
}

TEST_CASE("the signing key is created once, 0600 in a 0700 directory, and reused") {
    TempDir t;
    const std::string path = t.root + "/config/agentbox/log-key";
    fs::create_directories(t.root + "/config");
    const SigningKey a = SigningKey::load_or_create(path);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat((t.root + "/config/agentbox").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    const SigningKey b = SigningKey::load_or_create(path);
    CHECK(a.public_hex() == b.public_hex());
    CHECK(is_hex(a.public_hex(), kKeyBytes));
    const std::string msg = "m";
    CHECK(verify_signature(a.public_hex(), msg, b.sign_hex(msg)));
    CHECK_FALSE(verify_signature(a.public_hex(), "other", b.sign_hex(msg)));
    CHECK_FALSE(verify_signature(key_b().public_hex(), msg, a.sign_hex(msg)));
}

TEST_CASE("a signing key that others can read is refused") {
    TempDir t;
    const std::string path = t.root + "/log-key";
    SigningKey::load_or_create(path);
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    CHECK_THROWS_WITH_AS(SigningKey::load(path), doctest::Contains("chmod 600"),
                         std::runtime_error);
}

TEST_CASE("a symlink planted at the key path is not followed") {
    TempDir t;
    const std::string target = t.root + "/elsewhere";
    spit(target, std::string(64, 'a') + "\n");
    REQUIRE(::chmod(target.c_str(), 0600) == 0);
    REQUIRE(::symlink(target.c_str(), (t.root + "/log-key").c_str()) == 0);
    CHECK_THROWS(SigningKey::load_or_create(t.root + "/log-key"));
}

TEST_CASE("a line that does not fit (file size limit) is dropped whole and counted") {
    TempDir t;
    const std::string path = t.root + "/log.jsonl";
    auto log = Log::create(path, "s", key_a());
    log->append(Event("session.start"));
    const auto size = fs::file_size(path);
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* prev_handler = ::signal(SIGXFSZ, SIG_IGN);
    // Room for part of the next line only: write(2) writes that part and stops.
    struct rlimit small = old;
    small.rlim_cur = size + 100;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::vector<std::string> errors;
    log->on_error([&](const std::string& m) { errors.push_back(m); });
    const bool written = log->append(Event("exec").set("argv0", std::string(400, 'x')));
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    ::signal(SIGXFSZ, prev_handler);
    CHECK_FALSE(written);
    CHECK(log->dropped() == 1);
    CHECK(errors.size() == 1);
    CHECK(fs::file_size(path) == size);  // the half line was taken back
    log->append(Event("session.end"));
    const std::string text = slurp(path);
    CHECK(verify(text).ok);
    CHECK(Json::parse(lines_of(text).back())["dropped"] == 1);
}

namespace {

// A session's later life: the run's log, then a commit with an approval, signed line by line,
// each head reported for the session's metadata.
struct Resumed {
    std::string text;
    std::vector<std::pair<std::uint64_t, std::string>> heads;
};

Resumed run_then_commit(const std::string& path) {
    Resumed r;
    {
        auto log = Log::create(path, "20261122T221400Z-3f9a1c", key_a());
        log->on_signed([&](std::uint64_t seq, const std::string& h) { r.heads.emplace_back(seq, h); });
        log->append(Event("session.start"));
        log->append(Event("process.exit").set("status", 0));
        log->append(Event("session.end"));
    }
    {
        auto log = Log::open_append(path, key_a());
        log->on_signed([&](std::uint64_t seq, const std::string& h) { r.heads.emplace_back(seq, h); });
        log->append(Event("approval").set("path", ".github/workflows/ci.yml"));
        log->append(Event("commit").set("number", 1));
        log->append(Event("session.end"));
    }
    r.text = slurp(path);
    return r;
}

}  // namespace

TEST_CASE("after a signed session.end every appended line is signed, and each head reported") {
    TempDir t;
    const Resumed r = run_then_commit(t.root + "/log.jsonl");
    const auto lines = lines_of(r.text);
    REQUIRE(lines.size() == 7);  // start, exit, end, log.resume, approval, commit, end
    CHECK_FALSE(Json::parse(lines[0]).contains("sig"));
    CHECK_FALSE(Json::parse(lines[1]).contains("sig"));
    for (std::size_t i = 2; i < lines.size(); ++i) CHECK_MESSAGE(Json::parse(lines[i]).contains("sig"), i);
    // log.resume is written by open_append itself, before on_signed is set: the next head
    // covers it.
    REQUIRE(r.heads.size() == 4);
    CHECK(r.heads.front().first == 2);
    CHECK(r.heads.back().first == 6);
    CHECK(r.heads.back().second == Json::parse(lines[6])["hash"]);
    const Verdict v = verify(r.text, key_a().public_hex(), Head{6, r.heads.back().second});
    CHECK(v.ok);
    CHECK(v.signed_lines == 7);
    CHECK(v.vouched_seq == 6);
}

TEST_CASE("test_log_truncated_after_signed_end_fails_verify") {
    TempDir t;
    const Resumed r = run_then_commit(t.root + "/log.jsonl");
    auto lines = lines_of(r.text);
    lines.resize(3);  // cut back to the run's own signed session.end
    const std::string cut = joined(lines);
    // On its own the cut log is a perfectly signed log: only the recorded head tells.
    CHECK(verify(cut, key_a().public_hex()).ok);
    const Verdict v = verify(cut, key_a().public_hex(), Head{6, r.heads.back().second});
    CHECK_FALSE(v.ok);
    CHECK(v.truncated);
    CHECK(v.bad_line == 0);
    CHECK(v.lines == 3);
    CHECK(v.vouched_seq == 2);
    CHECK(v.vouched_event == "session.end");
    CHECK(v.reason.find("truncated") != std::string::npos);
    CHECK(v.reason.find("seq 6") != std::string::npos);

    SUBCASE("cut between two signed lines after the end") {
        auto l2 = lines_of(r.text);
        l2.resize(5);  // the approval kept, the commit and its end cut
        const Verdict v2 = verify(joined(l2), key_a().public_hex(), Head{6, r.heads.back().second});
        CHECK(v2.truncated);
        CHECK(v2.vouched_event == "approval");
    }
}

TEST_CASE("tamper: a log whose line at the recorded head has another hash fails there") {
    TempDir t;
    const Resumed r = run_then_commit(t.root + "/log.jsonl");
    const Verdict v = verify(r.text, key_a().public_hex(), Head{6, std::string(64, 'a')});
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 7);
    CHECK(v.reason.find("recorded") != std::string::npos);
}

TEST_CASE("tamper: an unsigned line spliced between signed ones is caught") {
    TempDir t;
    const Resumed r = run_then_commit(t.root + "/log.jsonl");
    auto lines = lines_of(r.text);
    Json j = Json::parse(lines[4]);
    j.erase("sig");
    lines[4] = canonical(j);
    lines = rechain(lines, 4);
    const Verdict v = verify(joined(lines), key_a().public_hex());
    CHECK_FALSE(v.ok);
    CHECK(v.bad_line == 5);
}
