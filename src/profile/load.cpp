// One profile document -> one Profile layer (DESIGN.md §3). The only file that includes
// toml++: everything past parse() sees plain structs.
//
// Validation is strict and fails on the first problem, naming the offending node's own
// line:col: a typo in a sandbox profile must never silently widen or narrow what runs.
//
// toml++ is compiled here (header-only). Its internal asserts are off in every build, as in a
// release build: some are reachable from malformed input that its parser then reports as an
// ordinary error (the profile fuzzer found one in parse_key), and a debug or fuzz build must
// exercise what ships, not abort where the shipped parser answers "parse error".
#define TOML_ASSERT(expr) static_assert(true)
#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "profile/config.hpp"
#include "profile/load.hpp"
#include "profile/names.hpp"
#include "profile/placeholders.hpp"
#include "profile/summary.hpp"
#include "util/escape.hpp"
#include "util/strings.hpp"

namespace agentbox::profile {

namespace {

// The kernel's own ceilings: PID_MAX_LIMIT (pids.max refuses more) and the largest
// fs.nr_open (RLIMIT_NOFILE can never exceed it).
constexpr std::uint64_t kMaxPids = 4u << 20;
constexpr std::uint64_t kMaxOpenFiles = 1073741816;

constexpr std::int64_t kSchemaVersion = 1;

const char* type_phrase(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

Source source_of(const toml::source_region& r, const std::string& origin) {
    return Source{origin, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

std::string list_words(const std::vector<std::string>& words) { return util::join(words, ", "); }

bool is_env_pattern(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '*' || c == '?';
        if (!ok) return false;
    }
    return true;
}

bool is_env_name(std::string_view s) {
    if (s.empty() || (s.front() >= '0' && s.front() <= '9')) return false;
    for (char c : s)
        if (c == '*' || c == '?') return false;
    return is_env_pattern(s);
}

bool is_syscall_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

// A host rule of DESIGN.md §6: "example.com", "example.com:8080", "*.example.com", an IPv4
// address, or "[v6]" / "[v6]:port". Returns what is wrong with it, or "" when it is valid.
// Rejecting URLs and stray characters here keeps a rule from never matching without notice.
std::string host_rule_problem(std::string_view rule) {
    if (rule.empty()) return "is empty";
    if (rule.find("://") != std::string_view::npos) return "is a URL; write just the host name";
    std::string_view host = rule;
    std::string_view port;
    if (host.front() == '[') {
        const std::size_t close = host.find(']');
        if (close == std::string_view::npos) return "has \"[\" without \"]\"";
        std::string_view after = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!after.empty()) {
            if (after.front() != ':') return "has text after \"]\" that is not \":PORT\"";
            port = after.substr(1);
            if (port.empty()) return "has an empty port";
        }
        if (host.empty()) return "has an empty address in brackets";
        for (char c : host) {
            const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                            (c >= 'A' && c <= 'F') || c == ':' || c == '.';
            if (!ok) return "is not an IPv6 address in brackets";
        }
    } else {
        const std::size_t colon = host.find(':');
        if (colon != std::string_view::npos) {
            if (host.find(':', colon + 1) != std::string_view::npos)
                return "looks like an IPv6 address; write it in brackets: \"[::1]:443\"";
            port = host.substr(colon + 1);
            host = host.substr(0, colon);
            if (port.empty()) return "has an empty port";
        }
        std::string_view name = host;
        if (util::starts_with(name, "*.")) name.remove_prefix(2);
        if (name.empty()) return "has no host name";
        for (char c : name) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
            if (c == '*') return "may only use \"*\" as a leading \"*.\"";
            if (!ok) return "is not a host name (letters, digits, \"-\", \".\")";
        }
        if (name.front() == '.' || name.find("..") != std::string_view::npos)
            return "has an empty label";
    }
    if (!port.empty()) {
        std::uint32_t n = 0;
        for (char c : port) {
            if (c < '0' || c > '9') return "has a port that is not a number";
            n = n * 10 + static_cast<std::uint32_t>(c - '0');
            if (n > 65535) return "has a port above 65535";
        }
        if (n == 0) return "has port 0";
    }
    return {};
}

// Host names are matched in canonical form (lower case, no trailing dot, DESIGN.md §6).
// A secret is bound to exact names: a wildcard or a port would hand the real value to hosts
// nobody named.
std::string secret_host_problem(std::string_view host) {
    if (host.find('*') != std::string_view::npos) return "must be an exact host name, not a pattern";
    if (host.find(':') != std::string_view::npos && host.front() != '[')
        return "must be a host name without a port";
    return host_rule_problem(host);
}

std::string canonical_host_rule(std::string_view rule) {
    std::string out = util::to_lower(rule);
    const std::size_t colon = out.front() == '[' ? out.find("]:") : out.find(':');
    std::string host = out.substr(0, colon);
    const std::string rest = colon == std::string::npos ? "" : out.substr(colon);
    if (host.size() > 1 && host.back() == '.') host.pop_back();
    return host + rest;
}

// A network.dlp_off entry: "RULE@HOST", RULE one of the credential-format rules
// (kDlpFormatRules), HOST an exact name as a secret's (the scanner compares the request's
// canonical host). Sets `canonical` or returns what is wrong. The run's own secret values are
// refused by a rule of their own that no profile may switch off: that a real value leaves only
// for its bound hosts is the promise [secrets] makes, and "unscannable" guards that rule too.
std::string dlp_off_problem(std::string_view entry, std::string& canonical) {
    const std::size_t at = entry.rfind('@');
    if (at == std::string_view::npos)
        return "needs RULE@HOST, e.g. \"private-key@vault.example.com\"";
    const std::string rule(entry.substr(0, at));
    const std::string_view host = entry.substr(at + 1);
    std::vector<std::string> known(std::begin(kDlpFormatRules), std::end(kDlpFormatRules));
    if (util::starts_with(rule, "secret"))
        return "cannot turn off the rule for the run's own secret values: a real value is sent "
               "only to the hosts its [secrets] entry names (add the host there instead)";
    if (rule == "unscannable")
        return "cannot turn off \"unscannable\": a body the scanner cannot read could carry a "
               "secret value";
    if (std::find(known.begin(), known.end(), rule) == known.end()) {
        const std::string near = util::nearest(rule, known);
        return "names no DLP format rule " + util::quote(rule) +
               (near.empty() ? "" : " (did you mean \"" + near + "\"?)") +
               "; the rules are " + list_words(known);
    }
    if (host.empty()) return "has no host after \"@\"";
    std::string problem = secret_host_problem(host);
    if (!problem.empty()) return "host " + util::quote(host) + " " + problem;
    canonical = rule + "@" + canonical_host_rule(host);
    return {};
}

// A request rule of network.request: "METHODS HOST[PATH]" (agentbox-profile(5)). METHODS is
// "*", or a comma-separated list of upper-case methods and "read-only" (GET and HEAD); HOST an
// exact host name (request rules need interception, which works per name); PATH a pattern of
// "/"-separated segments where "*" matches within one segment and a "**" segment any number
// of them. Sets `canonical` (host lower case; percent-escapes upper case) or returns what is
// wrong. The proxy compares the normalized request path (policy/requestrules.hpp), so a
// pattern may only be written in that normal form: no dot segments, no "//", no escaped
// unreserved character, no query.
std::string request_rule_problem(std::string_view rule, std::string& canonical) {
    const std::size_t space = rule.find(' ');
    if (space == std::string_view::npos)
        return "needs METHODS and a host, e.g. \"GET,HEAD api.example.com/v1/**\"";
    const std::string_view methods = rule.substr(0, space);
    std::string_view rest = rule.substr(space + 1);
    if (rest.find(' ') != std::string_view::npos || rest.find('\t') != std::string_view::npos)
        return "has more than one space (\"METHODS HOST[/PATH]\")";
    if (methods.empty()) return "has no methods";
    for (const std::string& m : util::split(methods, ',')) {
        if (m == "*" || m == "read-only") continue;
        if (m.empty()) return "has an empty method in " + util::quote(methods);
        for (char c : m) {
            if (c >= 'a' && c <= 'z')
                return "has method " + util::quote(m) +
                       ": methods are upper case (HTTP methods are case-sensitive)";
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                return "has method " + util::quote(m) + ", which is not a method name";
        }
    }
    if (rest.find("://") != std::string_view::npos)
        return "has a URL; write HOST/PATH without the scheme";
    const std::size_t slash = rest.find('/');
    const std::string_view host = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (host.find('*') != std::string_view::npos)
        return "must name an exact host, not a pattern (request rules need the host's TLS)";
    if (host.find(':') != std::string_view::npos && (host.empty() || host.front() != '['))
        return "must name the host without a port (a rule holds for every port)";
    if (std::string p = host_rule_problem(host); !p.empty()) return "host " + p;
    std::string out_path;
    std::size_t seg_start = 0;
    for (std::size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if (c == '/') {
            const std::string_view seg = path.substr(seg_start, i - seg_start);
            if (i > 0 && seg.empty()) return "has an empty path segment (\"//\")";
            if (seg == "." || seg == "..") return "has a dot segment (\".\" or \"..\")";
            if (seg.find("**") != std::string_view::npos && seg != "**")
                return "may only use \"**\" as a whole path segment";
            seg_start = i + 1;
            out_path += c;
            continue;
        }
        if (c == '?' || c == '#')
            return "has a query or fragment: rules match the path only";
        if (c == '%') {
            auto hex = [](char h) -> int {
                if (h >= '0' && h <= '9') return h - '0';
                if (h >= 'a' && h <= 'f') return h - 'a' + 10;
                if (h >= 'A' && h <= 'F') return h - 'A' + 10;
                return -1;
            };
            if (i + 2 >= path.size() || hex(path[i + 1]) < 0 || hex(path[i + 2]) < 0)
                return "has a malformed percent-escape";
            const int v = hex(path[i + 1]) * 16 + hex(path[i + 2]);
            static constexpr char kHex[] = "0123456789ABCDEF";
            const std::string esc{kHex[v >> 4], kHex[v & 15]};
            const bool unreserved = (v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z') ||
                                    (v >= '0' && v <= '9') || v == '-' || v == '.' || v == '_' ||
                                    v == '~';
            if (unreserved)
                return "escapes the unreserved character " +
                       util::quote(std::string(1, static_cast<char>(v))) +
                       "; write it as itself";
            if (v == '/' || v == '\\' || v < 0x20 || v == 0x7f)
                return "escapes \"/\", \"\\\" or a control character, which no request may";
            out_path += "%" + esc;
            i += 2;
            continue;
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') ||
                        std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos;
        if (!ok) return "has " + util::quote(std::string(1, c)) + " in its path";
        out_path += c;
    }
    if (!path.empty()) {
        const std::string_view seg = path.substr(seg_start);
        if (seg == "." || seg == "..") return "has a dot segment (\".\" or \"..\")";
        if (seg.find("**") != std::string_view::npos && seg != "**")
            return "may only use \"**\" as a whole path segment";
    }
    canonical = std::string(methods) + " " + canonical_host_rule(host) + out_path;
    return {};
}

// Walks one document. Each method validates one part of the schema and fills `out_`.
class Parser {
public:
    Parser(const std::string& origin, const Context& ctx) : origin_(origin), ctx_(ctx) {}

    Profile run(const toml::table& root) {
        schema_version(root);
        check_keys(root,
                   {"version", "name", "description", "extends", "filesystem", "network", "env",
                    "process", "limits", "commit", "approve", "test", "secrets"},
                   "at the top level");
        // The profile's own expectations: no part of the policy, but a malformed one is
        // refused like any other key (`agentbox profile test` runs them).
        if (const toml::node* n = root.get("test")) (void)tests(*n);
        if (const toml::node* n = root.get("name")) out_.name = text_setting(*n, "name");
        if (const toml::node* n = root.get("description"))
            out_.description = text_setting(*n, "description");
        if (const toml::node* n = root.get("extends"))
            out_.extends = entries(*n, "extends", [&](const std::string& s, const Source& src) {
                if (s.empty()) fail(src, "extends entries must not be empty");
                return s;
            });
        if (const toml::node* n = root.get("filesystem")) filesystem(section(*n, "filesystem"));
        if (const toml::node* n = root.get("network")) network(section(*n, "network"));
        if (const toml::node* n = root.get("env")) env(section(*n, "env"));
        if (const toml::node* n = root.get("process")) process(section(*n, "process"));
        if (const toml::node* n = root.get("limits")) limits(section(*n, "limits"));
        if (const toml::node* n = root.get("commit")) commit(section(*n, "commit"));
        if (const toml::node* n = root.get("approve")) approve(section(*n, "approve"));
        if (const toml::node* n = root.get("secrets")) secrets(section(*n, "secrets"));
        return std::move(out_);
    }

private:
    Source at(const toml::node& n) const { return source_of(n.source(), origin_); }
    Source at(const toml::key& k) const { return source_of(k.source(), origin_); }
    [[noreturn]] void fail(const Source& src, const std::string& message) const {
        throw ProfileError(src, message);
    }

    // Required in every file, first: a later schema may give the same keys another meaning,
    // so a document of another version is refused before anything else is read.
    void schema_version(const toml::table& root) {
        const toml::node* n = root.get("version");
        if (n == nullptr)
            fail(Source{origin_, 1, 1},
                 "missing \"version = 1\" at the top level (the profile schema version)");
        const auto* v = n->as_integer();
        if (v == nullptr)
            fail(at(*n), std::string("version must be an integer, not ") + type_phrase(*n));
        if (v->get() != kSchemaVersion)
            fail(at(*n), "version must be 1 (the schema this agentbox reads); got " +
                             std::to_string(v->get()));
        out_.version = static_cast<int>(kSchemaVersion);
    }

    void check_keys(const toml::table& t, const std::vector<std::string>& known,
                    const std::string& where) const {
        // toml++ iterates keys sorted; report the first unknown one in document order, as a
        // reader scanning the file top-down would expect.
        const toml::key* first = nullptr;
        for (auto&& [key, value] : t) {
            (void)value;
            bool ok = false;
            for (const auto& k : known) ok = ok || k == key.str();
            if (ok) continue;
            const auto& b = key.source().begin;
            if (first == nullptr || b.line < first->source().begin.line ||
                (b.line == first->source().begin.line && b.column < first->source().begin.column))
                first = &key;
        }
        if (first == nullptr) return;
        const std::string name(first->str());
        const std::string near = util::nearest(name, known);
        fail(at(*first), "unknown key " + util::quote(name) + " " + where +
                             (near.empty() ? "; the keys are " + list_words(known)
                                           : "; did you mean \"" + near + "\"?"));
    }

    const toml::table& section(const toml::node& n, const std::string& name) const {
        const toml::table* t = n.as_table();
        if (t == nullptr) fail(at(n), name + " must be a table, not " + type_phrase(n));
        return *t;
    }

    Setting<std::string> text_setting(const toml::node& n, const std::string& name) const {
        const auto* s = n.as_string();
        if (s == nullptr) fail(at(n), name + " must be a string, not " + type_phrase(n));
        return Setting<std::string>{s->get(), at(n), true};
    }

    Setting<bool> bool_setting(const toml::node& n, const std::string& name) const {
        const auto* b = n.as_boolean();
        if (b == nullptr) fail(at(n), name + " must be a boolean, not " + type_phrase(n));
        return Setting<bool>{b->get(), at(n), true};
    }

    // An array of strings; `convert(raw, src)` validates each one and returns its value.
    template <class F>
    std::vector<Entry> entries(const toml::node& n, const std::string& name, F convert) const {
        const toml::array* arr = n.as_array();
        if (arr == nullptr)
            fail(at(n), name + " must be an array of strings, not " + type_phrase(n));
        std::vector<Entry> out;
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node& item = *arr->get(i);
            const auto* s = item.as_string();
            if (s == nullptr)
                fail(at(item), name + "[" + std::to_string(i) + "] must be a string, not " +
                                   type_phrase(item));
            const Source src = at(item);
            out.push_back(Entry{convert(s->get(), src), s->get(), src});
        }
        return out;
    }

    std::vector<Entry> paths(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            return expand_path(s, name, src, ctx_);
        });
    }

