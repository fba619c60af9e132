#include "cli/run_summary.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>
#include <nlohmann/json.hpp>

#include "cli/errors.hpp"
#include "profile/names.hpp"
#include "cli/term.hpp"
#include "policy/policy.hpp"
#include "sys/error.hpp"
#include "sys/io.hpp"
#include "util/exit_codes.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
}

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// "mount 2x, bpf" from {"bpf":1,"mount":2}: the most frequent first, at most `max` of them.
std::string tally(const std::map<std::string, std::uint64_t>& m, std::size_t max) {
    std::vector<std::pair<std::string, std::uint64_t>> v(m.begin(), m.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < max; ++i) {
        if (!out.empty()) out += ", ";
        // Host names come from inside the sandbox: anything but plain printable text is
        // quoted and escaped for the terminal.
        const std::string& name = v[i].first;
        const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != ',';
        });
        out += plain ? name : util::quote(name);
        if (v[i].second > 1) out += " " + std::to_string(v[i].second) + "x";
    }
    if (v.size() > max) out += ", ...";
    return out;
}

std::uint64_t sum(const std::map<std::string, std::uint64_t>& m) {
    std::uint64_t n = 0;
    for (const auto& [k, v] : m) n += v;
    return n;
}

std::string field(const sandbox::Event& ev, std::string_view key) {
    for (const auto& [k, v] : ev.fields)
        if (k == key) return v;
    return {};
}

}  // namespace

void Denials::add(const sandbox::Event& ev) {
    if (ev.type == "syscall.denied") {
        ++syscalls[field(ev, "syscall")];
    } else if (ev.type == "net.connect" && field(ev, "verdict") != "allow") {
        ++connections[field(ev, "host") + ":" + field(ev, "port")];
    } else if (ev.type == "landlock.denied") {
        // What was blocked and where: "fs.write_file /etc/x", "net.bind_tcp 127.0.0.1:8080".
        const std::string path = field(ev, "path"), port = field(ev, "port");
        std::string target = !path.empty()   ? path
                             : !port.empty() ? field(ev, "addr") + ":" + port
                                             : field(ev, "target_comm");
        ++landlock[field(ev, "blockers") + (target.empty() ? "" : " " + target)];
    }
}

std::uint64_t Denials::total() const {
    return sum(syscalls) + sum(connections) + sum(landlock);
}

std::vector<std::pair<std::string, std::string>> withheld_env(
    const profile::Profile& prof, const std::map<std::string, std::string>& environ) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : environ) {
        const policy::Decision d = policy::decide(prof, policy::Request{policy::Op::env, name}, "");
        // Only what a rule names: the many variables no rule mentions are not news.
        if (d.verdict != policy::Verdict::allow && d.rule.starts_with("env.deny"))
            out.emplace_back(name, d.rule);
    }
    return out;
}

std::string hidden_command_hint(const policy::Plan& plan, const std::string& command,
                                const std::string& path_env, const std::string& cwd,
                                const std::string& home) {
    if (command.empty()) return {};
    std::string found;
    if (command.find('/') != std::string::npos) {
        const std::string abs =
            util::normalize_path(command.starts_with('/') ? command : cwd + "/" + command);
        if (::access(abs.c_str(), X_OK) == 0) found = abs;
    } else {
        for (const auto& dir : util::split(path_env, ':')) {
            if (dir.empty() || !dir.starts_with('/')) continue;
            const std::string cand = util::normalize_path(dir + "/" + command);
            if (::access(cand.c_str(), X_OK) == 0) {
                found = cand;
                break;
            }
        }
    }
    if (found.empty()) return {};
    // What the sandbox has at that path: the plan's last mount covering it (mounts are in
    // the order they are made, so the last one there is what the command sees).
    const policy::Mount* seen = nullptr;
    for (const auto& m : plan.mounts)
        if (m.kind != policy::MountKind::symlink && m.kind != policy::MountKind::dir &&
            util::path_within(found, m.target))
            seen = &m;
    const bool shown = seen != nullptr && (seen->kind == policy::MountKind::bind_ro ||
                                           seen->kind == policy::MountKind::bind_rw ||
                                           seen->kind == policy::MountKind::overlay);
    const std::string rule = seen == nullptr ? std::string("no rule grants it") : seen->rule;
    if (shown) {
        // Visible, and still ENOENT: exec's other lookup, the interpreter of a script.
        std::string first;
        if (FILE* f = std::fopen(found.c_str(), "re")) {
            char buf[256] = {};
            if (std::fgets(buf, sizeof buf, f) != nullptr) first = buf;
            std::fclose(f);
        }
        if (!first.starts_with("#!")) return {};
        first = util::trim(first.substr(2));
        const std::string interp = first.substr(0, first.find_first_of(" \t\n"));
        return util::quote(found) + " is a script for " + util::quote(interp) +
               ", which the sandbox does not have (or, for env, the program it names); make it "
               "visible with --ro";
    }
    // What to grant: below the home, the top directory there (~/.npm-global holds both the
    // bin/ link and the package it points into); elsewhere the file's directory.
    std::string grant = found.substr(0, found.rfind('/'));
    if (!home.empty() && util::path_within(found, home) && found != home) {
        const std::string rel = util::relative_to(found, home);
        grant = home + "/" + rel.substr(0, rel.find('/'));
    }
    if (grant.empty()) grant = "/";
    const auto tilde = [&](const std::string& p) {
        return !home.empty() && util::path_within(p, home) ? "~" + p.substr(home.size()) : p;
    };
    return util::quote(tilde(found)) + " exists on the host, but the profile does not show it "
           "in the sandbox (" + rule + "); make it visible with --ro " +
           util::quote(tilde(grant)) + ", or add it to [filesystem] read in a profile";
}

