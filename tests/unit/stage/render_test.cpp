// --stat (checked against git's own --stat on the same change), --name-status, JSON, and the
// escaping that keeps hostile file names from driving the terminal.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <string>

#include "stage/patch.hpp"
#include "tree_fixture.hpp"

using namespace agentbox::stage;
using namespace agentbox::stage::test;

namespace {

Change make(const std::string& path, Kind k, mode_t old_mode, mode_t new_mode) {
    Change c;
    c.path = path;
    c.kind = k;
    c.old_mode = old_mode;
    c.new_mode = new_mode;
    return c;
}

std::string numbered(int n, const std::string& tag) {
    std::string s;
    for (int i = 1; i <= n; ++i) s += tag + std::to_string(i) + "\n";
    return s;
}

// A change set of every kind with plain names, sorted as git sorts (byte order).
void build_mixed(Trees& t) {
    Trees::file(t.project, "a.txt", numbered(30, "a"));
    std::string a = numbered(30, "a");
    a.replace(a.find("a3\n"), 3, "A3\nA3b\n");
    Trees::file(t.upper, "a.txt", a);
    Trees::file(t.upper, "added-many.txt", numbered(150, "new "));
    Trees::file(t.project, "bin.dat", std::string("\0\1\2\3", 4));
    Trees::file(t.upper, "bin.dat", std::string("\0\1\2\3\4\5\6", 7));
    Trees::file(t.project, "gone/one", "1\n");
    Trees::file(t.project, "gone/two", "2\n2\n");
    Trees::link(t.project, "link", "a.txt");
    Trees::file(t.upper, "link", "a file now\n");
    Trees::file(t.project, "run.sh", "echo\n", 0644);
    Trees::file(t.upper, "run.sh", "echo\n", 0755);
    Trees::file(t.upper, "some/deeply/nested/directory/with-a-rather-long-file-name.txt", "x\n");
    t.change(Kind::modified, "a.txt");
    t.change(Kind::added, "added-many.txt");
    t.change(Kind::modified, "bin.dat");
    t.change(Kind::deleted, "gone");
    t.change(Kind::type, "link");
    t.change(Kind::mode, "run.sh");
    t.change(Kind::added, "some/deeply/nested/directory/with-a-rather-long-file-name.txt");
}

// git's --stat for the same change: the project committed to a repository, our binary patch
// applied to the index.
std::string git_stat(Trees& t, int width) {
    const std::string repo = t.root + "/repo";
    Trees::copy_tree(t.project, repo);
    spit(t.root + "/p.patch", patch(t.changes, t.upper, t.project, {.binary = true}));
    const std::string env = "cd '" + repo + "' && GIT_CEILING_DIRECTORIES='" + t.root + "' ";
    REQUIRE(sh(env + "git init -q . && git add -A && git -c user.name=t -c user.email=t@t "
                     "commit -qm base && git apply --index ../p.patch && git diff --cached "
                     "--stat=" + std::to_string(width) + " > ../git.stat") == 0);
    return slurp(t.root + "/git.stat");
}

}  // namespace

TEST_CASE("stat: same text as git diff --stat, at 80 columns and narrow") {
    for (const int width : {80, 50, 30}) {
        Trees t;
        build_mixed(t);
        const std::string ours = stat(t.changes, t.upper, t.project, width);
        INFO("width ", width, "\nours:\n", ours);
        CHECK(ours == git_stat(t, width));
        if (width == 80) check_golden("patches/mixed.stat", ours);
    }
}

TEST_CASE("stat: binary sizes and the summary's singular forms") {
    Trees t;
    Trees::file(t.upper, "b", std::string("\0\0", 2));
    t.change(Kind::added, "b");
    CHECK(stat(t.changes, t.upper, t.project) ==
          " b | Bin 0 -> 2 bytes\n 1 file changed, 0 insertions(+), 0 deletions(-)\n");
    Trees u;
    Trees::file(u.project, "x", "1\n");
    Trees::file(u.upper, "x", "2\n");
    u.change(Kind::modified, "x");
    CHECK(stat(u.changes, u.upper, u.project) ==
          " x | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n");
    CHECK(stat({}, u.upper, u.project).empty());
}