    // One of the names of E's table (profile/names.hpp).
    template <class E>
    Setting<E> choice(const toml::node& n, const std::string& name) const {
        const auto options = names(E{});
        std::vector<std::string> names;
        for (const auto& o : options) names.emplace_back(o.name);
        const auto* s = n.as_string();
        if (s == nullptr)
            fail(at(n), name + " must be one of " + list_words(names) + ", not " + type_phrase(n));
        for (const auto& o : options)
            if (s->get() == o.name) return Setting<E>{o.value, at(n), true};
        const std::string near = util::nearest(s->get(), names);
        fail(at(n), name + " must be one of " + list_words(names) + "; got " +
                        util::quote(s->get()) +
                        (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
    }

    // Limits: a positive number, a unit string, or "none" (stored as 0: no limit). Zero is
    // refused rather than taken as "none" so that `memory = 0` is not a silent no-limit.
    template <class ParseString>
    Setting<std::uint64_t> limit(const toml::node& n, const std::string& name,
                                 std::uint64_t int_multiplier, const std::string& expected,
                                 ParseString parse_string) const {
        if (const auto* i = n.as_integer()) {
            const std::int64_t v = i->get();
            if (v <= 0)
                fail(at(n), name + " must be positive; got " + std::to_string(v) +
                                " (write \"none\" for no limit)");
            const auto u = static_cast<std::uint64_t>(v);
            if (u > UINT64_MAX / int_multiplier) fail(at(n), name + " is too large");
            return Setting<std::uint64_t>{u * int_multiplier, at(n), true};
        }
        if (const auto* s = n.as_string()) {
            if (s->get() == "none") return Setting<std::uint64_t>{0, at(n), true};
            const auto v = parse_string(s->get());
            if (!v)
                fail(at(n), name + " must be " + expected + " or \"none\"; got " +
                                util::quote(s->get()));
            if (*v == 0)
                fail(at(n), name + " must be positive; got " + util::quote(s->get()) +
                                " (write \"none\" for no limit)");
            return Setting<std::uint64_t>{*v, at(n), true};
        }
        fail(at(n), name + " must be " + expected + " or \"none\", not " + type_phrase(n));
    }

    Setting<std::uint64_t> size(const toml::node& n, const std::string& name) const {
        return limit(n, name, 1, "a size in bytes, like 1048576 or \"4GiB\"",
                     [](const std::string& s) { return parse_size(s); });
    }

    Setting<std::uint64_t> duration(const toml::node& n, const std::string& name) const {
        return limit(n, name, 1000, "a duration in seconds, like 90 or \"1h30m\"",
                     [](const std::string& s) { return parse_duration_ms(s); });
    }

    // At most `max`: past it the kernel refuses the value only when the run applies it (a
    // raw EINVAL from the cgroup or setrlimit), after the profile was accepted.
    Setting<std::uint64_t> count(const toml::node& n, const std::string& name,
                                 std::uint64_t max) const {
        Setting<std::uint64_t> s = limit(n, name, 1, "a positive integer",
                                         [](const std::string&) { return std::optional<std::uint64_t>(); });
        if (s.value > max)
            fail(at(n), name + " must be at most " + std::to_string(max) + "; got " +
                            std::to_string(s.value));
        return s;
    }

    void filesystem(const toml::table& t) {
        check_keys(t, {"read", "write", "deny", "tmpfs", "exec", "state", "state_review"},
                   "in [filesystem]");
        auto& fs = out_.filesystem;
        if (const toml::node* n = t.get("read")) fs.read = paths(*n, "filesystem.read");
        if (const toml::node* n = t.get("write")) fs.write = paths(*n, "filesystem.write");
        if (const toml::node* n = t.get("deny")) fs.deny = paths(*n, "filesystem.deny");
        if (const toml::node* n = t.get("tmpfs")) fs.tmpfs = paths(*n, "filesystem.tmpfs");
        if (const toml::node* n = t.get("exec")) fs.exec = paths(*n, "filesystem.exec");
        if (const toml::node* n = t.get("state")) fs.state = paths(*n, "filesystem.state");
        if (const toml::node* n = t.get("state_review"))
            fs.state_review = review_entries(*n, "filesystem.state_review");
    }

    // filesystem.state_review: a path (it starts like one: ~ / @ $) names a state file whose
    // every change is reviewed; anything else is a key name, matched at any depth.
    std::vector<Entry> review_entries(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            if (!s.empty() && std::string_view("~/@$").find(s.front()) != std::string_view::npos)
                return expand_path(s, name, src, ctx_);
            if (s.empty() || s.find_first_of(" \t\n\"") != std::string::npos)
                fail(src, name + " entry " + util::quote(s) +
                              " is neither a path nor a key name");
            return s;
        });
    }

