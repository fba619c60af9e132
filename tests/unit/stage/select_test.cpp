// stage::judge / pick / choose: the one decision of what a commit takes, shared by the end of
// `agentbox run` and `agentbox commit`.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "stage/changes.hpp"
#include "stage/select.hpp"
#include "tree_fixture.hpp"

using namespace agentbox;
using namespace agentbox::stage;
using agentbox::stage::test::Trees;

namespace {

profile::Profile protecting(std::vector<std::string> patterns) {
    profile::Profile p;
    int line = 1;
    for (auto& pat : patterns)
        p.commit.protect.push_back(profile::Entry{pat, pat, profile::Source{"t.toml", line++, 1}});
    return p;
}

std::vector<std::string> paths_of(const std::vector<Change>& cs) {
    std::vector<std::string> out;
    for (const auto& c : cs) out.push_back(c.path);
    return out;
}

std::vector<std::string> paths_of(const std::vector<Judged>& js) {
    std::vector<std::string> out;
    for (const auto& j : js) out.push_back(j.change.path);
    return out;
}

const Judged& find(const std::vector<Judged>& js, const std::string& path) {
    auto it = std::find_if(js.begin(), js.end(), [&](const Judged& j) { return j.change.path == path; });
    REQUIRE(it != js.end());
    return *it;
}

}  // namespace

TEST_CASE("choose: a new directory whose only entries are held back is held back too") {
    Trees t;
    Trees::file(t.upper, "newdir/sub/.envrc", "eval evil\n");
    Trees::file(t.upper, "ok.txt", "fine\n");
    const auto cs = changes(t.upper, t.project);
    const auto judged = judge(protecting({"**/.envrc"}), t.project, t.upper, cs);
    CHECK(find(judged, "newdir/sub/.envrc").verdict == policy::Verdict::ask);
    const Selection sel = choose(judged, {});
    // Without the drop, newdir/ and newdir/sub/ would land empty in the project. They are
    // held back and say why: the log and the review name every change that does not land.
    CHECK(paths_of(sel.go) == std::vector<std::string>{"ok.txt"});
    CHECK(paths_of(sel.held) ==
          std::vector<std::string>{"newdir", "newdir/sub", "newdir/sub/.envrc"});
    CHECK(find(sel.held, "newdir").why == "every change in it is held back");
    CHECK(find(sel.held, "newdir").held_by == "newdir");
    CHECK(find(sel.held, "newdir").verdict == policy::Verdict::ask);

    const Selection approved = choose(judged, [](const Judged& j) {
        return j.change.path == "newdir/sub/.envrc";
    });
    CHECK(paths_of(approved.go) ==
          std::vector<std::string>{"newdir", "newdir/sub", "newdir/sub/.envrc", "ok.txt"});
    CHECK(approved.held.empty());
}

TEST_CASE("choose: a refused change never goes, approved or not") {
    Trees t;
    Trees::file(t.upper, "a.txt", "x\n");
    auto cs = changes(t.upper, t.project);
    cs[0].refused = "fifo";
    const auto judged = judge(protecting({}), t.project, t.upper, cs);
    const Selection sel = choose(judged, [](const Judged&) { return true; });
    CHECK(sel.go.empty());
    CHECK(paths_of(sel.held) == std::vector<std::string>{"a.txt"});
}

TEST_CASE("choose: a replaced directory's own change is not reported as held back") {
    Trees t;
    Trees::file(t.project, ".git/hooks/pre-commit", "old\n");
    Change replaced;
    replaced.path = ".git/hooks";
    replaced.kind = Kind::replaced;
    replaced.old_mode = replaced.new_mode = S_IFDIR | 0755;
    const auto judged = judge(protecting({".git/hooks/**"}), t.project, t.upper, {replaced});
    CHECK(judged[0].verdict == policy::Verdict::ask);
    const Selection sel = choose(judged, {});
    CHECK(sel.go.empty());
    CHECK(sel.held.empty());
}

