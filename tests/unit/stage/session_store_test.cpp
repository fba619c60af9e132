// The session store: ids, directory layout and permissions, meta.json, open() by id, prefix
// and newest-of-project, and list order.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

#include "stage/session.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using agentbox::stage::list_sessions;
using agentbox::stage::Session;

namespace {

// Points XDG_STATE_HOME at a fresh temporary directory for one test case.
struct TempState {
    agentbox::test::TempDir tmp{"session-test"};
    std::string root = tmp.path();
    TempState() {
        ::setenv("XDG_STATE_HOME", (root + "/state").c_str(), 1);
        ::setenv("XDG_CONFIG_HOME", (root + "/config").c_str(), 1);  // the MAC key
    }
    ~TempState() {
        ::unsetenv("XDG_STATE_HOME");
        ::unsetenv("XDG_CONFIG_HOME");
    }
};

unsigned mode_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("a new session gets a sortable id and a private directory with upper/ and work/") {
    TempState t;
    const Session s = Session::create("/home/u/proj", {"make", "test"});
    CHECK(std::regex_match(s.meta().id, std::regex(R"(\d{8}T\d{6}Z-[0-9a-f]{6})")));
    CHECK(s.dir() == t.root + "/state/agentbox/sessions/" + s.meta().id);
    CHECK(mode_of(t.root + "/state") == 0700);
    CHECK(mode_of(t.root + "/state/agentbox") == 0700);
    CHECK(mode_of(t.root + "/state/agentbox/sessions") == 0700);
    CHECK(mode_of(s.dir()) == 0700);
    CHECK(fs::is_directory(s.upper()));
    CHECK(fs::is_directory(s.work()));
    CHECK(fs::is_empty(s.work()));
    CHECK(s.meta().status == "running");
    CHECK(s.meta().start_ns > 0);
    CHECK(std::regex_match(s.meta().created,
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

TEST_CASE("meta.json round-trips through open() and set_status() replaces it") {
    TempState t;
    Session s = Session::create("/p", {"sh", "-c", "echo \"hi\""});
    s.set_status("staged");
    CHECK(!fs::exists(s.dir() + "/meta.json.tmp"));
    const Session o = Session::open(s.meta().id, "/elsewhere");
    CHECK(o.meta().id == s.meta().id);
    CHECK(o.meta().project == "/p");
    CHECK(o.meta().argv == std::vector<std::string>{"sh", "-c", "echo \"hi\""});
    CHECK(o.meta().status == "staged");
    CHECK(o.meta().start_ns == s.meta().start_ns);
    CHECK(slurp(s.dir() + "/meta.json").find("\"status\": \"staged\"") != std::string::npos);
}

TEST_CASE("a status written without a flush is visible at once; sync_meta() flushes that file") {
    TempState t;
    Session s = Session::create("/p", {"true"});
    s.set_status("staged", /*durable=*/false);
    CHECK(!fs::exists(s.dir() + "/meta.json.tmp"));
    CHECK(Session::open(s.meta().id, "/p").meta().status == "staged");
    s.sync_meta();
    // sync_meta() opens meta.json itself: without it there is nothing durable to claim.
    s.set_status("failed", /*durable=*/false);
    fs::remove(s.dir() + "/meta.json");
    CHECK_THROWS(s.sync_meta());
}

ino_t inode_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_ino;
}

TEST_CASE("a shorter status without a flush is written in place; a longer one or a durable one "
          "replaces the file") {
    TempState t;
    Session s = Session::create("/p", {"true"});
    const std::string meta = s.dir() + "/meta.json";
    const ino_t first = inode_of(meta);
    const auto size = fs::file_size(meta);
    s.set_status("empty", /*durable=*/false);  // shorter than "running"
    CHECK(inode_of(meta) == first);
    CHECK(fs::file_size(meta) == size);  // padded: the one sector is rewritten whole
    CHECK(slurp(meta).back() == '\n');
    CHECK(Session::open(s.meta().id, "/p").meta().status == "empty");
    s.sync_meta();

    s.set_status("discarded", /*durable=*/false);  // longer: a new file, renamed over
    CHECK(inode_of(meta) != first);
    CHECK(Session::open(s.meta().id, "/p").meta().status == "discarded");
    const ino_t second = inode_of(meta);
    s.set_status("staged");  // durable: always the rename
    CHECK(inode_of(meta) != second);
    CHECK(Session::open(s.meta().id, "/p").meta().status == "staged");
}

TEST_CASE("a session whose command line is megabytes long is read back whole") {
    TempState t;
    const std::string prompt(3u << 20, 'x');  // more than ARG_MAX's default; \u escapes too
    Session s = Session::create("/p", {"agent", prompt, std::string(1000, '\x01')});
    const Session o = Session::open(s.meta().id, "/p");
    REQUIRE(o.meta().argv.size() == 3);
    CHECK(o.meta().argv[1] == prompt);
}

TEST_CASE("open() finds a unique prefix, refuses an ambiguous one and names the candidates") {
    TempState t;
    const Session a = Session::create("/p", {"a"});
    const Session b = Session::create("/p", {"b"});
    // Both were made within the same few milliseconds: same date prefix.
    const std::string common = a.meta().id.substr(0, 8);
    REQUIRE(b.meta().id.substr(0, 8) == common);
    try {
        (void)Session::open(common, "/p");
        FAIL("an ambiguous prefix was accepted");
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("ambiguous") != std::string::npos);
        CHECK(msg.find(a.meta().id) != std::string::npos);
        CHECK(msg.find(b.meta().id) != std::string::npos);
    }
    CHECK(Session::open(a.meta().id, "").meta().argv == std::vector<std::string>{"a"});
    CHECK(Session::open(b.meta().id.substr(0, 22), "").meta().argv ==
          std::vector<std::string>{"b"});  // unique unless the random suffixes share 5 digits
    CHECK_THROWS_AS((void)Session::open("19990101", "/p"), std::runtime_error);
}

TEST_CASE("open(\"\") is the newest session of that project; list is oldest first") {
    TempState t;
    const Session first = Session::create("/p", {"1"});
    const Session other = Session::create("/q", {"2"});
    const Session last = Session::create("/p", {"3"});
    CHECK(Session::open("", "/p").meta().id == last.meta().id);
    CHECK(Session::open("", "/q").meta().id == other.meta().id);
    CHECK_THROWS_AS((void)Session::open("", "/none"), std::runtime_error);

    const auto all = list_sessions();
    REQUIRE(all.size() == 3);
    CHECK(all[0].id == first.meta().id);
    CHECK(all[1].id == other.meta().id);
    CHECK(all[2].id == last.meta().id);
}

TEST_CASE("a session with an unreadable meta.json is listed as broken, not forgotten") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    {
        std::ofstream out(s.dir() + "/meta.json", std::ios::trunc);
        out << "{ not json";
    }
    const auto all = list_sessions();
    REQUIRE(all.size() == 1);
    CHECK(all[0].id == s.meta().id);
    CHECK(all[0].status == "broken");
}

TEST_CASE("list ignores directories that are not session ids") {
    TempState t;
    (void)Session::create("/p", {"x"});
    fs::create_directories(t.root + "/state/agentbox/sessions/not-a-session");
    CHECK(list_sessions().size() == 1);
}

TEST_CASE("has_staged() sees one entry in upper/ whatever its name, and none in an empty one") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    CHECK_FALSE(agentbox::stage::has_staged(s.meta().id));
    // A name long enough that it and "." and ".." do not share the first small read, and one
    // that sorts before both.
    std::ofstream(s.upper() + "/" + std::string(250, 'n')) << "x";
    CHECK(agentbox::stage::has_staged(s.meta().id));
    fs::remove(s.upper() + "/" + std::string(250, 'n'));
    fs::create_directory(s.upper() + "/-");
    CHECK(agentbox::stage::has_staged(s.meta().id));
    CHECK_FALSE(agentbox::stage::has_staged("20000101T000000Z-000000"));
}

