#include "stage/gitconfig.hpp"

#include <cctype>
#include <optional>
#include <utility>

#include "util/strings.hpp"

namespace agentbox::stage {

namespace {

// A cursor over the text with git's config lexing (config.c): comments from `#` or `;`
// outside quotes, `\` at the end of a line continuing a value.
class Lexer {
public:
    explicit Lexer(std::string_view t) : t_(t) {}
    bool done() const { return at_ >= t_.size(); }
    char peek() const { return done() ? '\n' : t_[at_]; }
    char get() { return done() ? '\n' : t_[at_++]; }
    void skip_blanks() {
        while (!done() && (peek() == ' ' || peek() == '\t' || peek() == '\r')) ++at_;
    }
    void skip_line() {
        while (!done() && get() != '\n') {
        }
    }

    // `[name]`, `[name "sub"]` or `[name.sub]`: the section name, lower-cased, and the
    // subsection (only to name a key in a message).
    std::pair<std::string, std::string> section() {
        std::string name, sub;
        bool quoted = false, ended = false;  // ended: a space or dot kept, nothing after it
        while (!done()) {
            const char c = get();
            if (c == '\n') break;
            if (quoted) {
                if (c == '\\' && !done()) sub.push_back(get());
                else if (c == '"') quoted = false;
                else sub.push_back(c);
                continue;
            }
            if (c == ']') break;
            if (c == '"') {
                quoted = true;
            } else if (!ended) {
                name.push_back(c);
                ended = c == ' ' || c == '.';
            } else if (c != ' ' && c != '\t') {
                sub.push_back(c);  // the old `[name.sub]` form
            }
        }
        const auto cut = name.find_first_of(" .\t");
        return {util::to_lower(name.substr(0, cut)), std::move(sub)};
    }

    std::string key() {
        std::string k;
        while (!done() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '-'))
            k.push_back(get());
        return util::to_lower(k);
    }

    // After the key: `= value` to the end of its (possibly continued) line.
    std::string value() {
        skip_blanks();
        if (peek() != '=') {
            skip_line();
            return "";
        }
        get();
        std::string v, pending_space;
        bool quoted = false;
        for (;;) {
            if (done()) break;
            char c = get();
            if (c == '\n') {
                if (quoted) return "";  // git: bad config line
                break;
            }
            if (!quoted && (c == '#' || c == ';')) {
                skip_line();
                break;
            }
            // git's parse_value: any blank outside quotes, kept only between words, as one
            // space each (a tab too).
            if (!quoted && (c == ' ' || c == '\t' || c == '\r')) {
                if (!v.empty()) pending_space.push_back(' ');
                continue;
            }
            v += pending_space;
            pending_space.clear();
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (c == '\\') {
                c = get();
                if (c == '\n') continue;  // continued on the next line
                if (c == 'n') c = '\n';
                else if (c == 't') c = '\t';
                else if (c == 'b') c = '\b';  // a backspace character, as git keeps it
            }
            v.push_back(c);
        }
        // git hands the value on as a C string: a NUL ends the name it opens.
        v.resize(std::min(v.size(), v.find('\0')));
        return v;
    }

private:
    std::string_view t_;
    std::size_t at_ = 0;
};

// Every `<section>.<key> = value` of the text, in order, with a non-empty value (sections and
// keys lower-case), handed to `fn(section, subsection, key, value)`.
template <typename Fn>
void for_each_value(std::string_view raw, Fn&& fn) {
    // As git's config reader sees the text (config.c): a UTF-8 byte-order mark at its start
    // skipped, and every CRLF read as LF (get_next_char), a `\` before one included.
    if (raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);
    std::string text;
    text.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i)
        if (raw[i] != '\r' || i + 1 >= raw.size() || raw[i + 1] != '\n') text.push_back(raw[i]);
    Lexer lx(text);
    std::pair<std::string, std::string> section;
    while (!lx.done()) {
        lx.skip_blanks();
        const char c = lx.peek();
        if (c == '\n') {
            lx.get();
        } else if (c == '#' || c == ';') {
            lx.skip_line();
        } else if (c == '[') {
            lx.get();
            section = lx.section();
        } else if (std::isalpha(static_cast<unsigned char>(c))) {
            const std::string k = lx.key();
            const std::string v = lx.value();
            if (!v.empty()) fn(section.first, section.second, k, v);
        } else {
            lx.skip_line();
        }
    }
}

