#include "cli/run_log.hpp"

#include <unistd.h>

#include <cstring>

#include "profile/names.hpp"
#include "sandbox/host.hpp"

#ifndef AGENTBOX_VERSION
#error "AGENTBOX_VERSION must be defined by the build"
#endif

namespace agentbox::cli {

namespace {

using audit::Json;

std::string where(const profile::Source& s) { return s.str(); }

// Backend event members that are counts or ids: numbers in the log, so that a collector can
// compare them without parsing strings.
bool numeric_member(const std::string& key) {
    for (const char* k : {"nr", "pid", "errno", "port", "bytes_up", "bytes_down", "value",
                          "duration_ms", "count", "staged_bytes", "max_bytes", "ms"})
        if (key == k) return true;
    return false;
}

long long micros(const struct timeval& tv) {
    return static_cast<long long>(tv.tv_sec) * 1000000LL + tv.tv_usec;
}

}  // namespace

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

audit::Event session_start_event(const policy::Plan& plan, const policy::HostFacts& facts) {
    audit::Event ev("session.start");
    ev.set("agentbox", AGENTBOX_VERSION);
    ev.set("argv", plan.argv);
    ev.set("project", plan.project);
    ev.set("cwd", plan.cwd);
    ev.set("uid", plan.uid);
    ev.set("pid", static_cast<long long>(::getpid()));
    Json profiles = Json::array();
    for (const auto& l : plan.layers) {
        Json p;
        p["name"] = l.name;
        p["path"] = l.path;
        p["sha256"] = l.sha256.empty() ? Json(nullptr) : Json(l.sha256);
        // Who vouched for it: a minisign key id, "builtin", or null when nothing was checked.
        p["key_id"] = l.key_id.empty() ? Json(nullptr) : Json(l.key_id);
        profiles.push_back(std::move(p));
    }
    ev.set("profiles", std::move(profiles));
    ev.set("backend", plan.backend);
    Json k;
    k["release"] = facts.kernel;
    k["userns"] = facts.userns;
    k["overlay_userxattr"] = facts.overlay_userxattr;
    k["seccomp"] = facts.seccomp;
    k["seccomp_user_notif"] = facts.seccomp_user_notif;
    k["landlock_abi"] = facts.landlock_abi;
    k["cgroup2_delegated"] = !facts.cgroup2_delegated.empty();
    k["cgroup1_memory"] = facts.cgroup1_memory;
    k["cgroup1_pids"] = facts.cgroup1_pids;
    ev.set("kernel", std::move(k));
    return ev;
}

audit::Event plan_event(const policy::Plan& plan, const sandbox::Prepared* prepared) {
    audit::Event ev("plan");
    ev.set("staging", policy::to_string(plan.staging));
    Json ns;
    ns["user"] = plan.ns.user;
    ns["mount"] = plan.ns.mount;
    ns["pid"] = plan.ns.pid;
    ns["net"] = plan.ns.net;
    ns["ipc"] = plan.ns.ipc;
    ns["uts"] = plan.ns.uts;
    ns["cgroup"] = plan.ns.cgroup;
    ev.set("namespaces", std::move(ns));
    Json mounts = Json::array();
    for (const auto& m : plan.mounts) {
        Json j;
        j["kind"] = policy::to_string(m.kind);
        if (!m.source.empty()) j["source"] = m.source;
        j["target"] = m.target;
        mounts.push_back(std::move(j));
    }
    ev.set("mounts", std::move(mounts));
    sandbox::Prepared built;
    if (prepared == nullptr) {
        built = sandbox::filter_record(plan);
        prepared = &built;
    }
    Json sc;
    sc["mode"] = name_of(plan.seccomp.mode);
    sc["digest"] = prepared->seccomp_digest;
    sc["rules"] = prepared->seccomp_rules;
    sc["log_denials"] = plan.seccomp.log_denials;
    ev.set("seccomp", std::move(sc));
    Json ll;
    ll["mode"] = name_of(plan.landlock.mode);
    ll["abi"] = plan.landlock.abi;
    ll["rules"] = plan.landlock.rules.size();
    ll["restrict_network"] = plan.landlock.restrict_network;
    ev.set("landlock", std::move(ll));
    Json net;
    net["mode"] = name_of(plan.net.mode);
    net["allow"] = plan.net.allow.size();
    net["deny"] = plan.net.deny.size();
    net["unlisted"] = name_of(plan.net.unlisted);
    // The DLP switches in effect (network.dlp_off): a request they let through is no finding,
    // so this is where the log says why such a request was not refused.
    if (!plan.net.dlp_off.empty()) {
        Json off = Json::array();
        for (const auto& d : plan.net.dlp_off)
            off.push_back(Json{{"rule", d.rule}, {"host", d.host}, {"source", where(d.src)}});
        net["dlp_off"] = std::move(off);
    }
    ev.set("network", std::move(net));
    // Names only: the values are the user's (tokens, keys) and never enter the log.
    Json env = Json::array();
    for (const auto& e : plan.env) env.push_back(e.name);
    ev.set("env", std::move(env));
    if (!plan.exec_allow.empty()) ev.set("exec_allow", plan.exec_allow);
    Json limits = Json::array();
    for (const auto& l : plan.limits) {
        Json j;
        j["name"] = l.name;
        j["value"] = l.value;
        j["how"] = policy::to_string(l.how);
        j["source"] = where(l.src);
        limits.push_back(std::move(j));
    }
    ev.set("limits", std::move(limits));
    ev.set("log_size", plan.log_size);
    Json weak = Json::array();
    for (const auto& w : plan.weakenings) {
        Json j;
        j["rule"] = w.rule;
        j["source"] = where(w.src);
        j["missing"] = w.missing;
        weak.push_back(std::move(j));
    }
    ev.set("weakenings", std::move(weak));
    ev.set("allow_weaker", plan.allow_weaker);
    ev.set("on_exit", name_of(plan.on_exit));
    return ev;
}

audit::Event backend_event(const sandbox::Event& in) {
    audit::Event ev(in.type);
    for (const auto& [k, v] : in.fields) {
        // A backend must not be able to forge the envelope (seq, hash...) of a line.
        const std::string key = audit::is_reserved(k) ? "backend_" + k : k;
        bool digits = numeric_member(k) && !v.empty() && v.size() <= 18;
        for (char c : v) digits = digits && c >= '0' && c <= '9';
        if (digits)
            ev.set(key, std::stoll(v));
        else
            ev.set(key, v);
    }
    return ev;
}

audit::Event process_exit_event(const sandbox::Outcome& out, int exit_code) {
    audit::Event ev("process.exit");
    ev.set("started", out.started);
    ev.set("status", out.exit_code);
    ev.set("exit_code", exit_code);
    ev.set("signal", out.signal != 0 ? Json(signal_name(out.signal)) : Json(nullptr));
    ev.set("timed_out", out.timed_out);
    if (!out.error.empty()) ev.set("error", out.error);
    ev.set("duration_ms", static_cast<long long>(out.wall_seconds * 1000.0 + 0.5));
    ev.set("peak_memory", out.peak_memory);
    const struct rusage& r = out.usage;
    Json ru;
    ru["utime_us"] = micros(r.ru_utime);
    ru["stime_us"] = micros(r.ru_stime);
    ru["maxrss_kib"] = r.ru_maxrss;
    ru["minflt"] = r.ru_minflt;
    ru["majflt"] = r.ru_majflt;
    ru["inblock"] = r.ru_inblock;
    ru["oublock"] = r.ru_oublock;
    ru["nvcsw"] = r.ru_nvcsw;
    ru["nivcsw"] = r.ru_nivcsw;
    ev.set("rusage", std::move(ru));
    return ev;
}

audit::Event approval_event(const approve::Request& req, const approve::Answer& answer) {
    audit::Event ev("approval");
    ev.set("op", req.op);
    ev.set("target", req.target);
    ev.set("rule", req.rule);
    ev.set("source", req.source);
    ev.set("verdict", approve::to_string(answer.verdict));
    ev.set("scope", approve::to_string(answer.scope));
    ev.set("by", answer.by);
    ev.set("how", answer.how);
    ev.set("reason", answer.reason);
    ev.set("ms", answer.ms);
    return ev;
}

}  // namespace agentbox::cli
