// stage::git_config_includes: the files a git config makes git read as configuration.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "stage/gitconfig.hpp"

using agentbox::stage::git_config_includes;
using V = std::vector<std::string>;

TEST_CASE("include and includeIf paths are found however they are written") {
    CHECK(git_config_includes("[include]\n\tpath = ../.gitconfig\n") == V{"../.gitconfig"});
    CHECK(git_config_includes("[Include]\n  PATH=a.cfg # comment\n") == V{"a.cfg"});
    CHECK(git_config_includes("[includeIf \"gitdir:~/work/\"]\n path = \"x y.cfg\" ; c\n") ==
          V{"x y.cfg"});
    CHECK(git_config_includes("[include] path = same-line.cfg\n") == V{"same-line.cfg"});
    CHECK(git_config_includes("[include]\npath = a\\\n.cfg\n") == V{"a.cfg"});
    CHECK(git_config_includes("[include]\r\n\tpath = crlf.cfg\r\n") == V{"crlf.cfg"});
    CHECK(git_config_includes("[core]\n\tpath = no\n[include]\n\tpath = one\n\tpath = two\n") ==
          V{"one", "two"});
}

TEST_CASE("paths of other sections, and commented ones, are not includes") {
    CHECK(git_config_includes("[core]\n\tpath = x\n").empty());
    CHECK(git_config_includes("[includes]\n\tpath = x\n").empty());
    CHECK(git_config_includes("# [include]\n; path = x\n[include]\n#\tpath = y\n").empty());
    CHECK(git_config_includes("[remote \"include\"]\n\tpath = x\n").empty());
}

// Each read by git 2.39 (`git config -f F --get include.path`) as shown: a name read
// otherwise here is a file git takes as configuration that the commit does not ask about.
TEST_CASE("include paths read as git reads them: BOM, blanks, CRLF, escapes, NUL") {
    // A UTF-8 byte-order mark before the first section (git skips it).
    CHECK(git_config_includes("\xEF\xBB\xBF[include]\n\tpath = bom.cfg\n") == V{"bom.cfg"});
    // A tab inside an unquoted value is a space to git.
    CHECK(git_config_includes("[include]\n\tpath = my\tnotes.cfg\n") == V{"my notes.cfg"});
    // A backslash before CRLF continues the value.
    CHECK(git_config_includes("[include]\r\n\tpath = ev\\\r\nil.cfg\r\n") == V{"evil.cfg"});
    // \b is a backspace character in the name, not an erase.
    CHECK(git_config_includes("[include]\n\tpath = evx\\b\n") == V{"evx\b"});
    // git's value is a C string: it ends at a NUL.
    CHECK(git_config_includes(std::string("[include]\n\tpath = evil\0junk\n", 28)) ==
          V{"evil"});
}

TEST_CASE("core.hooksPath is read as git reads it, only from [core]") {
    const auto git_config_hooks_paths = [](std::string_view text) {
        return agentbox::stage::git_config_read(text).hooks_paths;
    };
    CHECK(git_config_hooks_paths("[core]\n\thooksPath = .githooks\n") == V{".githooks"});
    CHECK(git_config_hooks_paths("[CORE]\n  HOOKSPATH=\"my hooks\" # c\n") == V{"my hooks"});
    CHECK(git_config_hooks_paths("[core]\n\tfsmonitor = x\n[core]\n\thooksPath = a\\\nb\n") ==
          V{"ab"});
    CHECK(git_config_hooks_paths("[hooks]\n\thooksPath = x\n[include]\n\tpath = y\n").empty());
}

// The sandbox writes the config: a section name as long as the reader's budget (64 MiB,
// stage/select.cpp) took time in its square (40 KiB: 89 s in the fuzz build) -- a commit that
// never ends. tests/fuzz/repro/stage_config/slow-long-section-name is the fuzzer's copy.
TEST_CASE("a section name of megabytes is read in one pass") {
    const std::string name(std::size_t{4} << 20, 'a');
    CHECK(git_config_includes("[" + name + "]\n[include]\n\tpath = found\n") == V{"found"});
    CHECK(git_config_includes("[include." + name + "]\n\tpath = sub\n") == V{"sub"});
    CHECK(git_config_includes("[" + name + ".include]\n\tpath = no\n").empty());
}

