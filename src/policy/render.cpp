// Renderings of a Plan: the aligned text of `run --dry-run` and one JSON object with a stable
// key order (for --json, golden tests and the `plan` log event). Environment VALUES are never
// rendered, only names: they may be secrets, and this output ends up in logs and CI artifacts.
#include <algorithm>
#include <cstdint>
#include <sstream>

#include <nlohmann/json.hpp>

#include "policy/names.hpp"
#include "policy/policy.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"
#include "util/units.hpp"

namespace agentbox::policy {

namespace {

// network.capture as the plan has it: "required" (the profile said true), "on" (the default in
// proxy mode), "off".
const char* capture_name(const NetPlan& net) {
    return !net.capture ? "off" : net.capture_required ? "required" : "on";
}

using Json = nlohmann::ordered_json;

// A path or word as is when it is plain, quoted (with escapes) when it could confuse a reader
// or drive a terminal.
std::string shown(const std::string& s) {
    bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != '"' && c != '\\';
    });
    return plain ? s : util::quote(s);
}

std::string pad(const std::string& s, std::size_t width) {
    return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string limit_value(const Limit& l) {
    if (l.name == "timeout") return util::format_duration(l.value);
    if (l.name == "memory" || l.name == "file_size" || l.name == "stage_size")
        return util::format_size(l.value, "B");
    return std::to_string(l.value);
}

std::string host_rule_text(const HostRule& r) {
    std::string ports;
    if (r.any_port) {
        ports = "*";
    } else {
        for (auto p : r.ports) ports += (ports.empty() ? "" : ",") + std::to_string(p);
    }
    return (r.subdomains_only ? "*." : "") + r.pattern + ":" + ports;
}

std::string argv_text(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + shown(a);
    return out;
}

Json source_json(const profile::Source& s) { return s.str(); }

}  // namespace