    std::vector<Entry> host_rules(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            const std::string problem = host_rule_problem(s);
            if (!problem.empty()) fail(src, name + " entry " + util::quote(s) + " " + problem);
            return canonical_host_rule(s);
        });
    }

    std::vector<Entry> request_rules(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            std::string canonical;
            const std::string problem = request_rule_problem(s, canonical);
            if (!problem.empty()) fail(src, name + " entry " + util::quote(s) + " " + problem);
            return canonical;
        });
    }

    std::vector<Entry> dlp_offs(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            std::string canonical;
            const std::string problem = dlp_off_problem(s, canonical);
            if (!problem.empty()) fail(src, name + " entry " + util::quote(s) + " " + problem);
            return canonical;
        });
    }

    void network(const toml::table& t) {
        check_keys(t, {"mode", "allow", "deny", "unlisted", "allow_private", "request", "dlp_off",
                       "capture"},
                   "in [network]");
        auto& net = out_.network;
        if (const toml::node* n = t.get("mode"))
            net.mode = choice<NetMode>(*n, "network.mode");
        if (const toml::node* n = t.get("allow")) net.allow = host_rules(*n, "network.allow");
        if (const toml::node* n = t.get("deny")) net.deny = host_rules(*n, "network.deny");
        if (const toml::node* n = t.get("request"))
            net.request = request_rules(*n, "network.request");
        if (const toml::node* n = t.get("dlp_off"))
            net.dlp_off = dlp_offs(*n, "network.dlp_off");
        if (const toml::node* n = t.get("unlisted"))
            net.unlisted = choice<Unlisted>(*n, "network.unlisted");
        if (const toml::node* n = t.get("allow_private"))
            net.allow_private = bool_setting(*n, "network.allow_private");
        if (const toml::node* n = t.get("capture"))
            net.capture = bool_setting(*n, "network.capture");
        // Allow rules reach nothing without the proxy, and in a file that names the mode itself
        // the two cannot both be meant (merge.cpp switches an inherited "none" to "proxy").
        if (net.mode.set && net.mode.value == NetMode::none && !net.allow.empty())
            fail(net.mode.src, "network.mode = \"none\" with network.allow (" +
                                   util::quote(net.allow.front().raw) +
                                   "): allow rules work only through the proxy; set mode = "
                                   "\"proxy\" or remove the allow rules");
    }

    std::vector<Entry> env_patterns(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            if (!is_env_pattern(s))
                fail(src, name + " entry " + util::quote(s) +
                              " is not a variable name or pattern (letters, digits, _, * and ?)");
            return s;
        });
    }

    void env(const toml::table& t) {
        check_keys(t, {"pass", "deny", "set"}, "in [env]");
        if (const toml::node* n = t.get("pass")) out_.env.pass = env_patterns(*n, "env.pass");
        if (const toml::node* n = t.get("deny")) out_.env.deny = env_patterns(*n, "env.deny");
        if (const toml::node* n = t.get("set")) {
            const toml::table& set = section(*n, "env.set");
            for (auto&& [key, value] : set) {
                const std::string name(key.str());
                if (!is_env_name(name))
                    fail(at(key), "env.set key " + util::quote(name) +
                                      " is not a variable name (letters, digits and _)");
                const std::string field = "env.set." + name;
                const auto* s = value.as_string();
                if (s == nullptr)
                    fail(at(value), field + " must be a string, not " + type_phrase(value));
                const Source src = at(value);
                out_.env.set[name] =
                    Entry{expand_value(s->get(), field, src, ctx_), s->get(), src};
            }
        }
    }

    std::vector<Entry> syscalls(const toml::node& n, const std::string& name) const {
        return entries(n, name, [&](const std::string& s, const Source& src) {
            if (!is_syscall_name(s))
                fail(src, name + " entry " + util::quote(s) + " is not a system call name");
            return s;
        });
    }

    void process(const toml::table& t) {
        check_keys(t, {"seccomp", "allow_syscalls", "deny_syscalls", "landlock"}, "in [process]");
        auto& p = out_.process;
        if (const toml::node* n = t.get("seccomp"))
            p.seccomp = choice<SeccompMode>(*n, "process.seccomp");
        if (const toml::node* n = t.get("allow_syscalls"))
            p.allow_syscalls = syscalls(*n, "process.allow_syscalls");
        if (const toml::node* n = t.get("deny_syscalls"))
            p.deny_syscalls = syscalls(*n, "process.deny_syscalls");
        if (const toml::node* n = t.get("landlock"))
            p.landlock = choice<LandlockMode>(*n, "process.landlock");
    }

    void limits(const toml::table& t) {
        check_keys(t, {"timeout", "memory", "pids", "file_size", "stage_size", "open_files",
                       "log_size"},
                   "in [limits]");
        auto& l = out_.limits;
        if (const toml::node* n = t.get("timeout")) l.timeout_ms = duration(*n, "limits.timeout");
        if (const toml::node* n = t.get("memory")) l.memory = size(*n, "limits.memory");
        if (const toml::node* n = t.get("pids")) l.pids = count(*n, "limits.pids", kMaxPids);
        if (const toml::node* n = t.get("file_size")) l.file_size = size(*n, "limits.file_size");
        if (const toml::node* n = t.get("stage_size"))
            l.stage_size = size(*n, "limits.stage_size");
        if (const toml::node* n = t.get("open_files"))
            l.open_files = count(*n, "limits.open_files", kMaxOpenFiles);
        if (const toml::node* n = t.get("log_size")) l.log_size = size(*n, "limits.log_size");
    }

    void commit(const toml::table& t) {
        check_keys(t, {"on_exit", "protect"}, "in [commit]");
        if (const toml::node* n = t.get("on_exit"))
            out_.commit.on_exit = choice<OnExit>(*n, "commit.on_exit");
        if (const toml::node* n = t.get("protect"))
            out_.commit.protect =
                entries(*n, "commit.protect", [&](const std::string& s, const Source& src) {
                    return project_glob(s, "commit.protect", src, ctx_);
                });
    }

    void approve(const toml::table& t) {
        check_keys(t, {"command", "timeout"}, "in [approve]");
        if (const toml::node* n = t.get("command")) {
            out_.approve.command = text_setting(*n, "approve.command");
            if (util::trim(out_.approve.command.value).empty())
                fail(at(*n), "approve.command must not be empty");
        }
        if (const toml::node* n = t.get("timeout"))
            out_.approve.timeout_ms = duration(*n, "approve.timeout");
    }

    // [secrets] NAME = { hosts = [...], env = "VAR" | file = "PATH" | command = [...] }; with
    // none of the three the value is the launcher's variable NAME itself.
    void secrets(const toml::table& t) {
        for (auto&& [key, value] : t) {
            const std::string name(key.str());
            if (!is_env_name(name))
                fail(at(key), "secrets key " + util::quote(name) +
                                  " is not a variable name (letters, digits and _)");
            const std::string field = "secrets." + name;
            const toml::table& s = section(value, field);
            check_keys(s, {"hosts", "env", "file", "command"}, "in " + field);
            Secret sec;
            sec.name = name;
            sec.src = at(key);
            const toml::node* hosts = s.get("hosts");
            if (hosts == nullptr) fail(at(value), field + " needs hosts = [\"HOST\", ...]");
            sec.hosts = entries(*hosts, field + ".hosts", [&](const std::string& h, const Source& src) {
                const std::string problem = secret_host_problem(h);
                if (!problem.empty()) fail(src, field + ".hosts entry " + util::quote(h) + " " + problem);
                return canonical_host_rule(h);
            });
            if (sec.hosts.empty()) fail(at(*hosts), field + ".hosts must name at least one host");
            int sources = 0;
            if (const toml::node* n = s.get("env")) {
                sec.env = text_setting(*n, field + ".env").value;
                if (!is_env_name(sec.env))
                    fail(at(*n), field + ".env " + util::quote(sec.env) + " is not a variable name");
                ++sources;
            }
            if (const toml::node* n = s.get("file")) {
                sec.file = expand_path(text_setting(*n, field + ".file").value, field + ".file", at(*n), ctx_);
                ++sources;
            }
            if (const toml::node* n = s.get("command")) {
                for (const auto& e : entries(*n, field + ".command",
                                             [](const std::string& a, const Source&) { return a; }))
                    sec.command.push_back(e.value);
                if (sec.command.empty() || sec.command.front().empty())
                    fail(at(*n), field + ".command must name a program");
                ++sources;
            }
            if (sources > 1)
                fail(at(value), field + " takes one of env, file and command, not several");
            if (sources == 0) sec.env = name;
            out_.secrets[name] = std::move(sec);
        }
    }

