// Plan -> SBPL. Pure: no system calls, so the same text is produced (and golden-tested) on
// Linux. The executor for macOS is in seatbelt_exec.cpp.
#include "sandbox/macos/seatbelt.hpp"

#include <set>
#include <sstream>
#include <stdexcept>

#include "sandbox/relocate.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox::macos {

using policy::Mount;
using policy::MountKind;
using policy::Plan;

std::string sbpl_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            // SBPL's reader has no portable escape for these; a path that needs one is refused
            // rather than approximated.
            throw std::invalid_argument("path " + util::quote(s) +
                                        " has a control character; a Seatbelt profile cannot "
                                        "name it");
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string scratch_path(const std::string& scratch, const std::string& target) {
    return target == "/" ? scratch : scratch + target;
}

namespace {

// Comments carry rule text from profiles; a newline in it would end the comment and start a
// rule, so anything but printable text is replaced.
std::string comment(std::string_view s) {
    std::string out = ";; ";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    return out + "\n";
}

std::string why(const Mount& m) {
    return m.rule + (m.src.file.empty() ? "" : " (" + m.src.str() + ")");
}

// A path filter on a host path.
std::string host_filter(const char* kind, const std::string& path) {
    return std::string("(") + kind + " " + sbpl_string(path) + ")";
}

// A path filter under a launch-time directory: (subpath (string-append (param "P") "/rel")).
std::string param_filter(const char* kind, const char* param, const std::string& rel) {
    std::string p = std::string("(param ") + sbpl_string(param) + ")";
    if (!rel.empty()) p = "(string-append " + p + " " + sbpl_string(rel) + ")";
    return std::string("(") + kind + " " + p + ")";
}

// The copy strategy stands in for the overlay: either way the command writes into the copy.
bool staged(const Plan& plan) {
    return plan.staging == policy::Staging::overlay || plan.staging == policy::Staging::copy;
}

bool exec_allowed(const Plan& plan, const std::string& path) {
    if (plan.exec_allow.empty()) return true;
    for (const auto& e : plan.exec_allow)
        if (util::path_within(path, e)) return true;
    return false;
}

// What every process on macOS needs before its own code runs: dyld, the shared cache, the
// system libraries, and a few system services (logging, user lookup, certificate checks).
// None of them is a path of the user's; the Plan's rules come after.
constexpr const char* kRuntimeRead[] = {
    "/System", "/usr/lib", "/usr/share/icu", "/private/var/db/dyld",
    "/System/Volumes/Preboot/Cryptexes", "/Library/Apple/System/Library/Frameworks",
};
constexpr const char* kRuntimeServices[] = {
    "com.apple.system.logger",
    "com.apple.logd",
    "com.apple.system.notification_center",
    "com.apple.system.opendirectoryd.libinfo",  // getpwuid, getgrgid
    "com.apple.trustd.agent",                   // TLS certificate checks (through the proxy too)
    "com.apple.bsd.dirhelper",                  // confstr(_CS_DARWIN_USER_TEMP_DIR)
};

// Device nodes of the Plan's minimal /dev that exist on macOS. /dev/fd is per-process.
constexpr const char* kDevNodes[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom",
                                     "/dev/tty", "/dev/dtracehelper"};

class Writer {
public:
    explicit Writer(const Plan& plan) : plan_(plan) {}

    std::string run() {
        header();
        runtime();
        for (const auto& m : plan_.mounts) grant(m);
        exec_rules();
        network();
        ancestors();
        denials();
        return o_.str();
    }

private:
    void header() {
        o_ << "(version 1)\n"
           << comment("agentbox Seatbelt profile for: " + util::join(plan_.argv, " "))
           << comment("project " + plan_.project + "  (staging: " +
                      policy::to_string(plan_.staging) + ")")
           << comment(std::string("parameters: -D ") + kParamCopy + "=DIR (the staged copy) -D " +
                      kParamScratch + "=DIR (private tmpfs replacements)")
           << "(deny default)\n";
    }

    void runtime() {
        o_ << "\n" << comment("macOS process runtime (not from the profile)");
        o_ << "(allow process-fork)\n"
           << "(allow signal (target same-sandbox))\n"
           << "(allow process-info* (target same-sandbox))\n"
           << "(allow sysctl-read)\n"
           << "(allow ipc-posix-sem)\n"
           << "(allow mach-lookup";
        for (const char* s : kRuntimeServices) o_ << "\n  (global-name " << sbpl_string(s) << ")";
        o_ << ")\n(allow file-read* file-map-executable";
        for (const char* p : kRuntimeRead) {
            o_ << "\n  " << host_filter("subpath", p);
            visible(p);
        }
        o_ << ")\n";
    }

