// What agentbox reads in a git config file: the files it includes, the hooks directory it
// names, and the commands it makes git run.
//
// The files a git config file includes (`[include] path`, `[includeIf "..."] path`): git reads
// each as configuration of its own, core.fsmonitor, core.pager and hooksPath included, so one
// that lies in the project is as much a persistence path as `.git/config` itself
// (git-config(1), "Includes").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace agentbox::stage {

// A value git runs as a program or a shell command (the table in gitconfig.cpp, DESIGN.md §5):
// core.fsmonitor, filter.<driver>.clean, alias.<name> = !cmd, ...
struct GitConfigCommand {
    std::string key;    // section[.subsection].key, section and key lower-case
    std::string value;  // the command as written (unquoted as git unquotes a value)
};

struct GitConfigFinds {
    // The `path` values of every include section, unquoted and unescaped, as written
    // (relative to the including file's directory, `~/`, or absolute). Every includeIf
    // counts, whatever its condition: the condition can hold tomorrow.
    std::vector<std::string> includes;
    // The `core.hooksPath` values: the directory git runs its hooks from instead of the git
    // directory's hooks/ -- relative to the directory hooks run in (a work tree's top), `~/`,
    // or absolute. Teams point it into the work tree (`.githooks`), so a file the sandbox
    // writes there runs at the next `git commit` as a hook does.
    std::vector<std::string> hooks_paths;
    std::vector<GitConfigCommand> commands;
};

// All three from one pass over `text`.
GitConfigFinds git_config_read(std::string_view text);

// git_config_read(text).includes.
std::vector<std::string> git_config_includes(std::string_view text);

// The words of shell command `cmd` (a GitConfigCommand's value) that can name a file, as sh
// splits and unquotes them: every word but a command's name without a `/` (sh looks that up
// in PATH), an option only by what follows its `=` (`--file=x`), an assignment by its value.
// A leading `!` (an alias's, a credential helper's) is dropped; `$HOME` becomes `~` and
// `$PWD` `.`, the directory git runs the command in; other expansions are kept as written.
std::vector<std::string> git_command_words(std::string_view cmd);

}  // namespace agentbox::stage