TEST_CASE("open_listed() opens the session list_sessions() read, and refuses a broken one") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    const auto all = list_sessions();
    REQUIRE(all.size() == 1);
    const Session o = Session::open_listed(all[0]);
    CHECK(o.dir() == s.dir());
    CHECK(o.meta().argv == std::vector<std::string>{"x"});
    {
        std::ofstream out(s.dir() + "/meta.json", std::ios::trunc);
        out << "{ not json";
    }
    CHECK_THROWS_AS((void)Session::open_listed(list_sessions().at(0)), std::runtime_error);
}

// --- the project index (session.cpp): a hint of which meta.json files to read, never the
// authority on which sessions exist.

namespace {

using agentbox::stage::list_project_sessions;

std::string index_of(const TempState& t) { return t.root + "/state/agentbox/session-index"; }

// The index entries of session `id` (file names).
std::vector<std::string> entries_of(const TempState& t, const std::string& id) {
    std::vector<std::string> out;
    if (!fs::exists(index_of(t))) return out;
    for (const auto& e : fs::directory_iterator(index_of(t)))
        if (e.path().filename().string().starts_with(id + "."))
            out.push_back(e.path().filename().string());
    return out;
}

std::vector<std::string> ids_of(const std::vector<agentbox::stage::Meta>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(m.id);
    return out;
}

}  // namespace

