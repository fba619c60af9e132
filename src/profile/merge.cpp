// Layering (DESIGN.md §3): later layers override scalars, lists accumulate. A later layer can
// therefore add a deny but never remove one an earlier layer made: to loosen a base profile,
// write a profile that does not extend it.
#include "profile/load.hpp"

namespace agentbox::profile {

namespace {

template <class T>
void take_if_set(Setting<T>& base, const Setting<T>& top) {
    if (top.set) base = top;
}

// Append, skipping values already present: the same path reached through two layers is one
// rule, and the first layer to write it is the one `profile show` names.
void append(std::vector<Entry>& base, const std::vector<Entry>& top) {
    for (const Entry& e : top) {
        bool dup = false;
        for (const Entry& b : base) dup = dup || b.value == e.value;
        if (!dup) base.push_back(e);
    }
}

}  // namespace

void merge_into(Profile& base, const Profile& top) {
    base.version = top.version;
    take_if_set(base.name, top.name);
    take_if_set(base.description, top.description);
    append(base.extends, top.extends);

    append(base.filesystem.read, top.filesystem.read);
    append(base.filesystem.write, top.filesystem.write);
    append(base.filesystem.deny, top.filesystem.deny);
    append(base.filesystem.tmpfs, top.filesystem.tmpfs);
    append(base.filesystem.state, top.filesystem.state);
    append(base.filesystem.state_review, top.filesystem.state_review);
    append(base.filesystem.exec, top.filesystem.exec);

    take_if_set(base.network.mode, top.network.mode);
    // An allow rule says "let this host through", which only the proxy does: a layer that adds
    // one without choosing the mode itself turns the "none" it inherits (base's, or the
    // default) into "proxy", named after that rule, instead of a rule that silently does
    // nothing. A layer that says "none" itself keeps it (parse refuses both in one file, and a
    // later layer's "none" turns the network off whatever earlier layers allowed).
    if (!top.network.allow.empty() && !top.network.mode.set &&
        base.network.mode.value == NetMode::none) {
        base.network.mode.value = NetMode::proxy;
        base.network.mode.src = top.network.allow.front().src;
        base.network.mode.set = true;
    }
    append(base.network.allow, top.network.allow);
    append(base.network.deny, top.network.deny);
    append(base.network.request, top.network.request);
    append(base.network.dlp_off, top.network.dlp_off);
    take_if_set(base.network.unlisted, top.network.unlisted);
    take_if_set(base.network.allow_private, top.network.allow_private);
    take_if_set(base.network.capture, top.network.capture);

    append(base.env.pass, top.env.pass);
    append(base.env.deny, top.env.deny);
    for (const auto& [name, entry] : top.env.set) base.env.set[name] = entry;

    take_if_set(base.process.seccomp, top.process.seccomp);
    append(base.process.allow_syscalls, top.process.allow_syscalls);
    append(base.process.deny_syscalls, top.process.deny_syscalls);
    take_if_set(base.process.landlock, top.process.landlock);

    take_if_set(base.limits.timeout_ms, top.limits.timeout_ms);
    take_if_set(base.limits.memory, top.limits.memory);
    take_if_set(base.limits.pids, top.limits.pids);
    take_if_set(base.limits.file_size, top.limits.file_size);
    take_if_set(base.limits.stage_size, top.limits.stage_size);
    take_if_set(base.limits.open_files, top.limits.open_files);
    take_if_set(base.limits.log_size, top.limits.log_size);

    take_if_set(base.commit.on_exit, top.commit.on_exit);
    append(base.commit.protect, top.commit.protect);

    take_if_set(base.approve.command, top.approve.command);
    take_if_set(base.approve.timeout_ms, top.approve.timeout_ms);
    for (const auto& [name, secret] : top.secrets) base.secrets[name] = secret;

    base.layers.insert(base.layers.end(), top.layers.begin(), top.layers.end());
}

}  // namespace agentbox::profile