TEST_CASE("choose: what lies below a held-back directory is held with it, approved or not") {
    // The user's `.vscode` is a link out; the run made it a directory (held back) and
    // `.vscode/sub/f` in it. Landing `.vscode/sub` would go through the user's link: the
    // commit failed there and took nothing. Held with `.vscode`, named; the rest lands.
    Trees t;
    Trees::link(t.project, ".vscode", "/home/someone/vscode");
    Trees::file(t.upper, ".vscode/sub/f", "x\n");
    Trees::file(t.upper, "ok.txt", "fine\n");
    const auto judged =
        judge(protecting({".vscode/**"}), t.project, t.upper, changes(t.upper, t.project));
    CHECK(find(judged, ".vscode/sub").verdict == policy::Verdict::allow);
    for (const bool child_approved : {false, true}) {
        INFO(child_approved);
        const Selection sel = choose(judged, [&](const Judged& j) {
            return child_approved && j.change.path != ".vscode";
        });
        CHECK(paths_of(sel.go) == std::vector<std::string>{"ok.txt"});
        CHECK(paths_of(sel.held) ==
              std::vector<std::string>{".vscode", ".vscode/sub", ".vscode/sub/f"});
        const Judged& sub = find(sel.held, ".vscode/sub");
        CHECK(sub.why == "under held-back \".vscode\"");
        CHECK(sub.held_by == ".vscode");
        CHECK(sub.verdict == policy::Verdict::ask);
        if (child_approved) CHECK(find(sel.held, ".vscode/sub/f").held_by == ".vscode");
    }
    // Approving the directory lets both in.
    const Selection all = choose(judged, [](const Judged&) { return true; });
    CHECK(all.held.empty());
    CHECK(all.go.size() == judged.size());
}

TEST_CASE("choose: a new entry of a held-back replaced directory is held with it") {
    // An opaque directory (the command emptied and refilled it): with its own change held,
    // an entry would land beside the project's old ones, in a directory nobody emptied.
    Trees t;
    Trees::file(t.project, ".git/hooks/pre-commit", "old\n");
    Change replaced;
    replaced.path = ".git/hooks";
    replaced.kind = Kind::replaced;
    replaced.old_mode = replaced.new_mode = S_IFDIR | 0755;
    Change entry;
    entry.path = ".git/hooks/README";
    entry.kind = Kind::added;
    entry.new_mode = S_IFREG | 0644;
    std::vector<Judged> judged(2);
    judged[0].change = replaced;
    judged[0].verdict = policy::Verdict::ask;
    judged[0].why = "protected";
    judged[1].change = entry;
    const Selection sel = choose(judged, {});
    CHECK(sel.go.empty());
    CHECK(paths_of(sel.held) == std::vector<std::string>{".git/hooks/README"});
    CHECK(sel.held[0].held_by == ".git/hooks");
}

TEST_CASE("pick: the paths asked for and the new directories they need, nothing else") {
    Trees t;
    Trees::dir(t.project, "old");
    Trees::dir(t.upper, "old", 0700);  // a mode change of the parent: not asked for
    Trees::file(t.upper, "old/new/f", "x\n");
    Trees::file(t.upper, "other", "y\n");
    const auto cs = changes(t.upper, t.project);
    CHECK(paths_of(pick(cs, {"old/new/f"})) == std::vector<std::string>{"old/new", "old/new/f"});
    CHECK(paths_of(pick(cs, {})) == paths_of(cs));
    CHECK(paths_of(pick(cs, {""})) == paths_of(cs));
}

TEST_CASE("judge: a symlink is judged by where it resolves through the project's links") {
    Trees t;
    Trees::link(t.project, "ssh-link", "/home/someone/.ssh");
    Trees::link(t.project, "top", ".");
    Trees::file(t.project, "README", "r\n");
    Trees::link(t.upper, "key2", "ssh-link/id_rsa");
    Trees::link(t.upper, "homelink", "ssh-link/..");
    Trees::link(t.upper, "up", "top/..");      // lexically ".", physically the parent
    Trees::link(t.upper, "fine", "top/README");
    Trees::link(t.upper, "abs-in", t.project + "/README");
    Trees::link(t.upper, "abs-out", t.project + "/../x");
    const auto judged = judge(protecting({}), t.project, t.upper, changes(t.upper, t.project));
    for (const char* out : {"key2", "homelink", "up", "abs-out"}) {
        INFO(out);
        CHECK(find(judged, out).verdict == policy::Verdict::ask);
        CHECK(find(judged, out).rule == "symlink outside the project");
    }
    CHECK(find(judged, "fine").verdict == policy::Verdict::allow);
    CHECK(find(judged, "abs-in").verdict == policy::Verdict::allow);
}

