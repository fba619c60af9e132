#include "cli/profile_print.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "profile/names.hpp"
#include "util/strings.hpp"
#include "util/units.hpp"

namespace agentbox::cli {

namespace {

using profile::Entry;
using profile::Setting;
using profile::Source;

// TOML basic string: quote, backslash and control characters escaped.
std::string toml_string(std::string_view s) { return util::toml_quote(s); }

// A TOML key: bare when it can be, quoted otherwise.
std::string toml_key(std::string_view k) {
    const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return c == '_' || c == '-' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9');
    });
    return bare ? std::string(k) : toml_string(k);
}

// Collects lines and their source comments, then aligns the comments in one column.
class Writer {
public:
    void line(std::string text, const Source* src = nullptr, std::string extra = {}) {
        std::string comment;
        if (src != nullptr) comment = src->str();
        if (!extra.empty()) comment += (comment.empty() ? "" : ", ") + extra;
        lines_.push_back({std::move(text), std::move(comment)});
    }
    void blank() { lines_.push_back({}); }

    std::string str() const {
        std::size_t width = 0;
        for (const auto& l : lines_)
            if (!l.comment.empty() && l.text.size() < 60) width = std::max(width, l.text.size());
        std::string out;
        for (const auto& l : lines_) {
            out += l.text;
            if (!l.comment.empty()) {
                out += std::string(l.text.size() < width ? width - l.text.size() : 0, ' ');
                out += "  # " + l.comment;
            }
            out += '\n';
        }
        return out;
    }

private:
    struct Line {
        std::string text, comment;
    };
    std::vector<Line> lines_;
};

// The value as written, when placeholder expansion changed it ("~/.ssh" -> "/home/u/.ssh").
std::string as_written(const Entry& e) {
    return e.raw.empty() || e.raw == e.value ? std::string() : "written " + toml_string(e.raw);
}

void list(Writer& w, const char* key, const std::vector<Entry>& entries) {
    if (entries.empty()) return;
    w.line(std::string(key) + " = [");
    for (const auto& e : entries) w.line("  " + toml_string(e.value) + ",", &e.src, as_written(e));
    w.line("]");
}

template <class T, class F>
void scalar(Writer& w, const char* key, const Setting<T>& s, F&& render) {
    if (s.set) w.line(std::string(key) + " = " + render(*s), &s.src);
}

auto quoted = [](const auto& v) { return toml_string(name_of(v)); };
auto str_value = [](const std::string& v) { return toml_string(v); };
auto size_value = [](std::uint64_t v) { return toml_string(util::format_size(v)); };
auto duration_value = [](std::uint64_t v) { return toml_string(util::format_duration(v)); };
auto count_value = [](std::uint64_t v) { return std::to_string(v); };
auto bool_value = [](bool v) { return std::string(v ? "true" : "false"); };

}  // namespace

std::string profile_text(const profile::Profile& p) {
    Writer w;
    if (!p.layers.empty()) {
        std::vector<std::string> names;
        for (const auto& l : p.layers) names.push_back(l.name + " (" + l.path + ")");
        w.line("# layers, base first: " + util::join(names, ", "));
    }
    w.line("version = " + std::to_string(p.version));
    scalar(w, "name", p.name, str_value);
    scalar(w, "description", p.description, str_value);

    w.blank();
    w.line("[filesystem]");
    list(w, "read", p.filesystem.read);
    list(w, "write", p.filesystem.write);
    list(w, "deny", p.filesystem.deny);
    list(w, "tmpfs", p.filesystem.tmpfs);
    list(w, "exec", p.filesystem.exec);
    list(w, "state", p.filesystem.state);
    list(w, "state_review", p.filesystem.state_review);

    w.blank();
    w.line("[network]");
    scalar(w, "mode", p.network.mode, quoted);
    list(w, "allow", p.network.allow);
    list(w, "deny", p.network.deny);
    list(w, "request", p.network.request);
    list(w, "dlp_off", p.network.dlp_off);
    scalar(w, "unlisted", p.network.unlisted, quoted);
    scalar(w, "allow_private", p.network.allow_private, bool_value);
    scalar(w, "capture", p.network.capture, bool_value);

    w.blank();
    w.line("[env]");
    list(w, "pass", p.env.pass);
    list(w, "deny", p.env.deny);
    if (!p.env.set.empty()) {
        w.line("[env.set]");
        for (const auto& [name, e] : p.env.set)
            w.line(toml_key(name) + " = " + toml_string(e.value), &e.src, as_written(e));
    }

    w.blank();
    w.line("[process]");
    scalar(w, "seccomp", p.process.seccomp, quoted);
    list(w, "allow_syscalls", p.process.allow_syscalls);
    list(w, "deny_syscalls", p.process.deny_syscalls);
    scalar(w, "landlock", p.process.landlock, quoted);

    w.blank();
    w.line("[limits]");
    scalar(w, "timeout", p.limits.timeout_ms, duration_value);
    scalar(w, "memory", p.limits.memory, size_value);
    scalar(w, "pids", p.limits.pids, count_value);
    scalar(w, "file_size", p.limits.file_size, size_value);
    scalar(w, "stage_size", p.limits.stage_size, size_value);
    scalar(w, "open_files", p.limits.open_files, count_value);
    scalar(w, "log_size", p.limits.log_size, size_value);

    w.blank();
    w.line("[commit]");
    scalar(w, "on_exit", p.commit.on_exit, quoted);
    list(w, "protect", p.commit.protect);

    if (p.approve.command.set || p.approve.timeout_ms.set) {
        w.blank();
        w.line("[approve]");
        scalar(w, "command", p.approve.command, str_value);
        scalar(w, "timeout", p.approve.timeout_ms, duration_value);
    }
    return w.str();
}