TEST_CASE("name_status: a letter and the escaped path, directories with a slash") {
    const std::vector<Change> cs = {
        make("added-dir", Kind::added, 0, S_IFDIR | 0755),
        make("m.c", Kind::modified, S_IFREG | 0644, S_IFREG | 0644),
        make("src", Kind::deleted, S_IFDIR | 0755, 0),
        make("opaque", Kind::replaced, S_IFDIR | 0755, S_IFDIR | 0755),
        make("x.sh", Kind::mode, S_IFREG | 0644, S_IFREG | 0755),
        make("evil\x1b[2J\nname", Kind::type, S_IFREG | 0644, S_IFLNK | 0777),
    };
    CHECK(name_status(cs) ==
          "A\tadded-dir/\nM\tm.c\nD\tsrc/\nR\topaque/\nM\tx.sh\nT\tevil\\x1b[2J\\nname\n");
}

TEST_CASE("to_json: the documented shape, and invalid UTF-8 never breaks the JSON") {
    std::vector<Change> cs = {make("key", Kind::added, 0, S_IFLNK | 0777),
                              make("bad\xff\xfename", Kind::modified, S_IFREG | 0644,
                                   S_IFREG | 04755)};
    cs[0].size = 19;
    cs[0].link_target = "/home/u/.ssh/id_rsa";
    cs[0].link_outside = true;
    cs[1].size = 3;
    cs[1].hash = std::string(32, 'a');
    cs[1].setid = true;
    const std::string text = to_json(cs);
    check_golden("patches/changes.json", text);
    const auto j = nlohmann::json::parse(text);
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 2);
    CHECK(j[0]["kind"] == "added");
    CHECK(j[0]["old_mode"].is_null());
    CHECK(j[0]["new_mode"] == "120777");
    CHECK(j[0]["link_outside"] == true);
    CHECK(j[0]["hash"].is_null());
    CHECK(j[0]["refused"].is_null());
    CHECK_FALSE(j[0].contains("path_hex"));
    CHECK(j[1]["path_hex"] == "626164fffe6e616d65");
    CHECK(j[1]["new_mode"] == "104755");
    CHECK(j[1]["setid"] == true);
    CHECK(j[1]["link_target"].is_null());
}

TEST_CASE("escape_for_terminal: a file name cannot move the cursor, retitle or recolour") {
    // OSC window title, CSI clear screen, SGR colour, cursor up: all shown, none acted on.
    CHECK(escape_for_terminal("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07");
    CHECK(escape_for_terminal("a\x1b[2Jb\x1b[31mred\x1b[1A") ==
          "a\\x1b[2Jb\\x1b[31mred\\x1b[1A");
    CHECK(escape_for_terminal("tab\tnl\ncr\rdel\x7f") == "tab\\tnl\\ncr\\rdel\\x7f");
    // C1 CSI (U+009B) as UTF-8, and as a lone byte (invalid UTF-8).
    CHECK(escape_for_terminal("x\xc2\x9b" "2Jy") == "x\\u009b2Jy");
    CHECK(escape_for_terminal("x\x9b" "2J") == "x\\x9b2J");
}

TEST_CASE("escape_for_terminal: bidi overrides cannot disguise a name (Trojan Source)") {
    // "txt.exe" displayed as "exe.txt" by U+202E RIGHT-TO-LEFT OVERRIDE.
    CHECK(escape_for_terminal("invoice\xe2\x80\xaetxt.exe") == "invoice\\u202etxt.exe");
    CHECK(escape_for_terminal("zero\xe2\x80\x8bwidth") == "zero\\u200bwidth");
}

TEST_CASE("escape_for_terminal: a backslash in the name cannot forge an escape") {
    CHECK(escape_for_terminal("a\\x1b") == "a\\\\x1b");
    CHECK(escape_for_terminal("a\\x1b") != escape_for_terminal("a\x1b"));
}

TEST_CASE("escape_for_terminal: valid UTF-8 kept, invalid and overlong forms escaped") {
    CHECK(escape_for_terminal("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x81") ==
          "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x81");
    CHECK(escape_for_terminal("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
    CHECK(escape_for_terminal("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // surrogate
    CHECK(escape_for_terminal("\xe6\x97") == "\\xe6\\x97");          // truncated
    CHECK(escape_for_terminal(std::string("a\0b", 3)) == "a\\x00b");
}

TEST_CASE("escape_text_for_terminal: keeps lines and tabs, escapes the rest") {
    CHECK(escape_text_for_terminal("+a\tb\n-\x1b[31mred\n") == "+a\tb\n-\\x1b[31mred\n");
}

TEST_CASE("kind names and letters") {
    CHECK(std::string(kind_name(Kind::replaced)) == "replaced");
    CHECK(std::string(kind_name(Kind::type)) == "type");
    CHECK(kind_letter(Kind::added) == 'A');
    CHECK(kind_letter(Kind::deleted) == 'D');
    CHECK(kind_letter(Kind::mode) == 'M');
    CHECK(kind_letter(Kind::type) == 'T');
}