TEST_CASE("judge: a symlink leading through another link of the same change set") {
    Trees t;
    Trees::link(t.upper, "d/s", "/home/someone/.ssh");
    Trees::link(t.upper, "key", "d/s/id_rsa");
    Trees::link(t.upper, "loop", "loop");
    const auto judged = judge(protecting({}), t.project, t.upper, changes(t.upper, t.project));
    CHECK(find(judged, "d/s").verdict == policy::Verdict::ask);
    CHECK(find(judged, "key").verdict == policy::Verdict::ask);
    // A loop is followed 40 times, then judged as leading nowhere we can vouch for.
    CHECK(find(judged, "loop").verdict == policy::Verdict::ask);
}

TEST_CASE("judge: a symlink is judged through what is held back as the project has it") {
    // The user's `.vscode` leads out; the run makes it a directory (protected: held back),
    // so `notes`, inside through that directory, leads out through the link once committed.
    Trees t;
    Trees::link(t.project, ".vscode", "/home/someone/vscode");
    Trees::file(t.upper, ".vscode/settings.json", "{}\n");
    Trees::link(t.upper, "notes", ".vscode/settings.json");
    Trees::link(t.upper, "fine", "README");
    const auto judged =
        judge(protecting({".vscode/**"}), t.project, t.upper, changes(t.upper, t.project));
    CHECK(find(judged, ".vscode").verdict == policy::Verdict::ask);
    CHECK(find(judged, "notes").verdict == policy::Verdict::ask);
    CHECK(find(judged, "notes").rule == "symlink outside the project");
    CHECK(find(judged, "fine").verdict == policy::Verdict::allow);
}

TEST_CASE("choose: a link an approval takes out through what is held back is held back") {
    // With `.idea` and `.vscode` both committed, or neither, `notes` leads inside; with
    // `.idea` (now a link to `.vscode`) approved alone, out through the user's `.vscode`.
    Trees t;
    Trees::link(t.project, ".vscode", "/home/someone/vscode");
    Trees::dir(t.project, ".idea");
    Trees::link(t.upper, ".idea", ".vscode");
    Trees::dir(t.upper, ".vscode");
    Trees::link(t.upper, "notes", ".idea/settings.json");
    const profile::Profile prof = protecting({".vscode/**", ".idea/**"});
    auto judged = judge(prof, t.project, t.upper, changes(t.upper, t.project));
    CHECK(find(judged, "notes").verdict == policy::Verdict::allow);
    const Selection s = choose(prof, t.project, t.upper, judged,
                               [](const Judged& j) { return j.change.path == ".idea"; });
    CHECK(paths_of(s.go) == std::vector<std::string>{".idea"});
    CHECK(find(judged, "notes").rule == "symlink outside the project");
    CHECK(std::count_if(s.held.begin(), s.held.end(),
                        [](const Judged& j) { return j.change.path == "notes"; }) == 1);
}

TEST_CASE("choose: a path approved by name is held back when the approvals change its verdict") {
    // Named with `.idea` (`s .idea notes` at the prompt, `commit --force .idea notes`),
    // `notes` was shown leading inside; with `.idea` taken it leads out. Its approval was of
    // what was shown, so it does not cover that: held back, and the reason says so.
    Trees t;
    Trees::link(t.project, ".vscode", "/home/someone/vscode");
    Trees::dir(t.project, ".idea");
    Trees::link(t.upper, ".idea", ".vscode");
    Trees::dir(t.upper, ".vscode");
    Trees::link(t.upper, "notes", ".idea/settings.json");
    const profile::Profile prof = protecting({".vscode/**", ".idea/**"});
    auto judged = judge(prof, t.project, t.upper, changes(t.upper, t.project));
    CHECK(find(judged, "notes").verdict == policy::Verdict::allow);
    const Selection s = choose(prof, t.project, t.upper, judged, [](const Judged& j) {
        return j.change.path == ".idea" || j.change.path == "notes";
    });
    CHECK(paths_of(s.go) == std::vector<std::string>{".idea"});
    const Judged& notes = find(s.held, "notes");
    CHECK(notes.rule == "symlink outside the project");
    CHECK(notes.why.find("approvals") != std::string::npos);
}

