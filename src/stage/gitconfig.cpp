#include "stage/gitconfig.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>

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

    // `[name]`, `[name "sub"]` or `[name.sub]`: the section name, lower-cased.
    std::string section() {
        std::string name;
        bool quoted = false, ended = false;  // ended: a space or dot kept, nothing after it
        while (!done()) {
            const char c = get();
            if (c == '\n') break;
            if (quoted) {
                if (c == '\\' && !done()) get();
                else if (c == '"') quoted = false;
                continue;
            }
            if (c == ']') break;
            if (c == '"') {
                quoted = true;
            } else if (!ended) {
                name.push_back(c);
                ended = c == ' ' || c == '.';
            }
        }
        const auto cut = name.find_first_of(" .\t");
        return util::to_lower(name.substr(0, cut));
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

// The values of every `<section>.<key>` of the text (sections as `sections` name them,
// lower-case; a subsection is not told apart, which only finds more).
std::vector<std::string> config_values(std::string_view raw,
                                       std::initializer_list<std::string_view> sections,
                                       std::string_view key) {
    std::vector<std::string> out;
    // As git's config reader sees the text (config.c): a UTF-8 byte-order mark at its start
    // skipped, and every CRLF read as LF (get_next_char), a `\` before one included.
    if (raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);
    std::string text;
    text.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i)
        if (raw[i] != '\r' || i + 1 >= raw.size() || raw[i + 1] != '\n') text.push_back(raw[i]);
    Lexer lx(text);
    std::string section;
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
            if (k == key && !v.empty() &&
                std::find(sections.begin(), sections.end(), section) != sections.end())
                out.push_back(v);
        } else {
            lx.skip_line();
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> git_config_includes(std::string_view text) {
    return config_values(text, {"include", "includeif"}, "path");
}

std::vector<std::string> git_config_hooks_paths(std::string_view text) {
    return config_values(text, {"core"}, "hookspath");
}

}  // namespace agentbox::stage