    // Parent directories must be stat-able for getcwd(), realpath() and path lookups that
    // check each component; only their metadata, never their listing or content.
    void visible(const std::string& path) {
        std::string p = path;
        while (p.size() > 1) {
            auto slash = p.rfind('/');
            p = slash == 0 ? std::string("/") : p.substr(0, slash);
            ancestors_.insert(p);
        }
    }

    void grant(const Mount& m) {
        switch (m.kind) {
            case MountKind::bind_ro:
            case MountKind::bind_rw: {
                const bool rw = m.kind == MountKind::bind_rw;
                o_ << "\n" << comment(std::string(policy::to_string(m.kind)) + " " + m.target +
                                      " <- " + why(m));
                o_ << "(allow file-read*" << (rw ? " file-write*" : "") << " "
                   << host_filter("subpath", m.source) << ")\n";
                exec_paths_.push_back(host_filter("subpath", m.source));
                exec_checked_.push_back(m.target);
                visible(m.source);
                if (m.source != m.target) {
                    // On macOS the source differs only where the target is a symlink to it
                    // (/etc -> private/etc): the link itself must be readable to be followed.
                    o_ << "(allow file-read* " << host_filter("literal", m.target) << ")\n";
                    visible(m.target);
                }
                return;
            }
            case MountKind::overlay:
                o_ << "\n" << comment("project " + m.target + " <- " + why(m))
                   << comment("the command works in a copy (" + std::string(kParamCopy) +
                              "); the project itself stays read-only until commit");
                o_ << "(allow file-read* " << host_filter("subpath", m.target) << ")\n"
                   << "(allow file-read* file-write* " << param_filter("subpath", kParamCopy, "")
                   << ")\n";
                visible(m.target);
                exec_paths_.push_back(host_filter("subpath", m.target));
                exec_checked_.push_back(m.target);
                exec_paths_.push_back(param_filter("subpath", kParamCopy, ""));
                exec_checked_.push_back(m.target);
                return;
            // Agent state files are copied and saved back by the Linux run only: here the home
            // is a private scratch directory, as without them.
            case MountKind::state_home:
            case MountKind::tmpfs: {
                const std::string rel = m.target == "/" ? std::string() : m.target;
                o_ << "\n" << comment("tmpfs " + m.target + " <- " + why(m))
                   << comment("a private directory under " + std::string(kParamScratch));
                o_ << "(allow file-read* file-write* "
                   << param_filter("subpath", kParamScratch, rel) << ")\n";
                exec_paths_.push_back(param_filter("subpath", kParamScratch, rel));
                exec_checked_.push_back(m.target);
                return;
            }
            case MountKind::dev:
                o_ << "\n" << comment("dev " + m.target + " <- " + why(m));
                o_ << "(allow file-read* file-write*";
                for (const char* d : kDevNodes) o_ << "\n  " << host_filter("literal", d);
                o_ << "\n  " << host_filter("subpath", "/dev/fd") << ")\n"
                   << "(allow file-ioctl " << host_filter("literal", "/dev/tty") << ")\n";
                visible("/dev/null");
                return;
            case MountKind::symlink:
                o_ << "\n" << comment("symlink " + m.target + " -> " + m.source + " <- " + why(m));
                o_ << "(allow file-read* " << host_filter("literal", m.target) << ")\n";
                visible(m.target);
                return;
            case MountKind::proc:
                o_ << "\n" << comment("proc " + m.target + ": macOS has no procfs; nothing granted");
                return;
            case MountKind::mask_dir:
            case MountKind::mask_file:
                masks_.push_back(&m);
                return;
            case MountKind::dir: return;
        }
    }

    void exec_rules() {
        o_ << "\n";
        if (plan_.exec_allow.empty()) {
            o_ << comment("execution: wherever files are visible");
            o_ << "(allow process-exec file-map-executable";
            for (const auto& f : exec_paths_) o_ << "\n  " << f;
            o_ << ")\n";
            return;
        }
        o_ << comment("execution: only filesystem.exec");
        o_ << "(allow process-exec file-map-executable";
        std::set<std::string> seen;
        for (std::size_t i = 0; i < exec_paths_.size(); ++i)
            if (exec_allowed(plan_, exec_checked_[i]) && seen.insert(exec_paths_[i]).second)
                o_ << "\n  " << exec_paths_[i];
        for (const auto& e : plan_.exec_allow) {
            o_ << "\n  " << host_filter("subpath", e);
            if (util::path_within(e, plan_.project) && staged(plan_))
                o_ << "\n  "
                   << param_filter("subpath", kParamCopy, e.substr(plan_.project.size()));
        }
        o_ << ")\n";
    }

