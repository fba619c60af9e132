// The profile `agentbox learn` writes: the grants it found, collapsed and commented (pure; the
// observing is cli/learn.cpp's). agentbox(1), LEARNING A PROFILE.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace agentbox::profile {

struct LearnedGrant {
    std::string path;             // as written in the profile (~/..., or absolute)
    std::set<std::string> users;  // the names of the processes that used it
    std::size_t files = 0;        // how many observed paths it covers
};

struct Learned {
    std::vector<LearnedGrant> read, exec;
    std::vector<std::string> hosts;        // allow entries ("example.com", "example.com:8080")
    std::vector<LearnedGrant> exec_seen;   // programs run, listed as comments when the base
                                           // does not restrict execution
};

// Collapse a path to the grant that covers it: the entry just below the deepest of a fixed set
// of parent directories (/opt, /usr/local/lib, ~/.cache, ~/.config, ~/.local/share, ...), so a
// package's thousand files are one line. nullopt for such a parent itself: granting the home
// or /opt whole is never what one command needs.
std::optional<std::string> collapse_path(const std::string& path, const std::string& home);

// The learned profile's text: `extends` the base names, one commented entry per grant, a
// header saying where it came from. Names and paths chosen inside the sandbox are quoted as
// TOML strings or reduced to printable ASCII in comments.
std::string learned_profile_text(const Learned& r, const std::string& name,
                                 const std::vector<std::string>& extends,
                                 const std::vector<std::string>& command,
                                 const std::string& session);

// The command line as one printable line, each word quoted when it needs it.
std::string command_text(const std::vector<std::string>& argv);

}  // namespace agentbox::profile
