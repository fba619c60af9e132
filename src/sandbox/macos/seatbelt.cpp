// Plan -> SBPL. Pure: no system calls, so the same text is produced (and golden-tested) on
// Linux. The executor for macOS is in seatbelt_exec.cpp.
#include "sandbox/macos/seatbelt.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "net/proxy_auth.hpp"
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

std::string macos_real_path(const std::string& path) {
    for (const char* link : {"/etc", "/tmp", "/var"})
        if (util::path_within(path, link)) return "/private" + path;
    return path;
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

// A path filter on a host path, at the path Seatbelt will compare it with.
std::string host_filter(const char* kind, const std::string& path) {
    return std::string("(") + kind + " " + sbpl_string(macos_real_path(path)) + ")";
}

// A filter on a symlink itself, which must stay the path as written to be followed.
std::string link_filter(const std::string& path) {
    return "(literal " + sbpl_string(path) + ")";
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
// system libraries, the time zone /etc/localtime points into. None of them is a path of the
// user's; the Plan's rules come after.
constexpr const char* kRuntimeRead[] = {
    "/System", "/usr/lib", "/usr/share/icu", "/private/var/db/dyld",
    "/private/var/db/timezone", "/System/Volumes/Preboot/Cryptexes",
    "/Library/Apple/System/Library/Frameworks",
};
constexpr const char* kRuntimeServices[] = {
    "com.apple.system.logger",
    "com.apple.logd",
    "com.apple.system.notification_center",
    "com.apple.system.opendirectoryd.libinfo",     // getpwuid, getgrgid
    "com.apple.system.opendirectoryd.membership",  // getgrouplist, mbr_* (git, ssh, sudo -n)
    "com.apple.trustd.agent",                      // TLS certificate checks (through the proxy too)
    "com.apple.SecurityServer",                    // Security.framework: keychain-less trust
    "com.apple.ocspd",                             // certificate revocation for those checks
    "com.apple.cfprefsd.daemon",                   // user-preference-read goes through cfprefsd
    "com.apple.cfprefsd.agent",
    "com.apple.bsd.dirhelper",                     // confstr(_CS_DARWIN_USER_TEMP_DIR)
};
// The sysctls programs read about the machine: CPU count and features (Node's os.cpus(),
// Go's and Rust's runtimes, OpenSSL), memory and page size, the OS release (uname), and
// whether the process runs under Rosetta. Not the process table (kern.proc.*) nor what
// other processes run with (kern.procargs*), which the wholesale sysctl-read gave.
constexpr const char* kSysctlNames[] = {
    "hw.activecpu", "hw.byteorder", "hw.cachelinesize", "hw.cpufamily", "hw.cpufrequency",
    "hw.cpusubfamily", "hw.cpusubtype", "hw.cputype", "hw.l1dcachesize", "hw.l1icachesize",
    "hw.l2cachesize", "hw.l3cachesize", "hw.logicalcpu", "hw.logicalcpu_max", "hw.machine",
    "hw.memsize", "hw.model", "hw.ncpu", "hw.nperflevels", "hw.pagesize", "hw.pagesize_compat",
    "hw.physicalcpu", "hw.physicalcpu_max", "hw.tbfrequency", "kern.argmax", "kern.boottime",
    "kern.hostname", "kern.maxfiles", "kern.maxfilesperproc", "kern.osproductversion",
    "kern.osrelease", "kern.ostype", "kern.osvariant_status", "kern.osversion",
    "kern.secure_kernel", "kern.usrstack64", "kern.version", "sysctl.proc_cputype",
    "sysctl.proc_native", "sysctl.proc_translated", "vm.loadavg",
};
constexpr const char* kSysctlPrefixes[] = {"hw.optional.", "hw.perflevel", "machdep.cpu."};

// Apple's developer tools: /usr/bin/git, python3, make, cc are shims that run the real tool
// from the selected developer directory, found through xcode-select's link.
constexpr const char* kDeveloperDir = "/Library/Developer/CommandLineTools";
constexpr const char* kDeveloperLinks[] = {"/private/var/db/xcode_select_link"};
constexpr const char* kDeveloperSelect = "/private/var/select";  // developer_dir, sh

// Device nodes of the Plan's minimal /dev that exist on macOS. /dev/fd is per-process.
constexpr const char* kDevNodes[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom",
                                     "/dev/tty", "/dev/dtracehelper"};

// Where a sandbox path lives during the run, as a filter prefix: the copy, a scratch
// directory, or the host (param == nullptr). The deepest mount containing it decides, as the
// deepest mount would on Linux.
struct Place {
    const char* param = nullptr;
    std::string rel;  // under the parameter's directory
};

Place place_of(const Plan& plan, const std::string& path) {
    Place out;
    std::size_t depth = 0;
    if (staged(plan) && util::path_within(path, plan.project)) {
        depth = plan.project.size();
        out = {kParamCopy, path.substr(plan.project.size())};
    }
    for (const auto& m : plan.mounts) {
        if (!util::path_within(path, m.target) || m.target.size() < depth) continue;
        if (m.kind == MountKind::tmpfs) {
            depth = m.target.size();
            out = {kParamScratch, path};
        } else if (m.kind == MountKind::bind_ro || m.kind == MountKind::bind_rw) {
            depth = m.target.size();
            out = {};
        }
    }
    return out;
}

// The end of a deny rule: with a launch's tag, the message the kernel's report of a denial
// carries (denials.hpp reads it back).
std::string deny_end(const std::string& tag) {
    return tag.empty() ? std::string(")\n") : " (with message " + sbpl_string(tag) + "))\n";
}

class Writer {
public:
    // `tag`: a launch's denial tag (LaunchFacts::log_tag), carried by every deny rule so that
    // the kernel's report of a denial names the run; empty for the printed profile.
    Writer(const Plan& plan, const std::string& tag)
        : plan_(plan), end_deny_(deny_end(tag)) {}

    std::string run() {
        header();
        runtime();
        for (const auto& m : plan_.mounts) grant(m);
        exec_rules();
        network();
        ancestors();
        denials();
        session();
        relocated_denials();
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
           << "(deny default" << end_deny_;
    }

    void runtime() {
        o_ << "\n" << comment("macOS process runtime (not from the profile)");
        o_ << "(allow process-fork)\n"
           << "(allow signal (target same-sandbox))\n"
           << "(allow process-info* (target same-sandbox))\n"
           << "(allow sysctl-read";
        for (const char* n : kSysctlNames) o_ << "\n  (sysctl-name " << sbpl_string(n) << ")";
        for (const char* n : kSysctlPrefixes)
            o_ << "\n  (sysctl-name-prefix " << sbpl_string(n) << ")";
        o_ << ")\n"
           << comment("host_processor_info(), host_statistics(): CPUs and memory (os.cpus(), "
                      "os.freemem()); the set operations need the privileged host port")
           << "(allow mach-host*)\n"
           << comment("POSIX semaphores and shared memory (Python multiprocessing, "
                      "cfprefsd's preference cache)")
           << "(allow ipc-posix-sem ipc-posix-shm)\n"
           << "(allow user-preference-read)\n"
           << "(allow mach-lookup";
        for (const char* s : kRuntimeServices) o_ << "\n  (global-name " << sbpl_string(s) << ")";
        o_ << ")\n(allow file-read* file-map-executable";
        for (const char* p : kRuntimeRead) {
            o_ << "\n  " << host_filter("subpath", p);
            visible(p);
        }
        o_ << ")\n" << comment("developer tools behind the /usr/bin shims (git, python3, make)");
        o_ << "(allow file-read* " << host_filter("subpath", kDeveloperDir) << ")\n"
           << "(allow file-read*";
        for (const char* p : kDeveloperLinks) o_ << " " << host_filter("literal", p);
        o_ << " " << host_filter("subpath", kDeveloperSelect) << ")\n";
        visible(kDeveloperDir);
        exec_paths_.push_back(host_filter("subpath", kDeveloperDir));
        exec_checked_.push_back(kDeveloperDir);
    }

    // Parent directories must be stat-able for getcwd(), realpath() and path lookups that
    // check each component; only their metadata, never their listing or content.
    void visible(const std::string& path) {
        std::string p = macos_real_path(path);
        while (p.size() > 1) {
            auto slash = p.rfind('/');
            p = slash == 0 ? std::string("/") : p.substr(0, slash);
            ancestors_.insert(p);
        }
    }

    // A grant of a directory of the session: written after the host's denials (session()).
    void session_grant(const std::string& why_text, std::string rule, const std::string& target,
                       std::string filter) {
        session_ << comment(why_text) << rule << "\n";
        session_exec_.emplace_back(target, std::move(filter));
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
                if (macos_real_path(m.source) != macos_real_path(m.target)) {
                    // On macOS the source differs only where the target is a symlink to it:
                    // the link itself must be readable to be followed.
                    o_ << "(allow file-read* " << link_filter(m.target) << ")\n";
                    visible(m.target);
                }
                return;
            }
            case MountKind::overlay:
                o_ << "\n" << comment("project " + m.target + " <- " + why(m))
                   << comment("the command works in a copy (" + std::string(kParamCopy) +
                              "); the project itself stays read-only until commit");
                o_ << "(allow file-read* " << host_filter("subpath", m.target) << ")\n";
                visible(m.target);
                exec_paths_.push_back(host_filter("subpath", m.target));
                exec_checked_.push_back(m.target);
                session_grant("the copy of project " + m.target + " <- " + why(m),
                              "(allow file-read* file-write* " +
                                  param_filter("subpath", kParamCopy, "") + ")",
                              m.target, param_filter("subpath", kParamCopy, ""));
                return;
            // Agent state files are copied and saved back by the Linux run only: here the home
            // is a private scratch directory, as without them.
            case MountKind::state_home:
            case MountKind::tmpfs: {
                const std::string rel = m.target == "/" ? std::string() : m.target;
                session_grant("tmpfs " + m.target + " <- " + why(m) + ": a private directory "
                                  "under " + kParamScratch,
                              "(allow file-read* file-write* " +
                                  param_filter("subpath", kParamScratch, rel) + ")",
                              m.target, param_filter("subpath", kParamScratch, rel));
                return;
            }
            case MountKind::dev:
                o_ << "\n" << comment("dev " + m.target + " <- " + why(m));
                o_ << "(allow file-read* file-write*";
                for (const char* d : kDevNodes) o_ << "\n  " << host_filter("literal", d);
                o_ << "\n  " << host_filter("subpath", "/dev/fd") << ")\n"
                   << "(allow file-ioctl " << host_filter("literal", "/dev/tty") << ")\n"
                   << comment("terminals the command opens itself (script, expect, node-pty): "
                              "new ptys only, never another terminal of the user")
                   << "(allow pseudo-tty)\n"
                   << "(allow file-read* file-write* file-ioctl "
                   << host_filter("literal", "/dev/ptmx") << ")\n"
                   << "(allow file-read* file-write* file-ioctl\n"
                   << "  (require-all (regex #\"^/dev/ttys[0-9]+$\") "
                      "(extension \"com.apple.sandbox.pty\")))\n";
                visible("/dev/null");
                return;
            case MountKind::symlink:
                o_ << "\n" << comment("symlink " + m.target + " -> " + m.source + " <- " + why(m));
                o_ << "(allow file-read* " << link_filter(m.target) << ")\n";
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
        for (const auto& e : plan_.exec_allow) o_ << "\n  " << host_filter("subpath", e);
        o_ << ")\n";
    }

    void network() {
        o_ << "\n";
        switch (plan_.net.mode) {
            case profile::NetMode::none:
                o_ << comment("network none: no sockets beyond the process itself");
                return;
            case profile::NetMode::proxy:
                o_ << comment("network proxy: only agentbox's proxy, on the loopback port it "
                              "listens on, added at launch (the last rules); no other "
                              "address, port or socket");
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

    std::string deny(const std::string& filter) const {
        return "(deny file-read* file-write* process-exec " + filter + end_deny_;
    }
    static const char* kind_of(const Mount& m) {
        return m.kind == MountKind::mask_dir ? "subpath" : "literal";
    }

    // The host's denied paths: after every grant on the host, which they must win over.
    void denials() {
        if (masks_.empty()) return;
        o_ << "\n" << comment("denied paths (the last matching rule wins)");
        for (const Mount* m : masks_)
            o_ << comment(m->target + " <- " + why(*m))
               << deny(host_filter(kind_of(*m), m->target));
    }

    // The session's own copy and scratch directories, after the host's denials: they are
    // under agentbox's state directory, which a grant of a parent (`--ro ~`) has denied.
    void session() {
        const std::string text = session_.str();
        if (text.empty()) return;
        o_ << "\n" << comment("the session's own directories (after the denials above, which "
                              "cover agentbox's state directory they are in)")
           << text;
        std::set<std::string> seen;
        o_ << "(allow process-exec file-map-executable";
        for (const auto& [target, filter] : session_exec_)
            if (exec_allowed(plan_, target) && seen.insert(filter).second) o_ << "\n  " << filter;
        if (staged(plan_))
            for (const auto& e : plan_.exec_allow)
                if (util::path_within(e, plan_.project))
                    o_ << "\n  " << param_filter("subpath", kParamCopy,
                                                 e.substr(plan_.project.size()));
        o_ << ")\n";
    }

    // Denied paths inside the session's directories: a file masked under the project is
    // denied in the copy too, one under a tmpfs in its scratch directory. Last of all.
    void relocated_denials() {
        bool any = false;
        for (const Mount* m : masks_) {
            const Place p = place_of(plan_, m->target);
            if (p.param == nullptr || (p.param == kParamCopy && p.rel.empty())) continue;
            if (!any) o_ << "\n" << comment("denied paths in the session's directories");
            any = true;
            o_ << comment(m->target + " <- " + why(*m))
               << deny(param_filter(kind_of(*m), p.param, p.rel));
        }
    }

    const Plan& plan_;
    const std::string end_deny_;
    std::ostringstream o_;
    std::ostringstream session_;
    std::vector<std::string> exec_paths_;    // filters where execution may be granted
    std::vector<std::string> exec_checked_;  // the sandbox path each filter stands for
    std::vector<std::pair<std::string, std::string>> session_exec_;  // {sandbox path, filter}
    std::set<std::string> ancestors_;
    std::vector<const Mount*> masks_;
};

}  // namespace

namespace {

// The Plan with every host path as macOS will look it up: a Plan computed on a Mac is
// unchanged (compile() resolved its paths already), one computed elsewhere for
// `--dry-run --target macos` gets /private/etc for /etc. The symlinks /etc, /tmp and /var
// themselves stay: they are the links to follow.
Plan for_macos(const Plan& in) {
    Plan plan = in;
    plan.project = macos_real_path(plan.project);
    plan.cwd = macos_real_path(plan.cwd);
    std::set<std::string> links;
    for (const auto& m : in.mounts)
        if (m.kind == MountKind::symlink) links.insert(m.target);
    plan.mounts.clear();
    for (Mount m : in.mounts) {
        const bool top_link = m.kind == MountKind::symlink &&
                              (m.target == "/etc" || m.target == "/tmp" || m.target == "/var");
        const std::string link = m.target.substr(0, m.target.find('/', 1));
        if (!top_link) m.target = macos_real_path(m.target);
        if (m.kind != MountKind::symlink && !m.source.empty() && m.source.front() == '/')
            m.source = macos_real_path(m.source);
        plan.mounts.push_back(m);
        // Paths through /etc, /tmp or /var: the link is part of the way, as compile() on a Mac
        // would have recreated it.
        if (!top_link && macos_real_path(link) != link && links.insert(link).second &&
            m.kind != MountKind::mask_dir && m.kind != MountKind::mask_file)
            plan.mounts.push_back(Mount{MountKind::symlink, "private" + link, link, m.rule, m.src});
    }
    for (auto& e : plan.exec_allow) e = macos_real_path(e);
    for (auto& e : plan.env) e.value = map_path_value(e.value, macos_real_path);
    return plan;
}

}  // namespace

std::string seatbelt_profile(const Plan& plan, const std::string& tag) {
    return Writer(for_macos(plan), tag).run();
}

std::vector<policy::Weakening> seatbelt_weakenings(const Plan& plan) {
    std::vector<policy::Weakening> out;
    const profile::Source backend{"<macos>", 0, 0};
    for (const auto& l : plan.limits) {
        if (l.value == 0) continue;
        // The supervisor keeps the clock and setrlimit() means the same on macOS; anything
        // else is named, and a limit this list does not know is refused rather than ignored.
        if (l.name == "timeout" || l.name == "file_size" || l.name == "open_files") continue;
        if (l.name == "memory")
            out.push_back({"limits.memory", l.src,
                           "a memory limit: macOS does not enforce RLIMIT_AS/RLIMIT_DATA and has "
                           "no cgroups"});
        else if (l.name == "pids")
            out.push_back({"limits.pids", l.src,
                           "a process limit: RLIMIT_NPROC counts every process of the user on "
                           "macOS"});
        else if (l.name == "stage_size")
            out.push_back({"limits.stage_size", l.src,
                           "a limit on what the command writes to the project: nothing watches "
                           "the copy on macOS yet"});
        else
            out.push_back({"limits." + l.name, l.src,
                           "the limit itself: the macOS backend does not know it"});
    }
    if (plan.seccomp.mode == profile::SeccompMode::strict)
        out.push_back({"process.seccomp \"strict\"", backend,
                       "a system call allowlist: Seatbelt filters operations, not system calls"});
    for (const auto& d : plan.seccomp.deny)
        out.push_back({"process.seccomp.deny " + util::quote(d.name), d.src,
                       "system call filters: Seatbelt filters operations, not system calls"});
    // network.mode "proxy" is enforced: the launcher runs the proxy on a loopback port of the
    // host and the profile lets the command connect to that port only (seatbelt_launch).
    // Capture is not: Seatbelt can refuse a tool's own connections but not redirect them into
    // the proxy, so a tool that ignores the proxy variables fails (closed) instead of
    // working. A profile that requires it is told so.
    if (plan.net.mode == profile::NetMode::proxy && plan.net.capture_required)
        out.push_back({"network.capture true", plan.net.capture_src,
                       "capturing connections of tools that ignore the proxy variables: Seatbelt "
                       "can refuse them but not redirect them into the proxy"});
    return out;
}

namespace {

std::string parent_of(const std::string& p) {
    const auto slash = p.rfind('/');
    return slash == 0 || slash == std::string::npos ? std::string("/") : p.substr(0, slash);
}

}  // namespace

Launch seatbelt_launch(const Plan& in, const std::string& copy, const std::string& scratch,
                       const LaunchFacts& facts) {
    Plan plan = for_macos(in);
    if (plan.net.mode == profile::NetMode::proxy) {
        if (facts.proxy_port == 0)
            throw std::invalid_argument("network proxy: no port for the proxy on this host");
        // Fail closed: without it any local process could use the run's proxy.
        if (facts.proxy_token.empty())
            throw std::invalid_argument("network proxy: no credential for the proxy on this host");
        // The proxy's variables name the Plan's in-sandbox port; the command must reach the
        // one the proxy listens on here, with the run's credential.
        const std::string from = "http://127.0.0.1:" + std::to_string(plan.net.proxy_port);
        // The token is hex (net::new_proxy_token): userinfo with nothing to percent-encode.
        const std::string to = "http://" + std::string(net::kProxyUser) + ":" +
                               facts.proxy_token + "@127.0.0.1:" +
                               std::to_string(facts.proxy_port);
        for (auto& e : plan.env)
            if (e.rule == "network.mode \"proxy\"")
                if (auto at = e.value.find(from); at != std::string::npos)
                    e.value.replace(at, from.size(), to);
        plan.net.proxy_port = facts.proxy_port;
    }
    const Relocation where(plan, copy, scratch);
    std::string profile = seatbelt_profile(plan, facts.log_tag);
    // What only the launch knows comes last: it grants the session's own things, and none of
    // the denials above is about them.
    if (plan.net.mode == profile::NetMode::proxy)
        profile += "\n" + comment("agentbox's proxy for this session") +
                   "(allow network-outbound (remote tcp " +
                   sbpl_string("localhost:" + std::to_string(facts.proxy_port)) + "))\n";
    if (!facts.tty.empty())
        profile += "\n" + comment("the session's terminal") +
                   "(allow file-read* file-write* file-ioctl " + host_filter("literal", facts.tty) +
                   ")\n";
    if (!facts.developer_dir.empty()) {
        const bool exec = exec_allowed(plan, facts.developer_dir);
        profile += "\n" + comment("the developer tools xcode-select chose") +
                   "(allow file-read*" + (exec ? " process-exec file-map-executable" : "") + " " +
                   host_filter("subpath", facts.developer_dir) + ")\n";
        // after the denials, so the ones inside it are said again
        for (const auto& m : plan.mounts)
            if ((m.kind == MountKind::mask_dir || m.kind == MountKind::mask_file) &&
                util::path_within(macos_real_path(m.target), macos_real_path(facts.developer_dir)))
                profile += "(deny file-read* file-write* process-exec " +
                           host_filter(m.kind == MountKind::mask_dir ? "subpath" : "literal",
                                       m.target) + deny_end(facts.log_tag);
    }
    // The session's directories' parents need metadata for realpath() and friends from inside
    // the copy: only the stat of those directories, never their listing or content.
    std::set<std::string> parents;
    for (const std::string* dir : {&copy, &scratch})
        for (std::string p = *dir; p.size() > 1;) {
            p = parent_of(p);
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
    // The private /tmp is at /private/tmp in a Plan computed on a Mac.
    const bool has_tmpdir = std::any_of(l.env.begin(), l.env.end(), [](const std::string& e) {
        return e.starts_with("TMPDIR=");
    });
    for (const auto& m : plan.mounts)
        if (!has_tmpdir && m.kind == MountKind::tmpfs && m.target == "/private/tmp")
            l.env.push_back("TMPDIR=" + where.scratch_dir(m.target));
    l.cwd = where.path(plan.cwd);
    l.copy_excludes = where.copy_excludes();
    for (const auto& m : plan.mounts)
        if (m.kind == MountKind::tmpfs || m.kind == MountKind::state_home)
            l.scratch_dirs.push_back(where.scratch_dir(m.target));
    // A grant whose parent is in a scratch directory: a link there to the host's path.
    // A recreated symlink there is a link to the host's own, which the profile lets be read.
    for (const auto& m : plan.mounts) {
        if (m.kind != MountKind::bind_ro && m.kind != MountKind::bind_rw &&
            m.kind != MountKind::symlink)
            continue;
        const std::string parent = parent_of(m.target);
        const std::string at = where.path(parent);
        if (at == parent || !util::path_within(at, scratch)) continue;
        l.links.emplace_back(at + m.target.substr(parent == "/" ? 0 : parent.size()),
                             m.kind == MountKind::symlink ? m.target : m.source);
    }
    return l;
}

}  // namespace agentbox::sandbox::macos