TEST_CASE("judge: a path is protected by every name the project reaches it by") {
    Trees t;
    Trees::dir(t.project, "decoy-codex");
    Trees::link(t.project, ".codex", "decoy-codex");
    Trees::dir(t.project, "dotfiles/claude/commands");
    Trees::link(t.project, "pkg/.claude", "../dotfiles/claude");
    Trees::file(t.upper, "decoy-codex/config.toml", "x\n");
    Trees::file(t.upper, "dotfiles/claude/commands/x.md", "x\n");
    Trees::file(t.upper, "dotfiles/notes", "x\n");
    // Made in the same change set: a link, and a file reached through a chain of two.
    Trees::link(t.upper, ".husky", "h1");
    Trees::link(t.upper, "h1", "h2");
    Trees::file(t.upper, "h2/pre-commit", "x\n");
    const auto judged = judge(protecting({".codex/**", "**/.claude/**", ".husky/**"}), t.project,
                              t.upper, changes(t.upper, t.project));
    CHECK(find(judged, "decoy-codex/config.toml").verdict == policy::Verdict::ask);
    CHECK(find(judged, "dotfiles/claude/commands/x.md").verdict == policy::Verdict::ask);
    CHECK(find(judged, "h2/pre-commit").verdict == policy::Verdict::ask);
    CHECK(find(judged, "dotfiles/notes").verdict == policy::Verdict::allow);
}

TEST_CASE("judge: directories a .git file or a commondir names are git directories") {
    Trees t;
    Trees::file(t.project, "sub/.git", "gitdir: ../gd\n");
    Trees::dir(t.project, "gd");
    Trees::dir(t.project, ".git/refs");
    Trees::file(t.upper, "gd/config", "[core]\n");
    Trees::file(t.upper, "gd/HEAD", "ref: refs/heads/main\n");
    Trees::file(t.upper, ".git/commondir", "../common\n");
    Trees::file(t.upper, "common/hooks/pre-commit", "x\n");
    Trees::file(t.upper, "common/objects/ab/cd", "x\n");
    Trees::file(t.upper, "plain/config", "x\n");
    const auto judged = judge(protecting({}), t.project, t.upper, changes(t.upper, t.project));
    CHECK(find(judged, "gd/config").verdict == policy::Verdict::ask);
    INFO(find(judged, "gd/HEAD").why);
    CHECK(find(judged, "gd/HEAD").verdict == policy::Verdict::allow);
    CHECK(find(judged, ".git/commondir").verdict == policy::Verdict::ask);
    CHECK(find(judged, "common/hooks/pre-commit").verdict == policy::Verdict::ask);
    CHECK(find(judged, "common/objects/ab/cd").verdict == policy::Verdict::allow);
    CHECK(find(judged, "plain/config").verdict == policy::Verdict::allow);
}

TEST_CASE("judge: a path's names are tried a directory's own links first, then its subdirectories'") {
    // The project walk lists a directory's links before it descends (the order the names of
    // a path are tried in, so the one a protection reports). The subdirectories come before
    // and after the link in creation order, so that whatever order the filesystem lists them
    // in, a walk that descended first would likely report a deeper name.
    Trees t;
    Trees::dir(t.project, "data");
    Trees::file(t.project, "data/secret", "x\n");
    Trees::file(t.upper, "data/secret", "y\n");
    auto subdir = [&](const std::string& s) {
        Trees::link(t.project, s + "/l", "../data");
        for (const char* d : {"a", "b", "c", "d"})
            Trees::link(t.project, s + "/" + d + "/l", "../../data");
    };
    for (const char* s : {"s1", "s2", "s3", "s4"}) subdir(s);
    Trees::link(t.project, "top", "data");
    for (const char* s : {"s5", "s6", "s7", "s8"}) subdir(s);
    // s9's own link made between its subdirectories too.
    for (const char* d : {"a", "b"}) Trees::link(t.project, std::string("s9/") + d + "/l", "../../data");
    Trees::link(t.project, "s9/l", "../data");
    for (const char* d : {"c", "d"}) Trees::link(t.project, std::string("s9/") + d + "/l", "../../data");
    const auto cs = changes(t.upper, t.project);

    const auto root_first = judge(protecting({"top/**", "s*/**"}), t.project, t.upper, cs);
    const Judged& a = find(root_first, "data/secret");
    INFO(a.why);
    CHECK(a.verdict == policy::Verdict::ask);
    CHECK(a.why.find("(reached as \"top/secret\")") != std::string::npos);

    const auto dir_first = judge(protecting({"s9/**"}), t.project, t.upper, cs);
    const Judged& b = find(dir_first, "data/secret");
    INFO(b.why);
    CHECK(b.verdict == policy::Verdict::ask);
    CHECK(b.why.find("(reached as \"s9/l/secret\")") != std::string::npos);
}