public:
    // [[test]] tables: op, target, expect, and an optional note.
    std::vector<ProfileTest> tests(const toml::node& n) const {
        const toml::array* a = n.as_array();
        if (a == nullptr)
            fail(at(n), std::string("test must be an array of tables ([[test]]), not ") +
                            type_phrase(n));
        std::vector<ProfileTest> out;
        for (const toml::node& item : *a) {
            const toml::table* t = item.as_table();
            if (t == nullptr)
                fail(at(item), std::string("each test must be a table ([[test]]), not ") +
                                   type_phrase(item));
            check_keys(*t, {"op", "target", "expect", "note"}, "in [[test]]");
            ProfileTest pt;
            pt.where = at(item);
            auto text = [&](const char* key, bool required) {
                const toml::node* v = t->get(key);
                if (v == nullptr) {
                    if (required) fail(pt.where, std::string("[[test]] needs ") + key);
                    return std::string();
                }
                const auto* str = v->as_string();
                if (str == nullptr)
                    fail(at(*v), std::string("test ") + key + " must be a string, not " +
                                     type_phrase(*v));
                return str->get();
            };
            pt.op = text("op", true);
            pt.target = text("target", true);
            pt.expect = text("expect", true);
            pt.note = text("note", false);
            const std::vector<std::string> ops = {"read",   "write", "exec",   "connect",
                                                  "commit", "env",   "request"};
            if (std::find(ops.begin(), ops.end(), pt.op) == ops.end())
                fail(at(*t->get("op")), "test op must be one of " + list_words(ops) + ", not " +
                                            util::quote(pt.op));
            const std::vector<std::string> verdicts = {"allow", "deny", "ask"};
            if (std::find(verdicts.begin(), verdicts.end(), pt.expect) == verdicts.end())
                fail(at(*t->get("expect")), "test expect must be one of " +
                                                list_words(verdicts) + ", not " +
                                                util::quote(pt.expect));
            if (pt.target.empty()) fail(at(*t->get("target")), "test target must not be empty");
            out.push_back(std::move(pt));
        }
        return out;
    }