std::string render_text(const Plan& plan) {
    std::ostringstream o;
    auto field = [&](const char* name, const std::string& value) {
        o << pad(name, 12) << value << "\n";
    };
    field("command", argv_text(plan.argv));
    field("project", shown(plan.project) + "  (staging: " + to_string(plan.staging) + ")");
    field("cwd", shown(plan.cwd));
    field("home", shown(plan.home));
    field("backend", plan.backend + "  uid " + std::to_string(plan.uid) + "  gid " +
                         std::to_string(plan.gid) + "  hostname " + plan.hostname);
    std::string ns;
    const std::pair<const char*, bool> spaces[] = {
        {"user", plan.ns.user}, {"mount", plan.ns.mount}, {"pid", plan.ns.pid},
        {"net", plan.ns.net},   {"ipc", plan.ns.ipc},     {"uts", plan.ns.uts},
        {"cgroup", plan.ns.cgroup}};
    for (const auto& [name, on] : spaces)
        if (on) ns += (ns.empty() ? "" : " ") + std::string(name);
    field("namespaces", ns.empty() ? "(none)" : ns);
    field("on exit", name_of(plan.on_exit));

    o << "\nmounts (in order)\n";
    std::size_t w = 0;
    std::vector<std::string> what;
    for (const auto& m : plan.mounts) {
        std::string t = shown(m.target);
        if (m.kind == MountKind::symlink) t += " -> " + shown(m.source);
        else if ((m.kind == MountKind::bind_ro || m.kind == MountKind::bind_rw) &&
                 m.source != m.target)
            t += " (from " + shown(m.source) + ")";
        w = std::max(w, t.size());
        what.push_back(std::move(t));
    }
    for (std::size_t i = 0; i < plan.mounts.size(); ++i) {
        const Mount& m = plan.mounts[i];
        o << "  " << pad(to_string(m.kind), 10) << pad(what[i], w + 1) << "<- " << m.rule;
        if (m.src.file != "<builtin>") o << " (" << m.src.str() << ")";
        o << "\n";
    }

    o << "\nenvironment (names only: values are never shown)\n";
    std::size_t ew = 0;
    for (const auto& e : plan.env) ew = std::max(ew, shown(e.name).size());
    for (const auto& e : plan.env) o << "  " << pad(shown(e.name), ew + 1) << "<- " << e.rule << "\n";

    if (!plan.exec_allow.empty()) {
        o << "\nexec allowlist\n";
        for (const auto& e : plan.exec_allow) o << "  " << shown(e) << "\n";
    }

    o << "\nseccomp     " << name_of(plan.seccomp.mode) << " set"
      << (plan.seccomp.log_denials ? ", denials logged" : "")
      << (plan.seccomp.observe_files ? ", file access observed (learn)" : "")
      // seccomp::rules_for gates connect() whenever there is a listener, unless denied.
      << (plan.seccomp.log_denials &&
                  std::none_of(plan.seccomp.deny.begin(), plan.seccomp.deny.end(),
                               [](const SyscallRule& r) { return r.name == "connect"; })
              ? ", connect() checked by the supervisor"
              : "")
      << "\n";
    for (const auto& s : plan.seccomp.allow) o << "  allow " << s.name << "  (" << s.src.str() << ")\n";
    for (const auto& s : plan.seccomp.deny) o << "  deny  " << s.name << "  (" << s.src.str() << ")\n";

    const LandlockPlan& ll = plan.landlock;
    o << "\nlandlock    " << name_of(ll.mode) << ", ";
    if (ll.abi == 0) {
        o << "not enforced\n";
    } else {
        o << "ABI " << ll.abi;
        if (ll.restrict_network) o << ", TCP restricted";
        if (ll.scope_signals) o << ", signals scoped";
        if (ll.scope_abstract_unix) o << ", abstract unix sockets scoped";
        o << "\n";
        for (const auto& r : ll.rules)
            o << "  " << pad(access_names(r.access), 24) << shown(r.path) << "\n";
    }

    const NetPlan& net = plan.net;
    o << "\nnetwork     " << name_of(net.mode);
    if (net.mode == profile::NetMode::proxy)
        o << " (127.0.0.1:" << net.proxy_port << "), unlisted hosts: " << name_of(net.unlisted)
          << ", private addresses: " << (net.allow_private ? "allowed" : "denied")
          << ", capture: " << capture_name(net);
    o << "\n";
    for (const auto& r : net.allow)
        o << "  allow " << pad(host_rule_text(r), 30) << "(" << r.src.str() << ")\n";
    for (const auto& r : net.deny)
        o << "  deny  " << pad(host_rule_text(r), 30) << "(" << r.src.str() << ")\n";
    for (const auto& r : net.requests)
        o << "  request " << pad(r.raw, 28) << "(" << r.src.str() << ")\n";
    for (const auto& d : net.dlp_off)
        o << "  dlp off " << pad(d.raw, 28) << "(" << d.src.str() << ")\n";
    if (!net.intercept.empty()) o << "  intercepted: " << util::join(net.intercept, ", ") << "\n";

    if (!plan.limits.empty()) {
        o << "\nlimits\n";
        for (const auto& l : plan.limits)
            o << "  " << pad(l.name, 12) << pad(limit_value(l), 10) << pad(to_string(l.how), 11)
              << "(" << l.src.str() << ")\n";
    }

    if (!plan.protect.empty()) {
        o << "\ncommit protect (never committed without an explicit approval)\n";
        for (const auto& p : plan.protect)
            o << "  " << pad(shown(p.value), 24) << "(" << p.src.str() << ")\n";
    }

    if (!plan.state.empty()) {
        o << "\nagent state files (a copy in the session, saved back unless held for review)\n";
        for (const auto& f : plan.state)
            o << "  " << shown(f.path) << (f.review_whole ? "  [every change reviewed]" : "")
              << "  <- " << f.rule << " (" << f.src.str() << ")\n";
        if (!plan.state_keys.empty()) {
            std::string keys;
            for (const auto& k : plan.state_keys) keys += (keys.empty() ? "" : ", ") + shown(k);
            o << "  held for review when changed: " << keys << "\n";
        }
    }

    if (!plan.notes.empty()) {
        o << "\nnotes\n";
        for (const auto& n : plan.notes) o << "  - " << n << "\n";
    }
    if (!plan.weakenings.empty()) {
        o << "\nweakenings ("
          << (plan.allow_weaker ? "accepted by --allow-weaker" : "the run is refused without --allow-weaker")
          << ")\n";
        for (const auto& wk : plan.weakenings)
            o << "  - " << wk.rule << " (" << wk.src.str() << "): unavailable: " << wk.missing << "\n";
    }
    if (!plan.layers.empty()) {
        o << "\nprofiles\n";
        for (const auto& l : plan.layers)
            o << "  " << pad(l.name, 14) << shown(l.path)
              << (l.sha256.empty() ? "" : "  sha256:" + l.sha256) << "\n";
    }
    return o.str();
}

