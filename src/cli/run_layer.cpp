#include "cli/run_layer.hpp"

#include "cli/context.hpp"
#include "cli/errors.hpp"
#include "profile/load.hpp"
#include "profile/names.hpp"

namespace agentbox::cli {

namespace {

const profile::Source kFlag{"<command line>", 0, 0};

profile::Entry entry(std::string value, std::string raw) {
    return profile::Entry{std::move(value), std::move(raw), kFlag};
}

template <class T>
void set(profile::Setting<T>& s, T value) {
    s.value = std::move(value);
    s.src = kFlag;
    s.set = true;
}

void add_paths(std::vector<profile::Entry>& to, const std::vector<std::string>& paths,
               const char* flag, const std::string& cwd, const std::string& home) {
    for (const auto& p : paths) {
        if (p.empty()) throw UsageError(std::string(flag) + ": empty path");
        to.push_back(entry(expand_path(p, cwd, home), p));
    }
}

bool valid_env_name(std::string_view name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
    for (char c : name)
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9')))
            return false;
    return true;
}

}  // namespace

profile::Profile flags_layer(const RunOptions& o, const std::string& cwd,
                             const std::string& home) {
    profile::Profile p;
    p.layers.push_back(profile::Layer{"<command line>", "<command line>", ""});

    add_paths(p.filesystem.read, o.ro, "--ro", cwd, home);
    add_paths(p.filesystem.write, o.rw, "--rw", cwd, home);
    add_paths(p.filesystem.deny, o.hide, "--hide", cwd, home);

    if (o.net) {
        if (const auto mode = profile::parse_name<profile::NetMode>(*o.net))
            set(p.network.mode, *mode);
        else
            throw UsageError("--net: unknown mode '" + *o.net + "' (expected none, proxy or host)");
    }
    if (p.network.mode.set && p.network.mode.value == profile::NetMode::none &&
        !o.allow_hosts.empty())
        throw UsageError("--net none with --allow-host " + o.allow_hosts.front() +
                         ": an allow rule works only through the proxy; drop --net none "
                         "(--allow-host alone selects the proxy) or the --allow-host");
    for (const auto& h : o.allow_hosts) {
        if (h.empty()) throw UsageError("--allow-host: empty host");
        p.network.allow.push_back(entry(h, h));
    }

    // --secret NAME@HOST[,HOST...]: the value from the launcher's variable NAME.
    for (const auto& spec : o.secrets) {
        const auto at = spec.find('@');
        const std::string name = spec.substr(0, at);
        if (at == std::string::npos || !valid_env_name(name))
            throw UsageError("--secret: '" + spec + "' is not NAME@HOST[,HOST...] with NAME made "
                             "of letters, digits and '_'");
        profile::Secret sec;
        sec.name = name;
        sec.env = name;
        sec.src = kFlag;
        std::string rest = spec.substr(at + 1);
        for (std::size_t b = 0; b <= rest.size();) {
            std::size_t e = rest.find(',', b);
            if (e == std::string::npos) e = rest.size();
            std::string host = rest.substr(b, e - b);
            for (auto& ch : host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            while (!host.empty() && host.back() == '.') host.pop_back();
            if (host.empty() || host.find_first_of("*:/@ ") != std::string::npos)
                throw UsageError("--secret " + spec + ": '" + rest.substr(b, e - b) +
                                 "' is not a host name (exact names, no port, no pattern)");
            sec.hosts.push_back(entry(host, rest.substr(b, e - b)));
            b = e + 1;
        }
        p.secrets[name] = std::move(sec);
    }

    for (const auto& e : o.env) {
        const auto eq = e.find('=');
        const std::string name = e.substr(0, eq);
        if (!valid_env_name(name))
            throw UsageError("--env: '" + e + "' is not NAME or NAME=VALUE with NAME made of "
                             "letters, digits and '_'");
        if (eq == std::string::npos)
            p.env.pass.push_back(entry(name, e));
        else
            p.env.set[name] = entry(e.substr(eq + 1), e);
    }

    if (o.timeout) {
        auto ms = profile::parse_duration_ms(*o.timeout);
        if (!ms) throw UsageError("--timeout: invalid duration '" + *o.timeout +
                                  "' (examples: 90s, 30m, 1h30m, 500ms)");
        set(p.limits.timeout_ms, *ms);
    }
    if (o.memory) {
        auto bytes = profile::parse_size(*o.memory);
        if (!bytes) throw UsageError("--memory: invalid size '" + *o.memory +
                                     "' (examples: 512M, 4GiB, 1073741824)");
        set(p.limits.memory, *bytes);
    }
    if (o.pids) {
        // A count, not a size: no suffixes, and 0 would mean "no limit" which a flag named
        // --pids should not silently grant.
        std::uint64_t n = 0;
        bool ok = !o.pids->empty() && o.pids->size() <= 9;
        for (char c : *o.pids) ok = ok && c >= '0' && c <= '9';
        if (ok) n = std::stoull(*o.pids);
        if (!ok || n == 0)
            throw UsageError("--pids: invalid count '" + *o.pids + "' (a positive integer)");
        set(p.limits.pids, n);
    }
    if (o.on_exit) {
        const auto v = profile::parse_name<profile::OnExit>(*o.on_exit);
        if (!v)
            throw UsageError("--on-exit: unknown action '" + *o.on_exit +
                             "' (expected ask, commit, discard or keep)");
        set(p.commit.on_exit, *v);
    }
    if (o.approver) set(p.approve.command, *o.approver);
    return p;
}

}  // namespace agentbox::cli
