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

TEST_CASE("test_world_writable_mode_is_shown_and_flagged: name-status flags a loose staged mode") {
    const std::vector<Change> cs = {
        make("f", Kind::mode, S_IFREG | 0644, S_IFREG | 0666),
        make("g", Kind::mode, S_IFREG | 0644, S_IFREG | 0646),
        make("d", Kind::added, 0, S_IFDIR | 0777),
    };
    const std::string ns = name_status(cs);
    CHECK(ns.find("M\tf\t(staged mode 100666: group/world-writable; commit writes 100644)\n") !=
          std::string::npos);
    CHECK(ns.find("M\tg\t(staged mode 100646: group/world-writable; commit writes 100644)\n") !=
          std::string::npos);
    CHECK(ns.find("A\td/\t(staged mode 040777: group/world-writable; commit writes 040") !=
          std::string::npos);
    const auto j = nlohmann::json::parse(to_json(cs));
    CHECK(j[0]["loose_mode"] == true);
    CHECK(j[0]["staged_mode"] == "100666");
    CHECK(j[0]["new_mode"] == "100644");
}

TEST_CASE("landing_mode: commit writes only what the diff can show") {
    // New files and directories: git's modes less the umask.
    CHECK(landing_mode(S_IFREG | 0666, 0, 022) == 0644);
    CHECK(landing_mode(S_IFREG | 0777, 0, 022) == 0755);
    CHECK(landing_mode(S_IFREG | 0700, 0, 002) == 0775);
    CHECK(landing_mode(S_IFREG | 04755, 0, 022) == 0755);  // never setid
    CHECK(landing_mode(S_IFDIR | 0777, 0, 022) == 0755);
    // An existing file whose x bit is unchanged keeps its bits (the diff shows no mode change).
    CHECK(landing_mode(S_IFREG | 0666, S_IFREG | 0600, 022) == 0600);
    CHECK(landing_mode(S_IFREG | 0646, S_IFREG | 0644, 022) == 0644);
    // The x bit changed: the diff shows old/new mode, git's bits land.
    CHECK(landing_mode(S_IFREG | 0777, S_IFREG | 0600, 022) == 0755);
    // An existing directory keeps its bits; a file replacing a directory is new.
    CHECK(landing_mode(S_IFDIR | 0777, S_IFDIR | 0750, 022) == 0750);
    CHECK(landing_mode(S_IFREG | 0666, S_IFDIR | 0755, 022) == 0644);
    CHECK(loose_mode(S_IFREG | 0646));
    CHECK(loose_mode(S_IFREG | 0664));
    CHECK_FALSE(loose_mode(S_IFREG | 0644));
    CHECK_FALSE(loose_mode(S_IFLNK | 0777));
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
    CHECK_FALSE(j[0].contains("path_base64"));
    // A name that is not UTF-8: shown with U+FFFD, exact in base64 (util/json_text.hpp).
    CHECK(j[1]["path"] == "bad\xef\xbf\xbd\xef\xbf\xbdname");
    CHECK(j[1]["path_base64"] == "YmFk//5uYW1l");
    // What commit writes: no setid bits, the project's bits as the x bit is unchanged... here
    // it changed (0644 -> 0755), so git's 0777 less the umask.
    CHECK(j[1]["staged_mode"] == "104755");
    CHECK(j[1]["new_mode"].get<std::string>().starts_with("1007"));
    CHECK(j[1]["setid"] == true);
    CHECK(j[1]["link_target"].is_null());
}

TEST_CASE("kind names and letters") {
    CHECK(std::string(kind_name(Kind::replaced)) == "replaced");
    CHECK(std::string(kind_name(Kind::type)) == "type");
    CHECK(kind_letter(Kind::added) == 'A');
    CHECK(kind_letter(Kind::deleted) == 'D');
    CHECK(kind_letter(Kind::mode) == 'M');
    CHECK(kind_letter(Kind::type) == 'T');
}

TEST_CASE("branch moves: each on the change that moves it, names escaped for the terminal") {
    BranchMove b;
    b.change = "sub/.git/refs/heads/main";
    b.git_dir = "sub/.git";
    b.name = "refs/heads/main";
    b.new_id = std::string(40, 'b');
    b.move.readable = true;
    b.move.commits = {"bbbbbbb tidy \x1b[2J up"};
    b.move.paths = {".github/workflows/ci.yml", "README"};
    b.move.status = "AM";
    BranchMove broken = b;
    broken.name = "HEAD";
    broken.old_id = std::string(40, 'a');
    broken.move = {};
    broken.move.error = "git could not read the objects (missing or malformed)";
    const std::vector<BranchMove> moves{b, broken};

    const std::string text = branch_moves_text(moves);
    CHECK(text ==
          "branch refs/heads/main of sub/.git moves (new) -> bbbbbbbbbbbb, 1 commit(s):\n"
          "    bbbbbbb tidy \\x1b[2J up\n"
          "  A sub/.github/workflows/ci.yml\n"
          "  M sub/README\n"
          "branch HEAD of sub/.git moves aaaaaaaaaaaa -> bbbbbbbbbbbb: git cannot read its "
          "commits (git could not read the objects (missing or malformed))\n");
    CHECK(branch_moves_text({}).empty());

    const std::vector<Change> cs{make("README", Kind::modified, S_IFREG | 0644, S_IFREG | 0644),
                                 make(b.change, Kind::modified, S_IFREG | 0644, S_IFREG | 0644)};
    const auto j = nlohmann::json::parse(to_json(cs, &moves));
    CHECK(j[0]["refs"].empty());
    REQUIRE(j[1]["refs"].size() == 2);
    const auto& r = j[1]["refs"][0];
    CHECK(r["git_dir"] == "sub/.git");
    CHECK(r["name"] == "refs/heads/main");
    CHECK(r["from"].is_null());
    CHECK(r["to"] == std::string(40, 'b'));
    CHECK(r["readable"] == true);
    CHECK(r["error"].is_null());
    CHECK(r["commits"][0]["id"] == "bbbbbbb");
    CHECK(r["commits"][0]["subject"] == "tidy \x1b[2J up");
    CHECK(r["paths"][0]["status"] == "A");
    CHECK(r["paths"][0]["path"] == "sub/.github/workflows/ci.yml");
    CHECK(j[1]["refs"][1]["readable"] == false);
    CHECK(j[1]["refs"][1]["from"] == std::string(40, 'a'));
    // Without moves (export's manifest), no `refs` member.
    CHECK_FALSE(nlohmann::json::parse(to_json(cs))[0].contains("refs"));
}
