// The patch rendering: golden text for every kind of change, and for each one `git apply
// --check` then `git apply` on a copy of the original project, compared byte for byte with the
// tree a commit would leave.
#include "stage/patch.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "stage/gitblob.hpp"
#include "tree_fixture.hpp"

using namespace agentbox::stage;
using namespace agentbox::stage::test;

namespace {

// The first line a shell command prints (git hash-object).
std::string slurp_cmd(const std::string& cmd) {
    FILE* f = ::popen(cmd.c_str(), "r");
    REQUIRE(f != nullptr);
    char buf[256] = {};
    const bool got = std::fgets(buf, sizeof buf, f) != nullptr;
    ::pclose(f);
    REQUIRE(got);
    std::string s = buf;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string lines(int from, int to, const std::string& tag = "line") {
    std::string s;
    for (int i = from; i <= to; ++i) s += tag + " " + std::to_string(i) + "\n";
    return s;
}

// Golden-compare the patch, then check that git applies it to the original project and that
// the result is exactly the expected tree. Binary content needs `binary` (git diff --binary):
// a "Binary files differ" patch cannot be applied, by git either.
std::string check_applies(Trees& t, const std::string& name, bool binary = false) {
    const std::string text = patch(t.changes, t.upper, t.project);
    check_golden("patches/" + name + ".patch", text);
    const std::string applied = binary ? patch(t.changes, t.upper, t.project, {.binary = true}) : text;
    if (!binary) {
        // Without binary files the option changes nothing.
        CHECK(patch(t.changes, t.upper, t.project, {.binary = true}) == text);
    }
    const std::string work = t.root + "/work";
    Trees::copy_tree(t.project, work);
    spit(t.root + "/p.patch", applied);
    // GIT_CEILING_DIRECTORIES: never pick up a repository above the temp dir.
    const std::string git = "cd '" + work + "' && GIT_CEILING_DIRECTORIES='" + t.root +
                            "' git apply ";
    INFO("patch:\n", applied);
    REQUIRE(sh(git + "--check ../p.patch") == 0);
    REQUIRE(sh(git + "../p.patch") == 0);
    CHECK(listing(work) != listing(t.project));
    CHECK(listing(work) == listing(t.expected()));
    return text;
}

}  // namespace

TEST_CASE("patch: modified text file, two hunks with 3 lines of context") {
    Trees t;
    Trees::file(t.project, "src/a.txt", lines(1, 30));
    std::string now = lines(1, 30);
    now.replace(now.find("line 4\n"), 7, "line four\n");
    now.replace(now.find("line 25\n"), 8, "line 25\nline 25.5\n");
    Trees::file(t.upper, "src/a.txt", now);
    t.change(Kind::modified, "src/a.txt");
    const std::string p = check_applies(t, "modified");
    CHECK(p.find("@@ -1,7 +1,7 @@") != std::string::npos);
    CHECK(p.find("@@ -23,6 +23,7 @@") != std::string::npos);
}

TEST_CASE("patch: added files, in a new directory too") {
    Trees t;
    Trees::file(t.project, "keep", "k\n");
    Trees::file(t.upper, "new.txt", "hello\n");
    Trees::dir(t.upper, "d/e");
    Trees::file(t.upper, "d/e/x.sh", "#!/bin/sh\necho x\n", 0755);
    t.change(Kind::added, "d");
    t.change(Kind::added, "d/e");
    t.change(Kind::added, "d/e/x.sh");
    t.change(Kind::added, "new.txt");
    const std::string p = check_applies(t, "added");
    CHECK(p.find("new file mode 100755\n") != std::string::npos);
    CHECK(p.find("--- /dev/null\n+++ b/new.txt\n") != std::string::npos);
}

TEST_CASE("patch: deleted executable file") {
    Trees t;
    Trees::file(t.project, "run.sh", "#!/bin/sh\nexit 0\n", 0755);
    Trees::file(t.project, "other", "o\n");
    t.change(Kind::deleted, "run.sh");
    const std::string p = check_applies(t, "deleted_file");
    CHECK(p.find("deleted file mode 100755\n") != std::string::npos);
}

TEST_CASE("patch: a deleted directory is the deletion of every file below it") {
    Trees t;
    Trees::file(t.project, "src/main.c", "int main(void) { return 0; }\n");
    Trees::file(t.project, "src/lib/util.c", "void util(void) {}\n");
    Trees::file(t.project, "src/lib/z.bin", std::string("\0\1\2", 3));
    Trees::link(t.project, "src/lib/link", "util.c");
    Trees::file(t.project, "src.txt", "not below src/\n");
    t.change(Kind::deleted, "src");
    const std::string p = check_applies(t, "deleted_dir", true);
    CHECK(p.find("src.txt") == std::string::npos);
    CHECK(p.find("deleted file mode 120000\n") != std::string::npos);
    CHECK(p.find("Binary files a/src/lib/z.bin and /dev/null differ\n") != std::string::npos);
}

TEST_CASE("patch: mode change alone, and together with a content change") {
    Trees t;
    Trees::file(t.project, "a.sh", "echo a\n", 0644);
    Trees::file(t.upper, "a.sh", "echo a\n", 0755);
    Trees::file(t.project, "b.sh", "echo b\n", 0755);
    Trees::file(t.upper, "b.sh", "echo B\n", 0644);
    // Group bits git does not record: nothing to show.
    Trees::file(t.project, "c", "c\n", 0644);
    Trees::file(t.upper, "c", "c\n", 0640);
    t.change(Kind::mode, "a.sh");
    t.change(Kind::modified, "b.sh");
    t.change(Kind::mode, "c");
    const std::string p = check_applies(t, "mode");
    CHECK(p.find("diff --git a/a.sh b/a.sh\nold mode 100644\nnew mode 100755\ndiff") == 0);
    CHECK(p.find("a/c") == std::string::npos);
}

TEST_CASE("patch: symlinks added and changed, target as content without newline") {
    Trees t;
    Trees::file(t.project, "target", "t\n");
    Trees::link(t.project, "l", "target");
    Trees::link(t.upper, "l", "elsewhere/target");
    Trees::link(t.upper, "new", "../outside");
    t.change(Kind::modified, "l");
    t.change(Kind::added, "new");
    const std::string p = check_applies(t, "symlinks");
    CHECK(p.find("new file mode 120000\n") != std::string::npos);
    CHECK(p.find("-target\n\\ No newline at end of file\n+elsewhere/target\n\\ No newline at "
                 "end of file\n") != std::string::npos);
}

TEST_CASE("patch: type changes render as a deletion then an addition") {
    Trees t;
    // file -> symlink
    Trees::file(t.project, "f2l", "was a file\n");
    Trees::link(t.upper, "f2l", "f2l.real");
    // symlink -> file
    Trees::link(t.project, "l2f", "somewhere");
    Trees::file(t.upper, "l2f", "now a file\n");
    // dir -> file
    Trees::file(t.project, "d2f/a", "a\n");
    Trees::file(t.project, "d2f/sub/b", "b\n", 0755);
    Trees::file(t.upper, "d2f", "now a file too\n");
    // file -> dir: the directory's entries follow as their own changes
    Trees::file(t.project, "f2d", "was a file\n");
    Trees::file(t.upper, "f2d/inside", "in\n");
    t.change(Kind::type, "d2f");
    t.change(Kind::type, "f2d");
    t.change(Kind::added, "f2d/inside");
    t.change(Kind::type, "f2l");
    t.change(Kind::type, "l2f");
    const std::string p = check_applies(t, "type");
    // The directory's files go before the file that replaces it.
    CHECK(p.find("deleted file mode 100755") < p.find("diff --git a/d2f b/d2f"));
    CHECK(p.find("diff --git a/f2l b/f2l\ndeleted file mode 100644") != std::string::npos);
    CHECK(p.find("diff --git a/f2l b/f2l\nnew file mode 120000") != std::string::npos);
}

TEST_CASE("patch: binary files, detected like git by a NUL in the first 8000 bytes") {
    Trees t;
    std::string big(20000, 'x');
    big[7999] = '\0';
    Trees::file(t.project, "img.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    Trees::file(t.upper, "img.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR-more", 21));
    Trees::file(t.upper, "big.bin", big);
    Trees::file(t.project, "gone.bin", std::string("\0", 1));
    t.change(Kind::added, "big.bin");
    t.change(Kind::deleted, "gone.bin");
    t.change(Kind::modified, "img.png");
    const std::string p = check_applies(t, "binary", true);
    CHECK(p.find("Binary files a/img.png and b/img.png differ\n") != std::string::npos);
    CHECK(p.find("Binary files /dev/null and b/big.bin differ\n") != std::string::npos);
    CHECK(p.find("Binary files a/gone.bin and /dev/null differ\n") != std::string::npos);
    const std::string full = patch(t.changes, t.upper, t.project, {.binary = true});
    CHECK(full.find("GIT binary patch\nliteral 20000\n") != std::string::npos);
}

TEST_CASE("patch: a NUL after the first 8000 bytes is text, as git decides") {
    Trees t;
    std::string late(9000, 'y');
    late[8500] = '\0';
    Trees::file(t.upper, "late-nul.txt", late);
    t.change(Kind::added, "late-nul.txt");
    const std::string p = patch(t.changes, t.upper, t.project);
    CHECK(p.find("+++ b/late-nul.txt\n@@ -0,0 +1 @@\n+yyy") != std::string::npos);
    CHECK(p.find("Binary") == std::string::npos);
}

TEST_CASE("patch: missing newline at end of file, on either side") {
    Trees t;
    Trees::file(t.project, "lost-nl", "a\nb\n");
    Trees::file(t.upper, "lost-nl", "a\nb");
    Trees::file(t.project, "got-nl", "a\nb");
    Trees::file(t.upper, "got-nl", "a\nb\nc\n");
    Trees::file(t.upper, "never-nl", "just this");
    t.change(Kind::modified, "got-nl");
    t.change(Kind::modified, "lost-nl");
    t.change(Kind::added, "never-nl");
    const std::string p = check_applies(t, "no_newline");
    CHECK(p.find("+just this\n\\ No newline at end of file\n") != std::string::npos);
}

TEST_CASE("patch: empty files added and deleted") {
    Trees t;
    Trees::file(t.project, "was-empty", "");
    Trees::file(t.upper, "now-empty", "");
    Trees::file(t.project, "emptied", "content\n");
    Trees::file(t.upper, "emptied", "");
    t.change(Kind::modified, "emptied");
    t.change(Kind::added, "now-empty");
    t.change(Kind::deleted, "was-empty");
    const std::string p = check_applies(t, "empty");
    CHECK(p.find("diff --git a/now-empty b/now-empty\nnew file mode 100644\ndiff") !=
          std::string::npos);
    CHECK(p.find("diff --git a/was-empty b/was-empty\ndeleted file mode 100644\n") !=
          std::string::npos);
}

TEST_CASE("patch: names with spaces, tabs, newlines, quotes and UTF-8 stay parseable") {
    Trees t;
    const std::vector<std::string> names = {"with space.txt", "tab\there", "new\nline",
                                            "quote\"and\\backslash", "\xc3\xa9t\xc3\xa9.txt",
                                            "dir with space/x y"};
    for (const auto& n : names) Trees::file(t.upper, n, "content of a strange name\n");
    Trees::file(t.project, "old name", "1\n2\n");
    Trees::file(t.upper, "old name", "1\n2\n3\n");
    t.change(Kind::added, "dir with space");
    for (const auto& n : names) t.change(Kind::added, n);
    t.change(Kind::modified, "old name");
    const std::string p = check_applies(t, "names");
    CHECK(p.find("diff --git \"a/tab\\there\" \"b/tab\\there\"\n") != std::string::npos);
    CHECK(p.find("diff --git \"a/new\\nline\" \"b/new\\nline\"\n") != std::string::npos);
    CHECK(p.find("\"b/\\303\\251t\\303\\251.txt\"") != std::string::npos);
    CHECK(p.find("--- a/old name\t\n+++ b/old name\t\n") != std::string::npos);
}

TEST_CASE("patch: an opaque directory renders through its explicit entries") {
    Trees t;
    Trees::file(t.project, "cfg/a", "a\n");
    Trees::file(t.project, "cfg/b", "b\n");
    Trees::file(t.project, "cfg/sub/c", "c\n");
    Trees::file(t.upper, "cfg/b", "B\n");
    Trees::file(t.upper, "cfg/new", "new\n");
    t.change(Kind::replaced, "cfg");
    t.change(Kind::deleted, "cfg/a");
    t.change(Kind::modified, "cfg/b");
    t.change(Kind::added, "cfg/new");
    t.change(Kind::deleted, "cfg/sub");
    check_applies(t, "replaced");
}

TEST_CASE("patch: refused changes (devices, fifos, sockets) are not in the patch") {
    Trees t;
    Trees::file(t.project, "p", "p\n");
    REQUIRE(::mkfifo((t.upper + "/fifo").c_str(), 0644) == 0);
    t.change(Kind::added, "fifo").refused = "fifo";
    CHECK(patch(t.changes, t.upper, t.project).empty());
}

TEST_CASE("patch: a symlinked directory planted in upper/ is not followed out of the tree") {
    Trees t;
    Trees::file(t.root, "secret/key", "SECRET\n");
    Trees::link(t.upper, "d", t.root + "/secret");
    Change c;
    c.path = "d/key";
    c.kind = Kind::added;
    c.new_mode = S_IFREG | 0644;
    t.changes.push_back(c);
    CHECK_THROWS(patch(t.changes, t.upper, t.project));
}

TEST_CASE("patch: a fifo swapped in where a file was staged is never read (no hang)") {
    Trees t;
    REQUIRE(::mkfifo((t.upper + "/f").c_str(), 0644) == 0);
    Change c;
    c.path = "f";
    c.kind = Kind::added;
    c.new_mode = S_IFREG | 0644;
    t.changes.push_back(c);
    CHECK_THROWS(patch(t.changes, t.upper, t.project));
}

TEST_CASE("git_quote: as git quotes paths") {
    CHECK(git_quote("plain/path.txt") == "plain/path.txt");
    CHECK(git_quote("a b") == "a b");
    CHECK(git_quote("a\tb") == "\"a\\tb\"");
    CHECK(git_quote("q\"\\") == "\"q\\\"\\\\\"");
    CHECK(git_quote("\xc3\xa9") == "\"\\303\\251\"");
    CHECK(git_quote(std::string("\x01\x7f", 2)) == "\"\\001\\177\"");
}

TEST_CASE("patch and stat: a huge binary file is read no further than the binary probe") {
    Trees t;
    // 64 GiB of zeros, sparse: reading it all would take minutes and the memory to hold it.
    const std::string p = t.upper + "/huge.img";
    spit(p, "");
    REQUIRE(::truncate(p.c_str(), 64LL << 30) == 0);
    t.change(Kind::added, "huge.img");
    CHECK(patch(t.changes, t.upper, t.project) ==
          "diff --git a/huge.img b/huge.img\nnew file mode 100644\n"
          "Binary files /dev/null and b/huge.img differ\n");
    CHECK(stat(t.changes, t.upper, t.project) ==
          " huge.img | Bin 0 -> 68719476736 bytes\n"
          " 1 file changed, 0 insertions(+), 0 deletions(-)\n");
}

TEST_CASE("test_binary_diff_applies_with_git_apply: full blob ids and literal data as git's") {
    using namespace agentbox::stage::detail;
    CHECK(blob_id("") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    CHECK(blob_id("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a");
    // SHA-1 across block boundaries: 1 MB of 'a' hashed as git would.
    const std::string mb(1000000, 'a');
    CHECK(blob_id(mb) == [&] {
        Trees t;
        spit(t.root + "/a", mb);
        return slurp_cmd("git hash-object '" + t.root + "/a'");
    }());
    // git's own encoding of an empty literal (git diff --binary of an empty file).
    std::string lit;
    literal(-1, "", 0, "x", [&](std::string_view p) { lit += p; });
    CHECK(lit == "literal 0\nHcmV?d00001\n\n");
    CHECK(base85_line(std::string_view("\0\0\0\0", 4)) == "D00000\n");

    Trees t;
    std::string bin(300000, '\0');
    for (std::size_t i = 0; i < bin.size(); ++i) bin[i] = static_cast<char>((i * 7919) >> 3);
    Trees::file(t.project, "b.bin", bin);
    bin[12345] = 'x';
    Trees::file(t.upper, "b.bin", bin);
    t.change(Kind::modified, "b.bin");
    const std::string full = patch(t.changes, t.upper, t.project, {.binary = true});
    CHECK(full.find("index " + slurp_cmd("git hash-object '" + t.project + "/b.bin'") + ".." +
                    slurp_cmd("git hash-object '" + t.upper + "/b.bin'") + " 100644\n") !=
          std::string::npos);
    check_applies(t, "binary-modified", true);
}

TEST_CASE("test_diff_of_2gib_sparse_file_under_768mib_limit: a large text file is shown as "
          "large, applies as binary data") {
    Trees t;
    Trees::file(t.project, "big.txt", lines(1, 3000));
    Trees::file(t.upper, "big.txt", lines(1, 3001));
    t.change(Kind::modified, "big.txt");
    PatchOptions o;
    o.text_lines = 1000;
    const std::string shown = patch(t.changes, t.upper, t.project, o);
    CHECK(shown.find("Large files a/big.txt and b/big.txt differ: ") != std::string::npos);
    CHECK(shown.find("@@") == std::string::npos);
    o.binary = true;
    const std::string full = patch(t.changes, t.upper, t.project, o);
    CHECK(full.find("GIT binary patch\n") != std::string::npos);
    const std::string work = t.root + "/work";
    Trees::copy_tree(t.project, work);
    spit(t.root + "/p.patch", full);
    REQUIRE(sh("cd '" + work + "' && GIT_CEILING_DIRECTORIES='" + t.root +
               "' git apply ../p.patch") == 0);
    CHECK(listing(work) == listing(t.expected()));
    o = {};
    o.text_bytes = 1000;
    CHECK(patch(t.changes, t.upper, t.project, o).find("Large files") != std::string::npos);
}

TEST_CASE("test_rm_rf_dir_lists_every_deleted_file: a deleted directory's entries follow it") {
    Trees t;
    Trees::file(t.project, "src/a.c", "a\n");
    Trees::file(t.project, "src/sub/b.c", "b\n");
    Trees::file(t.project, "keep.txt", "k\n");
    t.change(Kind::deleted, "src");
    const auto all = with_deleted_entries(t.changes, t.project);
    REQUIRE(all.size() == 4);
    CHECK(name_status(all) == "D\tsrc/\nD\tsrc/a.c\nD\tsrc/sub/\nD\tsrc/sub/b.c\n");
}

TEST_CASE("with_deleted_entries: a change set that deletes no directory comes back as it is, "
          "without reading the project") {
    std::vector<Change> cs(2);
    cs[0].path = "a.txt";
    cs[0].kind = Kind::modified;
    cs[0].old_mode = cs[0].new_mode = S_IFREG | 0644;
    cs[1].path = "gone.txt";
    cs[1].kind = Kind::deleted;
    cs[1].old_mode = S_IFREG | 0644;
    // A project that cannot be opened: reading it would throw.
    const auto all = with_deleted_entries(cs, "/nonexistent-agentbox-project");
    REQUIRE(all.size() == 2);
    CHECK(name_status(all) == "M\ta.txt\nD\tgone.txt\n");
}

TEST_CASE("with_deleted_entries: a directory replaced by a file lists the directory's entries") {
    Trees t;
    Trees::file(t.project, "src/a.c", "a\n");
    Trees::file(t.project, "keep.txt", "k\n");
    Trees::file(t.upper, "src", "now a file\n");
    t.change(Kind::type, "src");
    const auto all = with_deleted_entries(t.changes, t.project);
    REQUIRE(all.size() == 2);
    CHECK(all[1].path == "src/a.c");
    CHECK(all[1].kind == Kind::deleted);
}
