// policy::compile — Profile + Invocation + HostFacts -> Plan, before any syscall (DESIGN.md §1).
// Each step below fills one part of the Plan; whatever this host cannot enforce becomes a
// Weakening, never a silent omission.
#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "policy/compile_steps.hpp"
#include "policy/fsrules.hpp"
#include "policy/hostrules.hpp"
#include "policy/policy.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

const profile::Source kDefault{"<default>", 0, 0};
const profile::Source kBuiltin{"<builtin>", 0, 0};

void require_host_queries(const HostFacts& host) {
    if (!host.kind || !host.realpath || !host.readlink || !host.glob)
        throw std::invalid_argument("compile: HostFacts filesystem queries are not set");
}

void plan_env(Plan& plan, const profile::Profile& profile, const Invocation& inv) {
    std::map<std::string, EnvVar> env;  // sorted by name, later steps override earlier ones
    for (const auto& [name, value] : inv.environ) {
        Decision d = decide(profile, Request{Op::env, name}, plan.project);
        if (d.verdict == Verdict::allow) env[name] = EnvVar{name, value, d.rule};
    }
    for (const auto& [name, e] : profile.env.set)
        env[name] = EnvVar{name, e.value, "env.set " + util::quote(name)};
    if (!plan.home.empty()) env["HOME"] = EnvVar{"HOME", plan.home, "implicit: home directory"};
    if (plan.net.mode == profile::NetMode::proxy) {
        const std::string url = "http://127.0.0.1:" + std::to_string(plan.net.proxy_port);
        for (const char* n : {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                              "https_proxy", "all_proxy"})
            env[n] = EnvVar{n, url, "network.mode \"proxy\""};
        for (const char* n : {"NO_PROXY", "no_proxy"})
            env[n] = EnvVar{n, "localhost,127.0.0.1", "network.mode \"proxy\""};
    }
    for (auto& [name, var] : env) plan.env.push_back(std::move(var));
}

void plan_seccomp(Plan& plan, const profile::Process& process, const HostFacts& host) {
    SeccompPlan& sc = plan.seccomp;
    if (process.seccomp.set) sc.mode = process.seccomp.value;
    for (const auto& e : process.allow_syscalls) sc.allow.push_back(SyscallRule{e.value, e.src});
    for (const auto& e : process.deny_syscalls) sc.deny.push_back(SyscallRule{e.value, e.src});
    sc.log_denials = host.seccomp && host.seccomp_user_notif;
    if (!host.seccomp)
        plan.weakenings.push_back(Weakening{
            std::string("process.seccomp ") +
                (sc.mode == profile::SeccompMode::strict ? "\"strict\"" : "\"default\""),
            process.seccomp.set ? process.seccomp.src : kDefault,
            "seccomp filters (CONFIG_SECCOMP_FILTER)"});
    else if (!host.seccomp_user_notif)
        // The check of connect() (host unix sockets stay closed) is made by the supervisor,
        // answering the filter's user notifications (issue 18 #8).
        plan.weakenings.push_back(Weakening{
            "unix sockets of the host", kDefault,
            "seccomp user notification (Linux 5.0+), to check connect() to unix sockets"});
}

void plan_limits(Plan& plan, const profile::Limits& limits, const HostFacts& host) {
    auto add = [&](const char* name, const profile::Setting<std::uint64_t>& s, Mechanism how) {
        if (!s.set || s.value == 0) return;
        plan.limits.push_back(Limit{name, s.value, how, s.src});
    };
    // memory and pids: the strongest mechanism the host offers (DESIGN.md §4). RLIMIT_NPROC and
    // RLIMIT_AS do not mean the same thing, so there is no rlimit fallback.
    auto cgroup = [&](const char* name, const profile::Setting<std::uint64_t>& s, bool v1) {
        if (!s.set || s.value == 0) return;
        Mechanism how = !host.cgroup2_delegated.empty() ? Mechanism::cgroup2
                        : v1                            ? Mechanism::cgroup1
                                                        : Mechanism::none;
        plan.limits.push_back(Limit{name, s.value, how, s.src});
        if (how == Mechanism::none)
            plan.weakenings.push_back(Weakening{
                std::string("limits.") + name, s.src,
                std::string(name) +
                    " limit needs a cgroup: run agentbox inside a delegated cgroup v2 subtree "
                    "with the " + name + " controller (systemd-run --user --scope -p "
                    "Delegate=yes agentbox ..., or any cgroup whose cgroup.procs and "
                    "cgroup.subtree_control you own; agentbox doctor checks), or as root"});
    };
    add("timeout", limits.timeout_ms, Mechanism::supervisor);
    cgroup("memory", limits.memory, host.cgroup1_memory);
    cgroup("pids", limits.pids, host.cgroup1_pids);
    add("file_size", limits.file_size, Mechanism::rlimit);
    add("open_files", limits.open_files, Mechanism::rlimit);
    add("stage_size", limits.stage_size, Mechanism::stage);
    // Not a limit on the command: agentbox's own log writer keeps it (audit/repeats.hpp).
    // "none" (0): no bound; the user's own choice for a run they trust.
    if (limits.log_size.set)
        plan.log_size = limits.log_size.value == 0 ? UINT64_MAX : limits.log_size.value;
}

