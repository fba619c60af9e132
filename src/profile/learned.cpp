// The profile `agentbox learn` writes (cli/learn.cpp observes; this module words it). Pure.
#include "profile/learned.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace agentbox::profile {

namespace {

// Process names are the sandbox's bytes: printable ASCII only, for a comment.
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    return out;
}

std::string users_comment(const LearnedGrant& g) {
    std::string who;
    for (const auto& u : g.users) who += (who.empty() ? "" : ", ") + printable(u);
    if (who.empty()) who = "?";
    if (g.files > 1) who += " (" + std::to_string(g.files) + " paths)";
    return who;
}

}  // namespace

std::string command_text(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        const bool plain = !a.empty() && a.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:+-@%,") ==
            std::string::npos;
        s += (s.empty() ? "" : " ") + (plain ? a : util::quote(a));
    }
    return printable(s);
}

std::optional<std::string> collapse_path(const std::string& raw, const std::string& home) {
    const std::string path = util::normalize_path(raw);
    std::vector<std::string> containers = {
        "/",           "/opt",           "/srv",      "/var",      "/var/lib",
        "/var/cache",  "/var/opt",       "/usr",      "/usr/lib",  "/usr/share",
        "/usr/local",  "/usr/local/lib", "/usr/local/share",       "/usr/local/bin",
        "/mnt",        "/media",         "/home",     "/etc",      "/nix",
        "/nix/store"};
    if (!home.empty() && home != "/")
        for (const char* sub : {"", "/.cache", "/.config", "/.local", "/.local/share",
                                "/.local/lib", "/.local/state", "/.local/bin"})
            containers.push_back(home + sub);
    const auto is_container = [&](const std::string& p) {
        return std::find(containers.begin(), containers.end(), p) != containers.end();
    };
    if (path.empty() || path.front() != '/' || is_container(path)) return std::nullopt;
    // From the path up to /, the deepest container above it; the grant is its child on the way.
    std::string child = path;
    for (;;) {
        const auto slash = child.rfind('/');
        const std::string parent = slash == 0 ? "/" : child.substr(0, slash);
        if (is_container(parent)) return child;
        child = parent;
    }
}

std::string learned_profile_text(const Learned& r, const std::string& name,
                                 const std::vector<std::string>& extends,
                                 const std::vector<std::string>& command,
                                 const std::string& session) {
    std::string t;
    t += "# Learned by `agentbox learn`";
    if (!session.empty()) t += " (session " + session + ")";
    t += " from a run of:\n#   " + command_text(command) + "\n";
    t += "# Each entry was used by that run and is not granted by the profile it extends; reads\n"
         "# under one directory are collapsed to it (~/.cache/NAME, /opt/NAME, ...). Review the\n"
         "# entries before you use the profile: the command chose what it touched.\n";
    t += "version = 1\n";
    t += "name = " + util::toml_quote(name) + "\n";
    t += "description = " + util::toml_quote("learned from: " + command_text(command)) + "\n";
    t += "extends = [";
    for (std::size_t i = 0; i < extends.size(); ++i)
        t += (i ? ", " : "") + util::toml_quote(extends[i]);
    t += "]\n";

    const auto list = [&t](const char* key, const std::vector<LearnedGrant>& gs) {
        if (gs.empty()) return;
        t += std::string(key) + " = [\n";
        for (const auto& g : gs) {
            // The loader refuses a path with a control character (a name the sandbox chose
            // to break the file): left out, and said so.
            if (std::any_of(g.path.begin(), g.path.end(),
                            [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
                t += "  # left out: " + printable(g.path) + " (a control character in the name; " +
                     users_comment(g) + ")\n";
                continue;
            }
            t += "  " + util::toml_quote(g.path) + ",  # " + users_comment(g) + "\n";
        }
        t += "]\n";
    };
    if (!r.read.empty() || !r.exec.empty() || !r.exec_seen.empty()) {
        t += "\n[filesystem]\n";
        list("read", r.read);
        list("exec", r.exec);
        if (!r.exec_seen.empty()) {
            t += "# Programs the run executed (the base profile does not restrict execution):\n";
            for (const auto& e : r.exec_seen) t += "#   " + e.path + "  # " + users_comment(e) + "\n";
        }
    }
    if (!r.hosts.empty()) {
        t += "\n[network]\nmode = \"proxy\"\nallow = [\n";
        for (const auto& h : r.hosts) t += "  " + util::toml_quote(h) + ",\n";
        t += "]\n";
    }
    return t;
}

}  // namespace agentbox::profile