private:
    const std::string& origin_;
    const Context& ctx_;
    Profile out_;
};

// toml++ 3.3.0 (Debian 12's) asks is_non_ascii_horizontal_whitespace whether a character is
// blank wherever blanks may stand, and that function reaches __builtin_unreachable for the
// characters of three of its table's blocks (it has no case for blocks 0, 11 and 63): U+00A1 to
// U+0499 (Latin-1 letters, Latin Extended, Greek, Cyrillic), U+2C5E to U+3057 but U+3000 (CJK
// punctuation and the first kana among them) and U+FB26 to U+FEFE. The ranges are the function's
// own arithmetic (found by fuzz_profile, sanitized; undefined behaviour, not an error).
bool toml_cannot_ask_if_blank(char32_t c) {
    return (c >= 0xA1 && c <= 0x499) || (c >= 0x2C5E && c <= 0x3057 && c != 0x3000) ||
           (c >= 0xFB26 && c <= 0xFEFE);
}

// Line and column (in characters, a BOM not counted) of text[at], as toml++ would give them.
Source position_in(std::string_view text, std::size_t at, const std::string& origin) {
    int line = 1, column = 1;
    for (std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0; i < at && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++column;  // a character, not a UTF-8 continuation byte
        }
    }
    return Source{origin, line, column};
}