// The keys whose value git runs as a program or a shell command (git-config(1); the source
// file that runs each, git 2.39), whatever the subsection (`filter.lfs.clean`,
// `credential.https://host.helper`). git runs nearly all of them through run_command with
// use_shell: a value with a blank or a shell character is `sh -c VALUE`, else the program
// itself -- so any word of it can name a file. From the top of the work tree, where git
// changes directory before running a command (setup.c), or the git directory of a bare
// repository; outside a repository, from wherever it was started. The last rows follow git's
// naming so that a key git adds later is not missed (hook.<name>.command came in 2.46).
enum class Form {
    shell,     // a command, always
    bang,      // a command when it starts with `!`; else a git command's name
    not_bool,  // a command unless a boolean (a built-in, or off)
};
struct CommandKey {
    std::string_view section;  // "*": any
    std::string_view key;      // "*": any; "*x": any ending in x
    Form form;
};
constexpr CommandKey kCommandKeys[] = {
    // Every `git status`, `diff`, `add` runs the fsmonitor hook (fsmonitor.c); true/false
    // mean the built-in daemon or none.
    {"core", "fsmonitor", Form::not_bool},
    // Commit, tag and merge messages, `rebase -i`'s todo list (editor.c).
    {"core", "editor", Form::shell},
    {"sequence", "editor", Form::shell},
    // Any command that pages (pager.c); `pager.<cmd>` is the pager for one command unless
    // a boolean (pager or not).
    {"core", "pager", Form::shell},
    {"pager", "*", Form::not_bool},
    // fetch, push, clone over ssh (connect.c); git:// through a proxy command (connect.c).
    {"core", "sshcommand", Form::shell},
    {"core", "gitproxy", Form::shell},
    // Username and password prompts (prompt.c).
    {"core", "askpass", Form::shell},
    // Every fetch or push against an alternate's repository (transport.c).
    {"core", "alternaterefscommand", Form::shell},
    // Every credential request: `!cmd`, an absolute path, or `git credential-NAME ARGS`
    // (credential.c), with `credential.<url>.helper`.
    {"credential", "helper", Form::shell},
    // Every `git diff` (diff.c), and for paths .gitattributes gives a driver -- .gitattributes
    // is the sandbox's to write -- the driver's command and textconv (diff, log -p, blame,
    // grep); `git difftool` and `mergetool` (git-difftool--helper, git-mergetool--lib).
    {"diff", "external", Form::shell},
    {"diff", "command", Form::shell},
    {"diff", "textconv", Form::shell},
    {"difftool", "cmd", Form::shell},
    {"difftool", "path", Form::shell},
    {"mergetool", "cmd", Form::shell},
    {"mergetool", "path", Form::shell},
    // Filters on checkout and add, merge drivers on merge, of paths .gitattributes names
    // (convert.c, ll-merge.c).
    {"filter", "clean", Form::shell},
    {"filter", "smudge", Form::shell},
    {"filter", "process", Form::shell},
    {"merge", "driver", Form::shell},
    // Signing and verifying commits and tags (gpg-interface.c), gpg.<format>.program too.
    {"gpg", "program", Form::shell},
    {"gpg", "defaultkeycommand", Form::shell},
    // `git add -p` (add-patch.c).
    {"interactive", "difffilter", Form::shell},
    // `git NAME` for an alias starting with `!`, run from the work tree's top (git.c).
    {"alias", "*", Form::bang},
    // `git submodule update` with `!cmd` (honoured from .git/config, refused in .gitmodules).
    {"submodule", "update", Form::bang},
    // A fetch or clone from this repository (upload-pack.c; git honours it only from the
    // system and global configs and the command line; every config is read here).
    {"uploadpack", "packobjectshook", Form::shell},
    // A fetch or push to a remote on a local path runs these here (transport.c).
    {"remote", "uploadpack", Form::shell},
    {"remote", "receivepack", Form::shell},
    // send-email's sendmail (an absolute smtpServer is run), and its *cmd keys below.
    {"sendemail", "smtpserver", Form::shell},
    // imap-send's tunnel; instaweb's server; help -w and web--browse's browsers; help's
    // man viewers.
    {"imap", "tunnel", Form::shell},
    {"instaweb", "httpd", Form::shell},
    {"browser", "cmd", Form::shell},
    {"browser", "path", Form::shell},
    {"man", "cmd", Form::shell},
    {"man", "path", Form::shell},
    {"gui", "editor", Form::shell},
    // git's naming of program-valued keys, in any section: trailer.<t>.command and .cmd,
    // sendemail.*cmd, guitool.<t>.cmd, gpg.<format>.program, hook.<name>.command, and
    // whatever git adds under such a name.
    {"*", "*command", Form::shell},
    {"*", "*cmd", Form::shell},
    {"*", "*program", Form::shell},
    {"*", "*hook", Form::shell},
};

bool key_matches(std::string_view pattern, std::string_view key) {
    if (pattern == "*") return true;
    if (pattern.starts_with('*')) return key.ends_with(pattern.substr(1));
    return key == pattern;
}

// git_parse_maybe_bool: true, yes, on, false, no, off, or a number.
bool git_bool(const std::string& v) {
    const std::string l = util::to_lower(v);
    if (l == "true" || l == "yes" || l == "on" || l == "false" || l == "no" || l == "off")
        return true;
    std::size_t i = l.front() == '-' || l.front() == '+' ? 1 : 0;
    return i < l.size() && l.find_first_not_of("0123456789", i) == std::string::npos;
}

