// Names of policy enums, as they appear in the CLI, the Plan rendering and the log.
#include <string>

#include "policy/names.hpp"
#include "policy/plan.hpp"
#include "policy/request.hpp"

namespace agentbox::policy {

const char* to_string(Op op) {
    switch (op) {
        case Op::read: return "read";
        case Op::write: return "write";
        case Op::exec: return "exec";
        case Op::connect: return "connect";
        case Op::commit: return "commit";
        case Op::env: return "env";
        case Op::request: return "request";
    }
    return "?";
}

bool parse_op(const std::string& s, Op& out) {
    for (Op op : {Op::read, Op::write, Op::exec, Op::connect, Op::commit, Op::env, Op::request})
        if (s == to_string(op)) {
            out = op;
            return true;
        }
    return false;
}

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::allow: return "allow";
        case Verdict::deny: return "deny";
        case Verdict::ask: return "ask";
    }
    return "?";
}

const char* to_string(MountKind k) {
    switch (k) {
        case MountKind::bind_ro: return "bind-ro";
        case MountKind::bind_rw: return "bind-rw";
        case MountKind::overlay: return "overlay";
        case MountKind::tmpfs: return "tmpfs";
        case MountKind::proc: return "proc";
        case MountKind::dev: return "dev";
        case MountKind::mask_dir: return "mask-dir";
        case MountKind::mask_file: return "mask-file";
        case MountKind::symlink: return "symlink";
        case MountKind::dir: return "dir";
        case MountKind::state_home: return "state-home";
    }
    return "?";
}

const char* to_string(Mechanism m) {
    switch (m) {
        case Mechanism::none: return "none";
        case Mechanism::cgroup2: return "cgroup2";
        case Mechanism::cgroup1: return "cgroup1";
        case Mechanism::rlimit: return "rlimit";
        case Mechanism::supervisor: return "supervisor";
        case Mechanism::stage: return "stage";
    }
    return "?";
}

const char* to_string(Staging s) {
    switch (s) {
        case Staging::overlay: return "overlay";
        case Staging::copy: return "copy";
        case Staging::none: return "none";
    }
    return "?";
}

}  // namespace agentbox::policy

// ---- Landlock access sets (names.hpp).

namespace agentbox::policy {

std::string access_names(unsigned access) {
    std::string out;
    auto add = [&](unsigned bit, const char* name) {
        if (!(access & bit)) return;
        if (!out.empty()) out += ',';
        out += name;
    };
    add(ll_read, "read");
    add(ll_write, "write");
    add(ll_exec, "exec");
    add(ll_ioctl_dev, "ioctl-dev");
    add(ll_make_sock, "make-sock");
    return out;
}

}  // namespace agentbox::policy