// Where toml++ would meet a character it cannot read (above) and why, if anywhere. TOML 1.0
// allows characters outside ASCII only in strings and comments, so outside those every one is
// refused. Inside a multi-line basic string toml++ asks too, of the character after a
// backslash (an escape, which must be ASCII) and of the first one after a line-ending
// backslash's blanks (valid TOML: only the three blocks are refused there). What is a string
// is decided as toml++ decides it: a quote opens one only where a key or a value begins; a
// value that begins otherwise (`4'x`, `inf.'x'`) is read by toml++ up to the next blank,
// comma, bracket, brace or '#', quotes and all, and so is it here.
std::optional<std::pair<Source, std::string>> unreadable_by_toml(std::string_view text,
                                                                  const std::string& origin) {
    const auto at = [&](std::size_t k, std::string why) {
        return std::make_optional(std::pair{position_in(text, k, origin), std::move(why)});
    };
    const auto run_of = [&](std::size_t from, char c) {
        std::size_t n = 0;
        while (from + n < text.size() && text[from + n] == c) ++n;
        return n;
    };
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    // What the next character can begin: a key (or a segment of one), a value, the rest of a
    // bare value, or nothing a quote could open.
    enum class Ctx { key, value, bare, other } ctx = Ctx::key;
    std::string open;     // the arrays ('a'), inline tables ('t') and headers ('h') open
    char quote = 0;       // inside a string opened by ' or ", `triple` for a multi-line one
    bool triple = false, comment = false;
    Ctx after_string = Ctx::other;
    const auto in = [&](char kind) { return !open.empty() && open.back() == kind; };
    for (std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0; i < text.size();) {
        const char c = text[i];
        std::size_t step = 1;
        if (quote != 0) {
            if (c == '\n' && !triple) {
                quote = 0;  // an unterminated string: toml++ says so
                continue;
            }
            if (c == '\\' && quote == '"') {
                step = 2;
                const std::size_t next = i + 1;
                if (triple && next < text.size() && static_cast<unsigned char>(text[next]) >= 0x80)
                    return at(next, "an escape sequence is a backslash and an ASCII character "
                                    "(TOML 1.0)");
                if (triple && next < text.size() && blank(text[next])) {
                    std::size_t k = next;
                    while (k < text.size() && blank(text[k])) ++k;
                    // Bytes that are not UTF-8 decode to nothing: toml++ refuses them itself.
                    if (k < text.size() &&
                        toml_cannot_ask_if_blank(util::decode_utf8(text, k).cp))
                        return at(k, "this TOML parser (toml++ 3.3.0) cannot read this character "
                                     "after a line-ending backslash; write it as an escape, "
                                     "\\uXXXX");
                    step = k - i;
                }
            } else if (c == quote && (!triple || run_of(i, c) >= 3)) {
                // A multi-line string may end with up to two quotes of its own before the three.
                step = triple ? run_of(i, c) : 1;
                quote = 0;
                ctx = after_string;
            }
            i += step;
            continue;
        }
        if (c == '\n') {
            comment = false;
            ctx = in('a') ? Ctx::value : Ctx::key;
        } else if (comment) {
        } else if (ctx == Ctx::bare && !blank(c) && c != ']' && c != '}' && c != ',' && c != '#') {
            if (static_cast<unsigned char>(c) >= 0x80)
                return at(i, "a character outside ASCII may stand only in a string or a comment "
                             "(TOML 1.0)");
        } else if (static_cast<unsigned char>(c) >= 0x80) {
            return at(i, "a character outside ASCII may stand only in a string or a comment "
                         "(TOML 1.0)");
        } else if (blank(c)) {
            if (ctx == Ctx::bare) ctx = Ctx::other;
        } else if (c == '#') {
            comment = true;
        } else if (c == '"' || c == '\'') {
            if (ctx == Ctx::key || ctx == Ctx::value) {
                quote = c;
                triple = run_of(i, c) >= 3;
                step = triple ? 3 : 1;
                after_string = ctx == Ctx::key ? Ctx::key : Ctx::other;
            }
        } else if (c == '=') {
            ctx = Ctx::value;
        } else if (c == '[') {
            open.push_back(ctx == Ctx::value ? 'a' : 'h');
            ctx = ctx == Ctx::value ? Ctx::value : Ctx::key;
        } else if (c == '{') {
            open.push_back('t');
            ctx = Ctx::key;
        } else if (c == ']' || c == '}') {
            if (!open.empty()) open.pop_back();
            ctx = Ctx::other;
        } else if (c == ',') {
            ctx = in('a') ? Ctx::value : in('t') ? Ctx::key : Ctx::other;
        } else if (c == '.') {
            if (ctx != Ctx::key) ctx = Ctx::other;
        } else if (ctx == Ctx::value) {
            ctx = Ctx::bare;
        }
        i += step;
    }
    return std::nullopt;
}