namespace {

using json = nlohmann::ordered_json;

json entries_json(const std::vector<Entry>& entries) {
    json a = json::array();
    for (const auto& e : entries)
        a.push_back({{"value", e.value}, {"raw", e.raw}, {"source", e.src.str()}});
    return a;
}

template <class T, class F>
void put(json& obj, const char* key, const Setting<T>& s, F&& render) {
    if (s.set) obj[key] = {{"value", render(*s)}, {"source", s.src.str()}};
}

auto enum_name = [](const auto& v) { return std::string(name_of(v)); };
auto same = [](const auto& v) { return v; };

}  // namespace

std::string profile_json(const profile::Profile& p) {
    json j;
    j["version"] = p.version;
    put(j, "name", p.name, same);
    put(j, "description", p.description, same);
    json layers = json::array();
    for (const auto& l : p.layers)
        layers.push_back({{"name", l.name}, {"path", l.path}, {"sha256", l.sha256}});
    j["layers"] = layers;

    json& fs = j["filesystem"] = json::object();
    fs["read"] = entries_json(p.filesystem.read);
    fs["write"] = entries_json(p.filesystem.write);
    fs["deny"] = entries_json(p.filesystem.deny);
    fs["tmpfs"] = entries_json(p.filesystem.tmpfs);
    fs["exec"] = entries_json(p.filesystem.exec);
    fs["state"] = entries_json(p.filesystem.state);
    fs["state_review"] = entries_json(p.filesystem.state_review);

    json& net = j["network"] = json::object();
    put(net, "mode", p.network.mode, enum_name);
    net["allow"] = entries_json(p.network.allow);
    net["deny"] = entries_json(p.network.deny);
    if (!p.network.request.empty()) net["request"] = entries_json(p.network.request);
    if (!p.network.dlp_off.empty()) net["dlp_off"] = entries_json(p.network.dlp_off);
    put(net, "unlisted", p.network.unlisted, enum_name);
    put(net, "allow_private", p.network.allow_private, same);
    put(net, "capture", p.network.capture, same);

    json& env = j["env"] = json::object();
    env["pass"] = entries_json(p.env.pass);
    env["deny"] = entries_json(p.env.deny);
    json set = json::object();
    for (const auto& [name, e] : p.env.set)
        set[name] = {{"value", e.value}, {"raw", e.raw}, {"source", e.src.str()}};
    env["set"] = set;

    json& proc = j["process"] = json::object();
    put(proc, "seccomp", p.process.seccomp, enum_name);
    proc["allow_syscalls"] = entries_json(p.process.allow_syscalls);
    proc["deny_syscalls"] = entries_json(p.process.deny_syscalls);
    put(proc, "landlock", p.process.landlock, enum_name);

    // Limits in their base units, so scripts need not parse "4GiB".
    json& lim = j["limits"] = json::object();
    put(lim, "timeout_ms", p.limits.timeout_ms, same);
    put(lim, "memory", p.limits.memory, same);
    put(lim, "pids", p.limits.pids, same);
    put(lim, "file_size", p.limits.file_size, same);
    put(lim, "stage_size", p.limits.stage_size, same);
    put(lim, "open_files", p.limits.open_files, same);
    put(lim, "log_size", p.limits.log_size, same);

    json& commit = j["commit"] = json::object();
    put(commit, "on_exit", p.commit.on_exit, enum_name);
    commit["protect"] = entries_json(p.commit.protect);

    json& approve = j["approve"] = json::object();
    put(approve, "command", p.approve.command, same);
    put(approve, "timeout_ms", p.approve.timeout_ms, same);
    return j.dump(2) + "\n";
}

}  // namespace agentbox::cli
