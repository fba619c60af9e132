#include "profile/placeholders.hpp"

#include <vector>

#include "profile/load.hpp"
#include "util/strings.hpp"

namespace agentbox::profile {

namespace {

const std::vector<std::string>& placeholder_names() {
    static const std::vector<std::string> names = {"project", "cwd", "tmp", "home"};
    return names;
}

[[noreturn]] void fail(const Source& src, const std::string& field, std::string_view raw,
                       const std::string& what) {
    throw ProfileError(src, field + " entry " + util::quote(raw) + ": " + what);
}

// Control bytes in a path would be cut at NUL by the kernel or mislead a terminal; no real
// path in a profile needs them.
void check_printable(std::string_view raw, const std::string& field, const Source& src) {
    for (unsigned char c : raw)
        if (c < 0x20 || c == 0x7f) fail(src, field, raw, "contains a control character");
}

const std::string* placeholder_value(std::string_view name, const Context& ctx) {
    if (name == "project") return &ctx.project;
    if (name == "cwd") return &ctx.cwd;
    if (name == "tmp") return &ctx.tmp;
    if (name == "home") return &ctx.home;
    return nullptr;
}

// Expands the placeholder at the start of `raw`, if any, and leaves the remainder in `rest`.
std::string leading(std::string_view raw, std::string_view& rest, const std::string& field,
                    const Source& src, const Context& ctx) {
    rest = raw;
    if (raw.empty()) return {};
    const std::size_t slash = raw.find('/');
    const std::string_view head = raw.substr(0, slash);
    if (raw.front() == '~') {
        if (head.size() > 1)
            fail(src, field, raw,
                 util::quote(head) + " (another user's home) is not supported; write the path "
                                     "in full");
        if (ctx.home.empty()) fail(src, field, raw, "~ has no value here (no home directory)");
        rest = raw.substr(1);
        return ctx.home;
    }
    if (raw.front() != '@') return {};
    const std::string_view name = head.substr(1);
    const std::string* value = placeholder_value(name, ctx);
    if (value == nullptr) {
        const std::string near = util::nearest(name, placeholder_names());
        fail(src, field, raw,
             "unknown placeholder " + util::quote(head) +
                 (near.empty() ? "; the placeholders are @project, @cwd, @tmp, @home and ~"
                               : " (did you mean \"@" + near + "\"?)"));
    }
    if (value->empty()) fail(src, field, raw, std::string(head) + " has no value here");
    rest = raw.substr(head.size());
    return *value;
}

bool valid_var_name(std::string_view name) {
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
    for (char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

// ${VAR} anywhere. An unset variable is an error rather than "": a silently empty prefix
// would turn "${CACHE}/x" into "/x".
std::string expand_vars(std::string_view s, std::string_view raw, const std::string& field,
                        const Source& src, const Context& ctx) {
    std::string out;
    for (;;) {
        const std::size_t open = s.find("${");
        if (open == std::string_view::npos) break;
        out += s.substr(0, open);
        const std::size_t close = s.find('}', open + 2);
        if (close == std::string_view::npos) fail(src, field, raw, "unterminated \"${\"");
        const std::string_view name = s.substr(open + 2, close - open - 2);
        if (!valid_var_name(name))
            fail(src, field, raw, util::quote(name) + " is not a valid variable name");
        const auto it = ctx.environ.find(std::string(name));
        if (it == ctx.environ.end())
            fail(src, field, raw, "environment variable " + std::string(name) + " is not set");
        out += it->second;
        s.remove_prefix(close + 1);
    }
    out += s;
    return out;
}

std::string expand(std::string_view raw, const std::string& field, const Source& src,
                   const Context& ctx) {
    check_printable(raw, field, src);
    std::string_view rest;
    std::string out = leading(raw, rest, field, src, ctx);
    out += expand_vars(rest, raw, field, src, ctx);
    return out;
}

}  // namespace

std::string expand_path(std::string_view raw, const std::string& field, const Source& src,
                        const Context& ctx) {
    const std::string expanded = expand(raw, field, src, ctx);
    if (expanded.empty() || expanded.front() != '/') {
        std::string_view hint = raw;
        while (util::starts_with(hint, "./")) hint.remove_prefix(2);
        throw ProfileError(src, field + " entry " + util::quote(raw) +
                                    " is not an absolute path (use @project/" +
                                    std::string(hint) + " or ~/" + std::string(hint) + ")");
    }
    return util::normalize_path(expanded);
}

std::string expand_value(std::string_view raw, const std::string& field, const Source& src,
                         const Context& ctx) {
    return expand(raw, field, src, ctx);
}

std::string project_glob(std::string_view raw, const std::string& field, const Source& src,
                         const Context& ctx) {
    check_printable(raw, field, src);
    if (raw.empty()) fail(src, field, raw, "is empty");
    std::string rel;
    const char first = raw.front();
    if (first == '/' || first == '~' || first == '@' || raw.find("${") != std::string_view::npos) {
        const std::string abs = expand_path(raw, field, src, ctx);
        if (ctx.project.empty()) fail(src, field, raw, "@project has no value here");
        if (!util::path_within(abs, ctx.project))
            fail(src, field, raw,
                 "is outside the project " + util::quote(ctx.project) +
                     "; commit.protect entries are paths inside the project");
        rel = util::relative_to(abs, ctx.project);
    } else {
        rel = util::normalize_path(raw);
    }
    if (rel == ".." || util::starts_with(rel, "../"))
        fail(src, field, raw, "leaves the project; commit.protect entries are paths inside it");
    if (rel == ".") rel = "**";
    return rel;
}

}  // namespace agentbox::profile
