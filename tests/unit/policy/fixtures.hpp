// Hand-built profiles and a fake HostFacts for the policy tests: no loader, no filesystem.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "profile/model.hpp"
#include "util/strings.hpp"

namespace agentbox::policy::test {

inline profile::Source src(int line) { return profile::Source{"test.toml", line, 1}; }

// The plan's mount of `kind` at `target`, or nullptr.
inline const Mount* mount_at(const Plan& plan, const std::string& target, MountKind kind) {
    for (const auto& m : plan.mounts)
        if (m.target == target && m.kind == kind) return &m;
    return nullptr;
}

// An entry as the loader would produce it: `value` expanded, `raw` as written.
inline profile::Entry E(std::string value, int line, std::string raw = "") {
    if (raw.empty()) raw = value;
    return profile::Entry{std::move(value), std::move(raw), src(line)};
}

template <class T>
profile::Setting<T> S(T value, int line) {
    profile::Setting<T> s;
    s.value = value;
    s.src = src(line);
    s.set = true;
    return s;
}

// A host described by maps: kinds by path, symlink texts, real paths (default: the path).
struct FakeHost {
    std::map<std::string, PathKind> kinds;
    std::map<std::string, std::string> links;
    std::map<std::string, std::string> real;

    void dir(const std::string& p) { kinds[p] = PathKind::dir; }
    void file(const std::string& p) { kinds[p] = PathKind::file; }
    void link(const std::string& p, const std::string& text, const std::string& resolved) {
        kinds[p] = PathKind::symlink;
        links[p] = text;
        real[p] = resolved;
    }

    HostFacts facts() const {
        HostFacts h;
        h.uid = 1000;
        h.gid = 1000;
        h.kernel = "6.18.0";
        h.landlock_abi = 7;
        h.cgroup2_delegated = "/sys/fs/cgroup/user.slice/agentbox";
        h.kind = [k = kinds](const std::string& p) {
            auto it = k.find(p);
            return it == k.end() ? PathKind::missing : it->second;
        };
        h.realpath = [k = kinds, r = real](const std::string& p) -> std::string {
            if (auto it = r.find(p); it != r.end()) return it->second;
            return k.count(p) ? p : std::string();
        };
        h.readlink = [l = links](const std::string& p) -> std::string {
            auto it = l.find(p);
            return it == l.end() ? std::string() : it->second;
        };
        h.glob = [k = kinds](const std::string& pattern) {
            std::vector<std::string> out;
            for (const auto& [p, kind] : k)
                if (util::glob_match(pattern, p, true)) out.push_back(p);
            return out;
        };
        return h;
    }
};

}  // namespace agentbox::policy::test
