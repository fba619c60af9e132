// stage::git_config_includes: the files a git config makes git read as configuration.
#include <doctest/doctest.h>

#include <string>
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
    using agentbox::stage::git_config_hooks_paths;
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