void print_withheld_env(const std::vector<std::pair<std::string, std::string>>& withheld) {
    if (withheld.empty()) return;
    // Names only (values are what the rule protects); the rules are in --summary-fd and
    // `agentbox explain env NAME`.
    std::string names;
    for (std::size_t i = 0; i < withheld.size() && i < 10; ++i)
        names += (names.empty() ? "" : ", ") + util::quote(withheld[i].first);
    if (withheld.size() > 10) names += " and " + std::to_string(withheld.size() - 10) + " more";
    note("the profile withheld " + std::to_string(withheld.size()) + " variable(s) from the "
         "command: " + names + "; pass one with --env NAME, or [env] pass = [\"NAME\"] in a "
         "profile (an exact name beats the deny patterns); agentbox explain env NAME names the rule");
}

Summary make_summary(const policy::Plan& plan, const sandbox::Outcome& out,
                     const stage::Session* session) {
    Summary s;
    s.command = plan.argv.empty() ? std::string() : plan.argv.front();
    s.exit_code = out.exit_code;
    // Anything that stopped the command before exec is agentbox's failure (125), except the
    // two exec failures that DESIGN.md §2 gives their own codes.
    if (!out.started && s.exit_code != util::kExitNotExecutable &&
        s.exit_code != util::kExitNotFound)
        s.exit_code = exit_setup;
    s.signal = out.signal;
    s.timed_out = out.timed_out;
    s.started = out.started;
    s.error = out.error;
    s.wall_seconds = out.wall_seconds;
    s.peak_memory = out.peak_memory;
    if (session != nullptr) {
        s.session_id = session->meta().id;
        s.session_dir = session->dir();
    }
    s.on_exit = plan.on_exit;
    return s;
}

void print_summary(const Summary& s) {
    const std::string cmd = util::quote(s.command);
    if (s.started) {
        std::string how;
        if (s.timed_out)
            how = "was stopped by the time limit";
        else if (s.signal != 0)
            how = "was killed by " + signal_name(s.signal);
        else
            how = "exited with status " + std::to_string(s.exit_code);
        note(cmd + " " + how + " after " + seconds(s.wall_seconds) +
             (s.exit_code != 0 ? " (agentbox exits " + std::to_string(s.exit_code) + ")" : ""));
    } else {
        note(cmd + " did not start (exit " + std::to_string(s.exit_code) + ")");
    }
    if (s.denied.total() > 0) {
        std::string what;
        if (!s.denied.syscalls.empty())
            what += std::to_string(sum(s.denied.syscalls)) + " system call(s) (" +
                    tally(s.denied.syscalls, 5) + ")";
        if (!s.denied.connections.empty())
            what += std::string(what.empty() ? "" : ", ") +
                    std::to_string(sum(s.denied.connections)) + " connection(s) (" +
                    tally(s.denied.connections, 3) + ")";
        if (!s.denied.landlock.empty())
            what += std::string(what.empty() ? "" : ", ") +
                    std::to_string(sum(s.denied.landlock)) + " access(es) by Landlock (" +
                    tally(s.denied.landlock, 3) + ")";
        note("denied " + what + (s.session_id.empty() ? "" : "; agentbox log " + s.session_id +
                                                              " has each one"));
    }
    print_withheld_env(s.withheld_env);
    if (s.session_id.empty()) return;
    if (!s.review.line.empty()) note(s.review.line);
    if (s.review.left_staged > 0)
        note("review with: agentbox diff " + s.session_id + "; then agentbox commit / discard " +
             s.session_id);
}

void write_summary_json(int fd, const Summary& s) {
    nlohmann::ordered_json j;
    j["exit_code"] = s.exit_code;
    j["started"] = s.started;
    j["signal"] = s.signal;
    j["timed_out"] = s.timed_out;
    j["wall_seconds"] = s.wall_seconds;
    j["peak_memory"] = s.peak_memory;
    util::put_text(j, "error", s.error);
    j["session"] = s.session_id.empty() ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(s.session_id);
    util::put_text(j, "session_dir", s.session_dir);
    j["on_exit"] = name_of(s.on_exit);
    util::put_text(j, "review", s.review.line);
    // What really became of the changes: on_exit is what was asked for.
    j["changes"] = s.review.changes;
    j["outcome"] = s.review.outcome;
    j["committed"] = s.review.committed;
    j["left_staged"] = s.review.left_staged;
    j["interrupted"] = s.review.interrupted;
    nlohmann::ordered_json withheld = nlohmann::ordered_json::array();
    for (const auto& [name, rule] : s.withheld_env) {
        nlohmann::ordered_json e;
        util::put_text(e, "name", name);
        e["rule"] = rule;
        withheld.push_back(std::move(e));
    }
    j["withheld_env"] = std::move(withheld);
    j["denied"] = {{"syscalls", s.denied.syscalls},
                   {"connections", s.denied.connections},
                   {"landlock", s.denied.landlock}};
    // Strings are put as util/json_text.hpp says; `replace` only guards against a slip.
    const std::string text =
        j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    // A reader that went away costs a warning (EPIPE), not agentbox's life: SIGPIPE is held
    // for the write, and one the write raised is taken off before it is let through again.
    sigset_t pipe_sig, old;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
    auto restore = [&] {
        const struct timespec now {};
        while (::sigtimedwait(&pipe_sig, nullptr, &now) == SIGPIPE) {
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    };
    try {
        sys::write_all(fd, text, "--summary-fd " + std::to_string(fd));
    } catch (...) {
        restore();
        throw;
    }
    restore();
}

}  // namespace agentbox::cli