TEST_CASE("a project's sessions are found through the index, oldest first, and no other's") {
    TempState t;
    const Session a1 = Session::create("/a", {"1"});
    const Session b = Session::create("/b", {"2"});
    const Session a2 = Session::create("/a", {"3"});
    CHECK(entries_of(t, a1.meta().id).size() == 1);
    CHECK(entries_of(t, b.meta().id).size() == 1);
    CHECK(ids_of(list_project_sessions("/a")) ==
          std::vector<std::string>{a1.meta().id, a2.meta().id});
    CHECK(ids_of(list_project_sessions("/b")) == std::vector<std::string>{b.meta().id});
    CHECK(list_project_sessions("/c").empty());
    CHECK(Session::open("", "/a").meta().id == a2.meta().id);
}

TEST_CASE("a run killed before its index entry was written leaves a session still found, "
          "indexed at the next look") {
    TempState t;
    // Killed between its meta.json and its entry; or made by an agentbox from before the
    // index: the same state on disk.
    const Session s = Session::create("/p", {"x"});
    const Session other = Session::create("/q", {"y"});
    for (const auto& name : entries_of(t, s.meta().id)) fs::remove(index_of(t) + "/" + name);
    REQUIRE(entries_of(t, s.meta().id).empty());
    CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{s.meta().id});
    CHECK(entries_of(t, s.meta().id).size() == 1);
    CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{s.meta().id});
    CHECK(ids_of(list_project_sessions("/q")) == std::vector<std::string>{other.meta().id});
}

TEST_CASE("a state directory from before the index: every session is found, and indexed") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    const Session q = Session::create("/q", {"y"});
    fs::remove_all(index_of(t));
    CHECK(ids_of(list_project_sessions("/q")) == std::vector<std::string>{q.meta().id});
    CHECK(entries_of(t, s.meta().id).size() == 1);
    CHECK(entries_of(t, q.meta().id).size() == 1);
    CHECK(Session::open("", "/p").meta().id == s.meta().id);
}

TEST_CASE("a session being made is not listed until its meta.json is written, then found") {
    TempState t;
    Session s = Session::create_unrecorded("/p", {"x"}, {}, agentbox::stage::Staged::overlay);
    // No meta.json, no entry; its run holds run.lock: neither listed nor removed.
    CHECK(entries_of(t, s.meta().id).empty());
    CHECK(list_sessions().empty());
    CHECK(list_project_sessions("/p").empty());
    CHECK(fs::exists(s.dir() + "/upper"));
    s.record_start();
    CHECK(entries_of(t, s.meta().id).size() == 1);
    CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{s.meta().id});
}

TEST_CASE("a session whose run was killed before its meta.json is removed, never listed broken") {
    TempState t;
    std::string dir, id;
    {
        Session s = Session::create_unrecorded("/p", {"x"}, {}, agentbox::stage::Staged::overlay);
        dir = s.dir();
        id = s.meta().id;
        (void)s.hold_run_lock();  // released at once: the run is gone
    }
    REQUIRE(fs::exists(dir));
    CHECK(list_sessions().empty());
    CHECK(!fs::exists(dir));
    CHECK_THROWS_WITH(Session::open(id, ""), doctest::Contains("no session matches"));
    // One that lost its meta.json after it was recorded (it has its log) is kept, broken.
    Session r = Session::create("/p", {"y"});
    { std::ofstream(r.log_path()) << "{}\n"; }
    fs::remove(r.dir() + "/meta.json");
    REQUIRE(list_sessions().size() == 1);
    CHECK(list_sessions()[0].status == "broken");
    CHECK(fs::exists(r.dir() + "/upper"));
}