toml::table parse_toml(std::string_view text, const std::string& origin) {
    if (const auto bad = unreadable_by_toml(text, origin))
        throw ProfileError(bad->first, bad->second);
    try {
        return toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        throw ProfileError(source_of(e.source(), origin), std::string(e.description()));
    }
}

}  // namespace

Profile parse(std::string_view text, const std::string& origin, const Context& ctx) {
    const toml::table root = parse_toml(text, origin);
    return Parser(origin, ctx).run(root);
}

std::vector<ProfileTest> read_tests(std::string_view text, const std::string& origin) {
    const toml::table root = parse_toml(text, origin);
    const toml::node* n = root.get("test");
    if (n == nullptr) return {};
    const Context none;
    return Parser(origin, none).tests(*n);
}

std::string read_description(std::string_view text, const std::string& origin) {
    const toml::table root = parse_toml(text, origin);
    const toml::node* n = root.get("description");
    if (n == nullptr) return {};
    const auto* s = n->as_string();
    if (s == nullptr)
        throw ProfileError(source_of(n->source(), origin),
                           std::string("description must be a string, not ") + type_phrase(*n));
    return s->get();
}


// config.toml (profile/config.hpp): here because toml++ is compiled only in this file.
Settings parse_settings(std::string_view text, const std::string& origin) {
    const toml::table root = parse_toml(text, origin);
    Settings out;
    static const std::vector<std::string> known = {"require_signed_profiles", "trusted_keys",
                                                   "otlp_endpoint"};
    for (const auto& [key, value] : root) {
        // A named reference: clang does not let a lambda capture a structured binding.
        const toml::node& node = value;
        const std::string k(key.str());
        const Source where = source_of(key.source(), origin);
        auto wrong = [&](const char* want) {
            throw ProfileError(source_of(node.source(), origin),
                               k + " must be " + want + ", not " + type_phrase(node));
        };
        if (k == "require_signed_profiles") {
            const auto* b = node.as_boolean();
            if (b == nullptr) wrong("true or false");
            out.require_signed_profiles = b->get();
            out.require_signed_profiles_at = where;
        } else if (k == "trusted_keys") {
            const auto* a = node.as_array();
            if (a == nullptr) wrong("an array of minisign public keys");
            for (const toml::node& e : *a) {
                const auto* s = e.as_string();
                if (s == nullptr)
                    throw ProfileError(source_of(e.source(), origin),
                                       std::string("trusted_keys entries must be strings, not ") +
                                           type_phrase(e));
                out.trusted_keys.push_back(Entry{s->get(), s->get(), source_of(e.source(), origin)});
            }
        } else if (k == "otlp_endpoint") {
            const auto* s = node.as_string();
            if (s == nullptr) wrong("a URL string");
            out.otlp_endpoint = s->get();
            out.otlp_endpoint_at = source_of(node.source(), origin);
        } else {
            std::string message = "unknown key " + util::quote(k);
            const std::string near = util::nearest(k, known);
            if (!near.empty()) message += "; did you mean \"" + near + "\"?";
            throw ProfileError(where, message);
        }
    }
    return out;
}

}  // namespace agentbox::profile