// Each rule's path is resolved one component at a time (fsrules.cpp), so the same ancestors are
// asked about again and again: the default profile made ~1,000 lstat calls for ~150 distinct
// paths, most of the plan's time. One answer per path for the whole compile, which is also one
// consistent view of the host for all the rules (the host may change meanwhile either way: the
// backend builds the sandbox from the Plan, not from a second look).
template <class R>
std::function<R(const std::string&)> once_per_path(std::function<R(const std::string&)> ask) {
    if (!ask) return ask;
    auto seen = std::make_shared<std::unordered_map<std::string, R>>();
    return [seen, ask = std::move(ask)](const std::string& p) -> R {
        if (auto it = seen->find(p); it != seen->end()) return it->second;
        return seen->emplace(p, ask(p)).first->second;
    };
}

HostFacts remembering(const HostFacts& host) {
    HostFacts h = host;
    h.kind = once_per_path(host.kind);
    h.realpath = once_per_path(host.realpath);
    h.readlink = once_per_path(host.readlink);
    return h;
}

}  // namespace

Plan compile(const profile::Profile& profile, const Invocation& inv, const HostFacts& asked) {
    const HostFacts host = remembering(asked);
    if (inv.argv.empty() || inv.argv.front().empty())
        throw std::invalid_argument("compile: no command to run");
    if (inv.project.empty() || inv.project.front() != '/')
        throw std::invalid_argument("compile: the project " + util::quote(inv.project) +
                                    " is not an absolute path");
    require_host_queries(host);

    Plan plan;
    plan.argv = inv.argv;
    plan.project = util::normalize_path(inv.project);
    plan.home = inv.home.empty() ? std::string() : util::normalize_path(inv.home);
    plan.uid = host.uid;
    plan.gid = host.gid;
    plan.backend = inv.backend == "auto" ? "native" : inv.backend;
    plan.allow_weaker = inv.allow_weaker;
    plan.layers = profile.layers;
    plan.net = make_net_plan(profile.network);
    plan.ns.net = plan.net.mode != profile::NetMode::host;
    // Capture is made by the supervisor answering the seccomp filter's notifications.
    if (plan.net.capture && !host.seccomp_user_notif) {
        if (plan.net.capture_required)
            plan.weakenings.push_back(Weakening{
                "network.capture true", plan.net.capture_src,
                "seccomp user notification (Linux 5.9+), through which the supervisor makes "
                "the sandbox's connects"});
        else
            plan.notes.push_back("network.capture: off, this host has no seccomp user "
                                 "notification; tools that ignore the proxy variables cannot "
                                 "connect");
        plan.net.capture = plan.net.capture_required = false;
    }
    if (plan.net.mode == profile::NetMode::host)
        plan.notes.push_back("network.mode \"host\" (" + plan.net.mode_src.str() +
                             "): the sandbox shares the host network, nothing is filtered");
    // The mode an allow rule chose (profile/merge.cpp) and the allow rules a later "none"
    // turned off: either way the reader of --dry-run sees why the mode is what it is.
    const auto switched = std::find_if(plan.net.allow.begin(), plan.net.allow.end(),
                                       [&](const HostRule& r) { return r.src == plan.net.mode_src; });
    if (plan.net.mode == profile::NetMode::proxy && switched != plan.net.allow.end())
        plan.notes.push_back("network.mode \"proxy\": chosen by the allow rule " +
                             util::quote(switched->raw) + " (" +
                             switched->src.str() + "), which needs the proxy; mode \"none\" "
                             "was inherited");
    if (plan.net.mode == profile::NetMode::none && !plan.net.allow.empty())
        plan.notes.push_back("network.mode \"none\" (" + plan.net.mode_src.str() + ") turns the "
                             "network off: the allow rules below have no effect");

    const auto rules = effective_fs_rules(profile, plan.home);
    plan.protect = profile.commit.protect;  // plan_mounts keeps them read-only in other roots
    plan_mounts(plan, rules, inv, host, profile.filesystem);
    guard_own_dirs(plan, rules, inv, host);
    pin_nested_mounts(plan);
    // bubblewrap before 0.11 has no overlay: the bwrap backend stages into a copy of the
    // project (DESIGN.md §5; docs/design-notes.md, note 34). One that has it gets the overlay
    // back from the cli, which asks bwrap (cli/run_backend.cpp, backend_staging).
    if (plan.backend == "bwrap" && plan.staging == Staging::overlay) plan.staging = Staging::copy;
    for (const auto& e : profile.filesystem.exec) {
        if (e.value.empty() || e.value.front() != '/')
            throw std::invalid_argument(e.src.str() + ": filesystem.exec " + util::quote(e.raw) +
                                        ": not an absolute path after expansion");
        plan.exec_allow.push_back(util::normalize_path(e.value));
    }
    plan_env(plan, profile, inv);
    plan_secrets(plan, profile, inv);  // after env (it overrides), before landlock (its mount)
    plan_seccomp(plan, profile.process, host);
    plan_landlock(plan, rules, profile, host);
    plan_limits(plan, profile.limits, host);

    plan.on_exit = inv.on_exit.value_or(profile.commit.on_exit.set ? profile.commit.on_exit.value
                                                                   : profile::OnExit::keep);
    if (plan.backend == "native" && !host.userns)
        plan.weakenings.push_back(Weakening{
            "backend \"native\"", kBuiltin,
            "user namespaces (kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"});
    return plan;
}

}  // namespace agentbox::policy