TEST_CASE("what a run killed before its session had its id left is removed by the next look") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    const std::string parent = fs::path(s.dir()).parent_path();
    const std::string left = parent + "/.new-20200101T000000Z-abcdef";
    fs::create_directories(left + "/upper");
    { std::ofstream(left + "/run.lock"); }
    // A link under that name is not followed: what it points to stays.
    const std::string target = t.root + "/elsewhere";
    fs::create_directories(target + "/upper");
    fs::create_directory_symlink(target, parent + "/.new-20200101T000000Z-fedcba");
    CHECK(agentbox::stage::session_ids() == std::vector<std::string>{s.meta().id});
    CHECK(!fs::exists(left));
    CHECK(fs::exists(target + "/upper"));
}

TEST_CASE("an index entry is only a reason to read: a forged meta.json under the project's "
          "entry is not the project's session") {
    TempState t;
    const Session real = Session::create("/p", {"x"});
    const Session forged = Session::create("/p", {"y"});
    {
        std::ofstream out(forged.dir() + "/meta.json", std::ios::trunc);
        out << R"({"v":1,"id":")" << forged.meta().id << R"(","project":"/p"})" << "\n";
    }
    REQUIRE(entries_of(t, forged.meta().id).size() == 1);
    CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{real.meta().id});
    CHECK(Session::open("", "/p").meta().id == real.meta().id);
}

TEST_CASE("an entry under the project's key for another project's session (a hash collision) "
          "and an entry for a removed session change nothing") {
    TempState t;
    const Session p = Session::create("/p", {"x"});
    const Session q = Session::create("/q", {"y"});
    const std::string p_entry = entries_of(t, p.meta().id).at(0);
    const std::string key = p_entry.substr(p_entry.find('.'));
    std::ofstream(index_of(t) + "/" + q.meta().id + key).flush();
    std::ofstream(index_of(t) + "/20000101T000000Z-000000" + key).flush();
    CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{p.meta().id});
    CHECK(ids_of(list_project_sessions("/q")) == std::vector<std::string>{q.meta().id});
}

TEST_CASE("an entry moved under another project's key does not hide the session: its tag does "
          "not verify there, so the session is read, and indexed again under its own") {
    TempState t;
    const Session p = Session::create("/p", {"x"});
    const Session q = Session::create("/q", {"y"});
    const std::string p_entry = entries_of(t, p.meta().id).at(0);
    const std::string q_entry = entries_of(t, q.meta().id).at(0);
    const std::string key_and_tag = q_entry.substr(q_entry.find('.'));
    // With q's tag, and with p's own tag under q's key: neither is agentbox's entry.
    for (const std::string& forged :
         {p.meta().id + key_and_tag,
          p.meta().id + key_and_tag.substr(0, 17) + p_entry.substr(p_entry.rfind('.'))}) {
        for (const auto& name : entries_of(t, p.meta().id)) fs::remove(index_of(t) + "/" + name);
        std::ofstream(index_of(t) + "/" + forged).flush();
        CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{p.meta().id});
        CHECK(entries_of(t, p.meta().id) == std::vector<std::string>{p_entry});
        CHECK(ids_of(list_project_sessions("/q")) == std::vector<std::string>{q.meta().id});
    }
    // q's genuine entry keeps q's session from being read for /p: still one entry each.
    CHECK(entries_of(t, q.meta().id) == std::vector<std::string>{q_entry});
}

TEST_CASE("an entry of an agentbox from before the tag is replaced by a tagged one") {
    TempState t;
    const Session p = Session::create("/p", {"x"});
    const std::string entry = entries_of(t, p.meta().id).at(0);
    const std::string untagged = entry.substr(0, entry.rfind('.'));
    fs::rename(index_of(t) + "/" + entry, index_of(t) + "/" + untagged);
    CHECK(ids_of(list_project_sessions("/p")) == std::vector<std::string>{p.meta().id});
    CHECK(entries_of(t, p.meta().id) == std::vector<std::string>{entry});
}

TEST_CASE("unindex_session() removes the entry of a removed session") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    REQUIRE(entries_of(t, s.meta().id).size() == 1);
    agentbox::stage::unindex_session(s.meta());
    CHECK(entries_of(t, s.meta().id).empty());
}

TEST_CASE("a prefix is matched against the session directories without reading them") {
    TempState t;
    const Session s = Session::create("/p", {"x"});
    CHECK(agentbox::stage::session_ids() == std::vector<std::string>{s.meta().id});
    CHECK(Session::open(s.meta().id.substr(0, 20), "").meta().id == s.meta().id);
}