// The command `value` of `section.key` is, if git runs one.
std::optional<std::string> command_of(const std::string& section, const std::string& key,
                                      const std::string& value) {
    for (const auto& k : kCommandKeys) {
        if ((k.section != "*" && k.section != section) || !key_matches(k.key, key)) continue;
        if (k.form == Form::bang && value.front() != '!') return std::nullopt;
        if (k.form == Form::not_bool && git_bool(value)) return std::nullopt;
        return value;
    }
    return std::nullopt;
}

}  // namespace

GitConfigFinds git_config_read(std::string_view text) {
    GitConfigFinds f;
    for_each_value(text, [&](const std::string& section, const std::string& sub,
                             const std::string& key, const std::string& value) {
        if ((section == "include" || section == "includeif") && key == "path") {
            f.includes.push_back(value);
        } else if (section == "core" && key == "hookspath") {
            f.hooks_paths.push_back(value);
        } else if (auto cmd = command_of(section, key, value)) {
            f.commands.push_back({section + (sub.empty() ? "" : "." + sub) + "." + key,
                                  std::move(*cmd)});
        }
    });
    return f;
}

std::vector<std::string> git_command_words(std::string_view cmd) {
    std::vector<std::string> out;
    if (cmd.starts_with('!')) cmd.remove_prefix(1);  // an alias's or a helper's shell mark
    std::string w;
    bool in_word = false, at_start = true;
    const auto end_word = [&] {
        if (!in_word) return;
        in_word = false;
        std::string word = std::move(w);
        w.clear();
        if (word.empty()) {  // `''`: a word, naming nothing
            at_start = false;
            return;
        }
        const auto eq = word.find('=');
        const bool start = at_start;
        // `VAR=value cmd`: an assignment, its value a word; the command name still to come.
        if (start && eq != std::string::npos && eq > 0 &&
            word.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789") == eq) {
            if (eq + 1 < word.size()) out.push_back(word.substr(eq + 1));
            return;
        }
        at_start = false;
        if (word.front() == '-') {  // an option: only a value after `=` (`--file=x`)
            if (eq != std::string::npos && eq + 1 < word.size()) out.push_back(word.substr(eq + 1));
            return;
        }
        if (eq != std::string::npos && eq + 1 < word.size()) out.push_back(word.substr(eq + 1));
        // A command's name without a `/` is looked up in PATH, not in the directory.
        if (!start || word.find('/') != std::string::npos) out.push_back(std::move(word));
    };
    const auto separator = [&] {
        end_word();
        at_start = true;
    };
    // `$HOME` and `${HOME}` as `~` (expanded where the path is resolved), `$PWD` as `.`:
    // the directory git runs the command in. Other variables are kept as written.
    const auto variable = [&](std::size_t& i) {
        for (const auto& [name, as] : {std::pair{"HOME", "~"}, std::pair{"PWD", "."}}) {
            const std::string plain = std::string("$") + name,
                              braced = std::string("${") + name + "}";
            for (const std::string& form : {braced, plain}) {
                if (cmd.substr(i, form.size()) != form) continue;
                const std::size_t after = i + form.size();
                if (form == plain && after < cmd.size() &&
                    (std::isalnum(static_cast<unsigned char>(cmd[after])) || cmd[after] == '_'))
                    continue;
                w += as;
                i = after - 1;
                return;
            }
        }
        w.push_back('$');
    };
    for (std::size_t i = 0; i < cmd.size(); ++i) {
        const char c = cmd[i];
        if (c == ' ' || c == '\t') {
            end_word();
        } else if (c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' ||
                   c == '`' || c == '{' || c == '}') {
            separator();
        } else if (c == '<' || c == '>') {
            end_word();  // the target of a redirection is a word (`sh < x.sh` runs x.sh)
        } else if (c == '#' && !in_word) {
            break;  // a comment
        } else if (c == '$' && i + 1 < cmd.size() && cmd[i + 1] == '(') {
            separator();
            ++i;
        } else {
            in_word = true;
            if (c == '\'') {
                const auto close = cmd.find('\'', i + 1);
                w.append(
                    cmd.substr(i + 1, close == std::string_view::npos ? close : close - i - 1));
                if (close == std::string_view::npos) break;
                i = close;
            } else if (c == '"') {
                for (++i; i < cmd.size() && cmd[i] != '"'; ++i) {
                    if (cmd[i] == '\\' && i + 1 < cmd.size() &&
                        std::string_view("$`\"\\\n").find(cmd[i + 1]) != std::string_view::npos)
                        w.push_back(cmd[++i]);
                    else if (cmd[i] == '$')
                        variable(i);
                    else
                        w.push_back(cmd[i]);
                }
            } else if (c == '\\') {
                if (i + 1 < cmd.size()) w.push_back(cmd[++i]);
            } else if (c == '$') {
                variable(i);
            } else {
                w.push_back(c);
            }
        }
    }
    end_word();
    return out;
}

std::vector<std::string> git_config_includes(std::string_view text) {
    return git_config_read(text).includes;
}

}  // namespace agentbox::stage
