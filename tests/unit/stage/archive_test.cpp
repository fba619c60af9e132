// export_archive: entries, modes and manifest read back with GNU tar; compression formats;
// atomic creation (no partial file, no overwrite unless asked).
#include "stage/archive.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "sys/error.hpp"
#include "tree_fixture.hpp"

using namespace agentbox::stage;
using namespace agentbox::stage::test;

namespace {

// A change set of every kind over small trees.
void build(Trees& t) {
    Trees::file(t.project, "mod.txt", "old\n");
    Trees::file(t.upper, "mod.txt", "new\n");
    Trees::file(t.upper, "suid-tool", "#!/bin/sh\n", 04755);
    Trees::dir(t.upper, "newdir", 0750);
    Trees::file(t.upper, "newdir/inner", "inner\n", 0600);
    Trees::link(t.upper, "key", "/home/u/.ssh/id_rsa");
    Trees::file(t.project, "gone/x", "x\n");
    Trees::file(t.project, "f2l", "file\n");
    Trees::link(t.upper, "f2l", "mod.txt");
    REQUIRE(::mkfifo((t.upper + "/fifo").c_str(), 0644) == 0);
    t.change(Kind::type, "f2l");
    t.change(Kind::added, "fifo").refused = "fifo";
    t.change(Kind::deleted, "gone");
    t.change(Kind::added, "key").link_outside = true;
    t.change(Kind::modified, "mod.txt");
    t.change(Kind::added, "newdir");
    t.change(Kind::added, "newdir/inner");
    t.change(Kind::added, "suid-tool").setid = true;
}

std::string extract(Trees& t, const std::string& archive) {
    const std::string x = t.root + "/x";
    fs::create_directories(x);
    REQUIRE(sh("tar -xpf '" + archive + "' -C '" + x + "'") == 0);
    return x;
}

mode_t perms(const std::string& p) { return Trees::lmode(p) & 07777; }

}  // namespace

TEST_CASE("export: files/ holds the new content, modes kept, manifest has every change") {
    Trees t;
    build(t);
    const std::string out = t.root + "/out.tar";
    export_archive(t.changes, t.upper, out, Format::from_name, R"({"id":"s1","argv":["sh"]})");

    // manifest.json comes first, so a reader can stop there.
    REQUIRE(sh("tar -tf '" + out + "' | head -1 | grep -qx manifest.json") == 0);
    const std::string x = extract(t, out);
    CHECK(slurp(x + "/files/mod.txt") == "new\n");
    CHECK(slurp(x + "/files/newdir/inner") == "inner\n");
    CHECK(perms(x + "/files/newdir/inner") == 0600);
    CHECK(perms(x + "/files/newdir") == 0750);
    CHECK(fs::read_symlink(x + "/files/key") == "/home/u/.ssh/id_rsa");
    CHECK(fs::read_symlink(x + "/files/f2l") == "mod.txt");
    CHECK_FALSE(fs::exists(x + "/files/gone"));

    const auto m = nlohmann::json::parse(slurp(x + "/manifest.json"));
    CHECK(m["agentbox_export"] == 1);
    CHECK(m["session"]["id"] == "s1");
    REQUIRE(m["changes"].size() == t.changes.size());
    CHECK(m["changes"][2]["path"] == "gone");
    CHECK(m["changes"][2]["kind"] == "deleted");
    CHECK(m["changes"][2]["old_mode"] == "040755");
    CHECK(m["changes"][3]["link_outside"] == true);
    CHECK(m["changes"][1]["refused"] == "fifo");
}

TEST_CASE("export: a setuid file is archived without its setuid bit") {
    Trees t;
    build(t);
    const std::string out = t.root + "/out.tar";
    export_archive(t.changes, t.upper, out);
    // tar -p as root would restore setuid if the archive carried it.
    const std::string x = extract(t, out);
    CHECK(perms(x + "/files/suid-tool") == 0755);
    CHECK(sh("tar -tvf '" + out + "' | grep suid-tool | grep -q '^-rwxr-xr-x'") == 0);
}

TEST_CASE("export: a fifo staged by the command is never archived") {
    Trees t;
    build(t);
    const std::string out = t.root + "/out.tar";
    export_archive(t.changes, t.upper, out);
    CHECK(sh("tar -tf '" + out + "' | grep -q fifo") != 0);
    CHECK(sh("tar -tvf '" + out + "' | grep -v '^[-dl]'") != 0);  // only files, dirs, links
}

TEST_CASE("export: .tar.gz and .tar.zst by suffix, or as asked") {
    Trees t;
    build(t);
    for (const auto& [name, magic] : {std::pair<std::string, std::string>{"a.tar.gz", "\x1f\x8b"},
                                      {"a.tgz", "\x1f\x8b"},
                                      {"a.tar.zst", "\x28\xb5\x2f\xfd"},
                                      {"a.tzst", "\x28\xb5\x2f\xfd"}}) {
        const std::string out = t.root + "/" + name;
        export_archive(t.changes, t.upper, out);
        INFO(name);
        CHECK(slurp(out).substr(0, magic.size()) == magic);
        CHECK(sh("tar -tf '" + out + "' | grep -qx files/mod.txt") == 0);
    }
    const std::string forced = t.root + "/no-suffix";
    export_archive(t.changes, t.upper, forced, Format::tar_zst);
    CHECK(slurp(forced).substr(0, 4) == "\x28\xb5\x2f\xfd");
    CHECK_THROWS_AS(export_archive(t.changes, t.upper, t.root + "/a.zip"), std::invalid_argument);
}

TEST_CASE("export: an existing file is kept unless overwrite is asked") {
    Trees t;
    build(t);
    const std::string out = t.root + "/out.tar";
    spit(out, "precious");
    try {
        export_archive(t.changes, t.upper, out);
        FAIL("no error");
    } catch (const agentbox::sys::SysError& e) {
        CHECK(e.err() == EEXIST);
    }
    CHECK(slurp(out) == "precious");
    export_archive(t.changes, t.upper, out, Format::from_name, "{}", true);
    CHECK(sh("tar -tf '" + out + "' | grep -qx files/mod.txt") == 0);
}

TEST_CASE("export: a failure leaves neither the archive nor a temporary file") {
    Trees t;
    build(t);
    // Staged as a file but gone from upper/ by the time of export.
    Change c;
    c.path = "vanished";
    c.kind = Kind::added;
    c.new_mode = S_IFREG | 0644;
    t.changes.push_back(c);
    const std::string dir = t.root + "/outdir";
    fs::create_directory(dir);
    CHECK_THROWS(export_archive(t.changes, t.upper, dir + "/out.tar"));
    CHECK(fs::is_empty(dir));
    CHECK_THROWS(export_archive({}, t.upper, dir + "/bad.tar", Format::from_name, "[1]"));
    CHECK(fs::is_empty(dir));
}

TEST_CASE("export: a symlinked directory planted in upper/ is not followed out of the tree") {
    Trees t;
    Trees::file(t.root, "secret/key", "SECRET\n");
    Trees::link(t.upper, "d", t.root + "/secret");
    Change c;
    c.path = "d/key";
    c.kind = Kind::added;
    c.new_mode = S_IFREG | 0644;
    t.changes.push_back(c);
    const std::string out = t.root + "/out.tar";
    CHECK_THROWS(export_archive(t.changes, t.upper, out));
    CHECK_FALSE(fs::exists(out));
}