TEST_CASE("the keys whose value git runs are found in one pass, named as git names them") {
    using agentbox::stage::git_config_read;
    const auto f = git_config_read(
        "[core]\n\tfsmonitor = tools/fsmon\n\thooksPath = .githooks\n\tpager = less -R\n"
        "[filter \"lfs\"]\n\tclean = git-lfs clean -- %f\n"
        "[diff \"pdf\"]\n\ttextconv = sh scripts/pdf.sh\n"
        "[credential \"https://example.com\"]\n\thelper = !tools/cred\n"
        "[alias]\n\tst = status\n\tt = !sh tools/t.sh\n"
        "[include]\n\tpath = a.cfg\n"
        "[hook \"lint\"]\n\tcommand = tools/lint\n"
        "[user]\n\tname = tools/fsmon\n");
    CHECK(f.includes == V{"a.cfg"});
    CHECK(f.hooks_paths == V{".githooks"});
    V keys, values;
    for (const auto& c : f.commands) keys.push_back(c.key), values.push_back(c.value);
    CHECK(keys == V{"core.fsmonitor", "core.pager", "filter.lfs.clean", "diff.pdf.textconv",
                    "credential.https://example.com.helper", "alias.t", "hook.lint.command"});
    CHECK(values[0] == "tools/fsmon");
    CHECK(values[5] == "!sh tools/t.sh");
}

TEST_CASE("a boolean fsmonitor or pager, and an alias without `!`, run no program") {
    using agentbox::stage::git_config_read;
    CHECK(
        git_config_read("[core]\n\tfsmonitor = true\n[core]\n\tfsmonitor = 0\n").commands.empty());
    CHECK(git_config_read("[pager]\n\tlog = false\n\tdiff = off\n").commands.empty());
    CHECK(git_config_read("[alias]\n\tco = checkout\n[submodule \"s\"]\n\tupdate = rebase\n")
              .commands.empty());
    CHECK(git_config_read("[pager]\n\tlog = tools/pager\n").commands.size() == 1);
    CHECK(git_config_read("[submodule \"s\"]\n\tupdate = !tools/up\n").commands.size() == 1);
}

// Each as `sh -c` splits it (git runs these through the shell when they hold a blank or a
// shell character, else as the program itself).
TEST_CASE("the words of a command that can name a file") {
    using agentbox::stage::git_command_words;
    CHECK(git_command_words("tools/fsmon") == V{"tools/fsmon"});
    CHECK(git_command_words("fsmon") == V{});  // looked up in PATH
    CHECK(git_command_words("sh tools/x.sh") == V{"tools/x.sh"});
    CHECK(git_command_words("sh x.sh") == V{"x.sh"});  // in the directory git runs in
    CHECK(git_command_words("!./x --flag") == V{"./x"});
    CHECK(git_command_words("less -R") == V{});
    CHECK(git_command_words("store --file=tools/creds") == V{"tools/creds"});
    CHECK(git_command_words("FOO=tools/env sh") == V{"tools/env"});
    CHECK(git_command_words("cd sub && ./run; make") == V{"sub", "./run"});
    CHECK(git_command_words("sh 'my tools/x.sh' \"a b\" c\\ d") ==
          V{"my tools/x.sh", "a b", "c d"});
    CHECK(git_command_words("sh < tools/in.sh") == V{"tools/in.sh"});
    CHECK(git_command_words("$HOME/bin/x ${HOME}/y \"$PWD/z\" $PWDX") ==
          V{"~/bin/x", "~/y", "./z", "$PWDX"});
    CHECK(git_command_words("x=$(tools/a) `tools/b`") == V{"tools/a", "tools/b"});
    CHECK(git_command_words("tools/a # tools/b") == V{"tools/a"});
}