    void network() {
        o_ << "\n";
        switch (plan_.net.mode) {
            case profile::NetMode::none:
                o_ << comment("network none: no sockets beyond the process itself");
                return;
            case profile::NetMode::proxy:
                o_ << comment("network proxy: only agentbox's proxy on the loopback port");
                o_ << "(allow network-outbound (remote tcp "
                   << sbpl_string("localhost:" + std::to_string(plan_.net.proxy_port)) << "))\n";
                return;
            case profile::NetMode::host:
                o_ << comment("network host: everything, and name resolution");
                o_ << "(allow network*)\n"
                   << "(allow system-socket)\n"
                   << "(allow mach-lookup (global-name \"com.apple.dnssd.service\"))\n";
                return;
        }
    }

    void ancestors() {
        if (ancestors_.empty()) return;
        o_ << "\n" << comment("parents of granted paths: metadata only");
        o_ << "(allow file-read-metadata";
        for (const auto& a : ancestors_) o_ << "\n  " << host_filter("literal", a);
        o_ << ")\n";
    }

    // Last, so that they win over every grant above, in the project's copy too.
    void denials() {
        if (masks_.empty()) return;
        o_ << "\n" << comment("denied paths (last: the last matching rule wins)");
        for (const Mount* m : masks_) {
            const char* kind = m->kind == MountKind::mask_dir ? "subpath" : "literal";
            o_ << comment(m->target + " <- " + why(*m));
            o_ << "(deny file-read* file-write* process-exec " << host_filter(kind, m->target);
            if (staged(plan_) && util::path_within(m->target, plan_.project) &&
                m->target != plan_.project)
                o_ << "\n  "
                   << param_filter(kind, kParamCopy, m->target.substr(plan_.project.size()));
            o_ << ")\n";
        }
    }

    const Plan& plan_;
    std::ostringstream o_;
    std::vector<std::string> exec_paths_;    // filters where execution may be granted
    std::vector<std::string> exec_checked_;  // the sandbox path each filter stands for
    std::set<std::string> ancestors_;
    std::vector<const Mount*> masks_;
};

}  // namespace

std::string seatbelt_profile(const Plan& plan) { return Writer(plan).run(); }

std::vector<policy::Weakening> seatbelt_weakenings(const Plan& plan) {
    std::vector<policy::Weakening> out;
    const profile::Source backend{"<macos>", 0, 0};
    for (const auto& l : plan.limits) {
        if (l.value == 0) continue;
        if (l.name == "memory")
            out.push_back({"limits.memory", l.src,
                           "a memory limit: macOS does not enforce RLIMIT_AS/RLIMIT_DATA and has "
                           "no cgroups"});
        else if (l.name == "pids")
            out.push_back({"limits.pids", l.src,
                           "a process limit: RLIMIT_NPROC counts every process of the user on "
                           "macOS"});
    }
    if (plan.seccomp.mode == profile::SeccompMode::strict)
        out.push_back({"process.seccomp \"strict\"", backend,
                       "a system call allowlist: Seatbelt filters operations, not system calls"});
    for (const auto& d : plan.seccomp.deny)
        out.push_back({"process.seccomp.deny " + util::quote(d.name), d.src,
                       "system call filters: Seatbelt filters operations, not system calls"});
    return out;
}

Launch seatbelt_launch(const Plan& plan, const std::string& copy, const std::string& scratch) {
    const Relocation where(plan, copy, scratch);
    // The session's directories are known only now. Their parents need metadata for
    // realpath() and friends from inside the copy; this comes after the denials, and grants
    // only the stat of those directories, never their listing or content.
    std::string profile = seatbelt_profile(plan);
    std::set<std::string> parents;
    for (const std::string* dir : {&copy, &scratch})
        for (std::string p = *dir; p.size() > 1;) {
            auto slash = p.rfind('/');
            p = slash == 0 || slash == std::string::npos ? std::string("/") : p.substr(0, slash);
            parents.insert(p);
        }
    profile += "\n" + comment("parents of the session's copy and scratch directories");
    profile += "(allow file-read-metadata";
    for (const auto& p : parents) profile += "\n  " + host_filter("literal", p);
    profile += ")\n";

    Launch l;
    l.argv = {"/usr/bin/sandbox-exec", "-p", profile,
              "-D", std::string(kParamCopy) + "=" + copy,
              "-D", std::string(kParamScratch) + "=" + scratch, "--"};
    l.argv.insert(l.argv.end(), plan.argv.begin(), plan.argv.end());
    l.env = relocated_env(plan, where);
    l.cwd = where.path(plan.cwd);
    l.copy_excludes = where.copy_excludes();
    return l;
}

}  // namespace agentbox::sandbox::macos
