// Session files agentbox acts on carry its MAC: a meta.json, journal, commit record or
// touched.json that a sandbox wrote (or copied from another session) is never acted on, and
// nothing is written into a project directory other than the one the session was made for.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "stage/commit.hpp"
#include "stage/session.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using namespace agentbox::stage;

namespace {

struct World {
    agentbox::test::TempDir tmp{"auth-test"};
    std::string root = tmp.path(), project;
    World() {
        project = root + "/project";
        ::setenv("XDG_STATE_HOME", (root + "/state").c_str(), 1);
        ::setenv("XDG_CONFIG_HOME", (root + "/config").c_str(), 1);
        fs::create_directories(project);
        spit(project + "/.bashrc", "host\n");
    }
    ~World() {
        ::unsetenv("XDG_STATE_HOME");
        ::unsetenv("XDG_CONFIG_HOME");
    }
    static void spit(const std::string& p, const std::string& text) {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << text;
    }
    static std::string slurp(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    // A staged session whose upper/ replaces .bashrc.
    Session staged() {
        Session s = Session::create(project, {"sh"});
        spit(s.upper() + "/.bashrc", "forged\n");
        s.set_status("staged");
        return s;
    }
};

// The journal a crashed commit of .bashrc would leave, in commit.cpp's format, "applying".
const char* kApplying =
    "{\"v\":1,\"kind\":\"commit\",\"number\":1,\"state\":\"applying\",\"ops\":"
    "[{\"op\":\"put\",\"path\":\".bashrc\",\"n\":1}]}\n";

}  // namespace

TEST_CASE("test_forged_session_journal_is_not_replayed") {
    World w;
    Session s = w.staged();
    SUBCASE("a plain journal, as a sandbox writes it") {
        World::spit(s.dir() + "/journal", kApplying);
    }
    SUBCASE("a journal sealed for another session, copied in") {
        Session other = w.staged();
        World::spit(s.dir() + "/journal", seal_session_file(other.dir(), "journal", kApplying));
    }
    SUBCASE("a sealed commit record renamed into the journal") {
        World::spit(s.dir() + "/journal", seal_session_file(s.dir(), "commits/1.json", kApplying));
    }
    CHECK_THROWS_AS(recover(s), Unauthenticated);
    CHECK_THROWS_AS(commit(s, {}), Unauthenticated);
    CHECK_THROWS_AS(undo(s, true), Unauthenticated);
    CHECK(World::slurp(w.project + "/.bashrc") == "host\n");
}

TEST_CASE("a journal agentbox sealed is replayed (the check is not a blanket refusal)") {
    World w;
    Session s = w.staged();
    write_authenticated(s.dir(), "journal", kApplying);
    CHECK(recover(s));
    CHECK(World::slurp(w.project + "/.bashrc") == "forged\n");
}

TEST_CASE("a forged meta.json makes the session broken, with the reason, and never opened") {
    World w;
    Session s = w.staged();
    const std::string id = s.meta().id;
    std::string text = World::slurp(s.dir() + "/meta.json");
    // The attacker's edit: the project becomes somewhere else, the MAC trailer dropped.
    text = text.substr(0, text.find("#agentbox-mac"));
    World::spit(s.dir() + "/meta.json", text);
    const auto all = list_sessions();
    REQUIRE(all.size() == 1);
    CHECK(all[0].id == id);
    CHECK(all[0].status == "broken");
    CHECK(all[0].broken.find("no MAC") != std::string::npos);
    CHECK_THROWS_WITH_AS(Session::open(id, ""), doctest::Contains("broken"), std::runtime_error);
}

TEST_CASE("meta.json round-trips sealed, and the in-place rewrite keeps it verifiable") {
    World w;
    Session s = w.staged();
    s.set_status("empty", /*durable=*/false);  // shorter: rewritten in place, padded
    const auto all = list_sessions();
    REQUIRE(all.size() == 1);
    CHECK(all[0].status == "empty");
    CHECK(all[0].broken.empty());
    s.record_log_head(5, std::string(64, 'b'));
    const Session again = Session::open(s.meta().id, "");
    CHECK(again.meta().log_seq == 5);
    CHECK(again.meta().log_hash == std::string(64, 'b'));
}

TEST_CASE("recovery writes only into the project directory the session was created for") {
    World w;
    Session s = w.staged();
    write_authenticated(s.dir(), "journal", kApplying);
    // The project path now names another directory (the original moved away).
    fs::rename(w.project, w.root + "/moved");
    fs::create_directories(w.project);
    World::spit(w.project + "/.bashrc", "other\n");
    CHECK_THROWS_WITH(recover(s), doctest::Contains("no longer the directory"));
    CHECK(World::slurp(w.project + "/.bashrc") == "other\n");
    CHECK(World::slurp(w.root + "/moved/.bashrc") == "host\n");
}

TEST_CASE("a touched.json agentbox did not write exempts nothing from the conflict check") {
    World w;
    Session s = w.staged();
    // The host edits .bashrc after the session started...
    ::usleep(20000);
    World::spit(w.project + "/.bashrc", "host edit\n");
    struct stat st {};
    REQUIRE(::stat((w.project + "/.bashrc").c_str(), &st) == 0);
    const long long c = static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
    // ...and a forged touched.json claims agentbox wrote it then.
    World::spit(s.dir() + "/touched.json", "{\".bashrc\":" + std::to_string(c) + "}\n");
    const auto cs = changes(s.upper(), w.project);
    CHECK(find_conflicts(s, cs).size() == 1);
}
