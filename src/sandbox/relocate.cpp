#include "sandbox/relocate.hpp"

#include "util/strings.hpp"

namespace agentbox::sandbox {

Relocation::Relocation(const policy::Plan& plan, std::string copy, std::string scratch)
    : plan_(plan), copy_(std::move(copy)), scratch_(std::move(scratch)) {
    // The copy strategy stands in for the overlay: either way the command writes into the copy.
    copied_ = plan.staging == policy::Staging::overlay || plan.staging == policy::Staging::copy;
    for (const auto& m : plan.mounts)
        if (m.kind == policy::MountKind::tmpfs || m.kind == policy::MountKind::state_home)
            tmpfs_.push_back(m.target);
}

std::string Relocation::scratch_dir(const std::string& target) const {
    return target == "/" ? scratch_ : scratch_ + target;
}

std::string Relocation::path(const std::string& p) const {
    std::string best;
    std::string out = p;
    if (copied_ && util::path_within(p, plan_.project)) {
        best = plan_.project;
        out = copy_ + p.substr(plan_.project.size());
    }
    for (const auto& t : tmpfs_)
        if (util::path_within(p, t) && t.size() > best.size()) {
            best = t;
            out = scratch_dir(t) + (t == "/" ? p : p.substr(t.size()));
        }
    return out;
}

std::string map_path_value(const std::string& v,
                           const std::function<std::string(const std::string&)>& map) {
    if (v.empty()) return v;
    std::vector<std::string> parts = util::split(v, ':');
    for (const auto& part : parts)
        if (!part.empty() && (part.front() != '/' || part.starts_with("//"))) return v;
    for (auto& part : parts)
        if (!part.empty()) part = map(part);
    return util::join(parts, ":");
}

std::string Relocation::value(const std::string& v) const {
    return map_path_value(v, [this](const std::string& p) { return path(p); });
}

std::vector<std::string> Relocation::copy_excludes() const {
    std::vector<std::string> out;
    if (!copied_) return out;
    for (const auto& m : plan_.mounts)
        if ((m.kind == policy::MountKind::mask_dir || m.kind == policy::MountKind::mask_file) &&
            util::path_within(m.target, plan_.project) && m.target != plan_.project)
            out.push_back(util::relative_to(m.target, plan_.project));
    return out;
}

std::vector<std::string> relocated_env(const policy::Plan& plan, const Relocation& r) {
    std::vector<std::string> env;
    bool has_tmpdir = false;
    for (const auto& e : plan.env) {
        has_tmpdir |= e.name == "TMPDIR";
        env.push_back(e.name + "=" + r.value(e.value));
    }
    for (const auto& m : plan.mounts)
        if (m.kind == policy::MountKind::tmpfs && m.target == "/tmp" && !has_tmpdir)
            env.push_back("TMPDIR=" + r.scratch_dir(m.target));
    return env;
}

}  // namespace agentbox::sandbox