std::string render_json(const Plan& plan) {
    Json j;
    j["argv"] = plan.argv;
    j["project"] = plan.project;
    j["cwd"] = plan.cwd;
    j["home"] = plan.home;
    j["hostname"] = plan.hostname;
    j["backend"] = plan.backend;
    j["uid"] = plan.uid;
    j["gid"] = plan.gid;
    j["namespaces"] = Json{{"user", plan.ns.user}, {"mount", plan.ns.mount},
                           {"pid", plan.ns.pid},   {"net", plan.ns.net},
                           {"ipc", plan.ns.ipc},   {"uts", plan.ns.uts},
                           {"cgroup", plan.ns.cgroup}};
    j["staging"] = to_string(plan.staging);
    Json mounts = Json::array();
    for (const auto& m : plan.mounts)
        mounts.push_back(Json{{"kind", to_string(m.kind)}, {"source", m.source},
                              {"target", m.target}, {"rule", m.rule}, {"from", source_json(m.src)}});
    j["mounts"] = mounts;
    Json env = Json::array();
    for (const auto& e : plan.env) env.push_back(Json{{"name", e.name}, {"rule", e.rule}});
    j["env"] = env;
    j["exec_allow"] = plan.exec_allow;
    auto syscalls = [](const std::vector<SyscallRule>& v) {
        Json a = Json::array();
        for (const auto& s : v) a.push_back(Json{{"name", s.name}, {"from", source_json(s.src)}});
        return a;
    };
    j["seccomp"] = Json{{"mode", name_of(plan.seccomp.mode)},
                        {"allow", syscalls(plan.seccomp.allow)},
                        {"deny", syscalls(plan.seccomp.deny)},
                        {"log_denials", plan.seccomp.log_denials}};
    Json ll_rules = Json::array();
    for (const auto& r : plan.landlock.rules) {
        Json access = Json::array();
        for (const auto& a : util::split(access_names(r.access), ','))
            if (!a.empty()) access.push_back(a);
        ll_rules.push_back(Json{{"path", r.path}, {"access", access}, {"rule", r.rule}});
    }
    j["landlock"] = Json{{"mode", name_of(plan.landlock.mode)},
                         {"abi", plan.landlock.abi},
                         {"rules", ll_rules},
                         {"restrict_network", plan.landlock.restrict_network},
                         {"scope_signals", plan.landlock.scope_signals},
                         {"scope_abstract_unix", plan.landlock.scope_abstract_unix}};
    auto host_rules = [](const std::vector<HostRule>& v) {
        Json a = Json::array();
        for (const auto& r : v)
            a.push_back(Json{{"rule", r.raw},
                             {"host", r.pattern},
                             {"subdomains_only", r.subdomains_only},
                             {"ports", r.any_port ? Json("*") : Json(r.ports)},
                             {"from", source_json(r.src)}});
        return a;
    };
    j["net"] = Json{{"mode", name_of(plan.net.mode)},
                    {"allow", host_rules(plan.net.allow)},
                    {"deny", host_rules(plan.net.deny)},
                    {"unlisted", name_of(plan.net.unlisted)},
                    {"allow_private", plan.net.allow_private},
                    {"capture", capture_name(plan.net)},
                    {"proxy_port", plan.net.proxy_port}};
    // Only when there are any: the Plans of profiles without them read as they did.
    if (!plan.net.requests.empty()) {
        Json req = Json::array();
        for (const auto& r : plan.net.requests)
            req.push_back(Json{{"rule", r.raw},
                               {"methods", r.methods.empty() ? Json("*") : Json(r.methods)},
                               {"host", r.host},
                               {"path", r.path.empty() ? Json("**") : Json(r.path)},
                               {"from", source_json(r.src)}});
        j["net"]["requests"] = req;
        j["net"]["intercept"] = plan.net.intercept;
    }
    if (!plan.net.dlp_off.empty()) {
        Json off = Json::array();
        for (const auto& d : plan.net.dlp_off)
            off.push_back(Json{{"rule", d.rule}, {"host", d.host}, {"from", source_json(d.src)}});
        j["net"]["dlp_off"] = off;
    }
    Json limits = Json::array();
    for (const auto& l : plan.limits)
        limits.push_back(Json{{"name", l.name}, {"value", l.value}, {"how", to_string(l.how)},
                              {"from", source_json(l.src)}});
    j["limits"] = limits;
    j["log_size"] = plan.log_size;
    j["on_exit"] = name_of(plan.on_exit);
    Json protect = Json::array();
    for (const auto& p : plan.protect)
        protect.push_back(Json{{"glob", p.value}, {"from", source_json(p.src)}});
    j["protect"] = protect;
    // Only when there are state files: the Plans of most profiles read as before.
    if (!plan.state.empty()) {
        Json state = Json::array();
        for (const auto& f : plan.state) {
            Json one{{"review_whole", f.review_whole}, {"rule", f.rule},
                     {"from", source_json(f.src)}};
            util::put_text(one, "path", f.path);
            state.push_back(std::move(one));
        }
        j["state"] = state;
        j["state_keys"] = plan.state_keys;
    }
    j["notes"] = plan.notes;
    Json weak = Json::array();
    for (const auto& w : plan.weakenings)
        weak.push_back(Json{{"rule", w.rule}, {"from", source_json(w.src)}, {"missing", w.missing}});
    j["weakenings"] = weak;
    j["allow_weaker"] = plan.allow_weaker;
    Json layers = Json::array();
    for (const auto& l : plan.layers)
        layers.push_back(Json{{"name", l.name}, {"path", l.path}, {"sha256", l.sha256}});
    j["layers"] = layers;
    // Replacement instead of an exception: a file name that is not UTF-8 must not abort a
    // dry run; the text rendering shows its exact bytes.
    return j.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace agentbox::policy
