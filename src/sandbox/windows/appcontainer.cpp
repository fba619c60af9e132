// Plan -> AppContainer plan. Pure: no windows.h, so it is built and tested on Linux and
// cross-compiled for Windows alike.
#include "sandbox/windows/appcontainer.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "sandbox/relocate.hpp"
#include "util/strings.hpp"
#include "util/units.hpp"

namespace agentbox::sandbox::windows {

using policy::Mount;
using policy::MountKind;
using policy::Plan;

std::string container_name(const std::string& project) {
    // FNV-1a 64: stable across builds and platforms, which std::hash is not.
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : project) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return std::string("agentbox.") + hex;
}

std::string command_line(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        if (!a.empty() && a.find_first_of(" \t\n\v\"") == std::string::npos) {
            out += a;
            continue;
        }
        out += '"';
        std::size_t backslashes = 0;
        for (char c : a) {
            if (c == '\\') {
                ++backslashes;
                continue;
            }
            // Backslashes are literal unless they precede a quote: then each one is doubled
            // and the quote escaped.
            if (c == '"') out.append(backslashes * 2 + 1, '\\');
            else out.append(backslashes, '\\');
            backslashes = 0;
            out += c;
        }
        out.append(backslashes * 2, '\\');  // before the closing quote
        out += '"';
    }
    return out;
}

std::string access_names(std::uint32_t mask) {
    if ((mask & kFileAllAccess) == kFileAllAccess) return "all";
    std::vector<std::string> n;
    if ((mask & kFileGenericRead) == kFileGenericRead) n.push_back("read");
    if ((mask & kFileGenericWrite) == kFileGenericWrite) n.push_back("write");
    if (mask & kDelete) n.push_back("delete");
    if ((mask & kFileGenericExecute) == kFileGenericExecute) n.push_back("execute");
    return util::join(n, ",");
}

namespace {

std::string why(const std::string& rule, const profile::Source& src) {
    return src.file.empty() ? rule : rule + " (" + src.str() + ")";
}

class Planner {
public:
    explicit Planner(const Plan& plan) : plan_(plan) {}

    AppContainerPlan run() {
        p_.container = container_name(plan_.project);
        p_.display = "agentbox " + plan_.project;
        p_.command_line = command_line(plan_.argv);
        const Relocation where(plan_, "\x01", "\x02");
        p_.cwd = ref(where.path(plan_.cwd));
        p_.copy_excludes = where.copy_excludes();
        for (const auto& e : plan_.env) p_.env_names.push_back(e.name);
        for (const auto& m : plan_.mounts) grant(m, where);
        for (const auto& m : plan_.mounts)
            if (m.kind == MountKind::mask_dir || m.kind == MountKind::mask_file) deny(m);
        network();
        limits();
        others();
        return std::move(p_);
    }

private:
    // Relocation marks the copy with \x01 and the scratch directory with \x02.
    static PathRef ref(const std::string& relocated) {
        if (!relocated.empty() && relocated.front() == '\x01') return {Base::copy, relocated.substr(1)};
        if (!relocated.empty() && relocated.front() == '\x02')
            return {Base::scratch, relocated.substr(1)};
        return {Base::host, relocated};
    }

    std::uint32_t exec_bit(const std::string& sandbox_path) const {
        if (plan_.exec_allow.empty()) return kFileGenericExecute;
        for (const auto& e : plan_.exec_allow)
            if (util::path_within(sandbox_path, e)) return kFileGenericExecute;
        return 0;
    }

    void add(PathRef path, std::uint32_t mask, bool deny_entry, bool inherit, std::string rule) {
        p_.acl.push_back(AclEntry{std::move(path), mask, deny_entry, inherit, std::move(rule)});
    }

    void grant(const Mount& m, const Relocation& where) {
        constexpr std::uint32_t rw = kFileGenericRead | kFileGenericWrite | kDelete |
                                     kFileDeleteChild;
        const std::string w = why(m.rule, m.src);
        switch (m.kind) {
            case MountKind::bind_ro:
                add({Base::host, m.source}, kFileGenericRead | exec_bit(m.target), false, true, w);
                return;
            case MountKind::bind_rw:
                add({Base::host, m.source}, rw | exec_bit(m.target), false, true, w);
                return;
            case MountKind::overlay:
                // The project itself stays readable, unchanged until commit; writes go to the
                // copy the command works in.
                add({Base::host, m.target}, kFileGenericRead | exec_bit(m.target), false, true, w);
                add({Base::copy, ""}, rw | exec_bit(m.target), false, true, w);
                return;
            case MountKind::tmpfs:
            // Agent state files are copied and saved back by the Linux run only: here the
            // home is a private scratch directory, as without them.
            case MountKind::state_home:
                add(ref(where.scratch_dir(m.target)), rw | exec_bit(m.target), false, true, w);
                return;
            case MountKind::symlink:
                p_.notes.push_back("symlink " + m.target + " -> " + m.source + " (" + w +
                                   "): Windows follows the host's own link; its target needs a "
                                   "rule of its own");
                return;
            case MountKind::proc:
                p_.notes.push_back("proc " + m.target + ": Windows has no procfs; nothing granted");
                return;
            case MountKind::dev:
                p_.notes.push_back("dev " + m.target +
                                   ": NUL and the console are open to every AppContainer");
                return;
            case MountKind::mask_dir:
            case MountKind::mask_file:
            case MountKind::dir: return;
        }
    }

    // Deny entries are written after every grant; Windows puts explicit deny entries first in
    // the DACL, so they win over the grants above them, inherited or not.
    void deny(const Mount& m) {
        add({Base::host, m.target}, kFileAllAccess, true, m.kind == MountKind::mask_dir,
            why(m.rule, m.src));
    }

    void network() {
        switch (plan_.net.mode) {
            case profile::NetMode::none: return;  // no capability: no network at all
            case profile::NetMode::host: {
                const std::string w = why("network.mode \"host\"", plan_.net.mode_src);
                p_.capabilities = {{"internetClient", "S-1-15-3-1", w},
                                   {"internetClientServer", "S-1-15-3-2", w},
                                   {"privateNetworkClientServer", "S-1-15-3-3", w}};
                return;
            }
            case profile::NetMode::proxy:
                // An AppContainer cannot reach the host's loopback without an exemption, and
                // that exemption opens every loopback port, not just the proxy's.
                p_.weakenings.push_back(
                    {"network.mode \"proxy\"", plan_.net.mode_src,
                     "a loopback path from the AppContainer to the proxy alone (Windows only "
                     "exempts a container from loopback isolation as a whole); the command "
                     "would have no network"});
                return;
        }
    }

    void limits() {
        for (const auto& l : plan_.limits) {
            if (l.value == 0) continue;
            if (l.name == "memory") {
                p_.job.flags |= kJobLimitJobMemory;
                p_.job.job_memory = l.value;
            } else if (l.name == "pids") {
                p_.job.flags |= kJobLimitActiveProcess;
                p_.job.active_processes = static_cast<std::uint32_t>(l.value);
            } else if (l.name == "timeout") {
                p_.job.timeout_ms = l.value;
            } else if (l.name == "file_size" || l.name == "open_files") {
                p_.weakenings.push_back({"limits." + l.name, l.src,
                                         "a " + l.name +
                                             " limit: Windows job objects have no equivalent"});
            }
        }
    }

    void others() {
        const profile::Source backend{"<windows>", 0, 0};
        if (!plan_.exec_allow.empty())
            p_.weakenings.push_back(
                {"filesystem.exec", backend,
                 "execution limited to filesystem.exec: the Windows system directories stay "
                 "executable for every AppContainer"});
        if (plan_.seccomp.mode == profile::SeccompMode::strict)
            p_.weakenings.push_back({"process.seccomp \"strict\"", backend,
                                     "a system call allowlist (Windows has no system call "
                                     "filter for AppContainers)"});
        for (const auto& d : plan_.seccomp.deny)
            p_.weakenings.push_back({"process.seccomp.deny " + util::quote(d.name), d.src,
                                     "system call filters (Windows has none for AppContainers)"});
        p_.notes.push_back("C:\\Windows and C:\\Program Files stay readable: every AppContainer "
                           "may read them");
    }

    const Plan& plan_;
    AppContainerPlan p_;
};

std::string shown(const PathRef& r) {
    switch (r.base) {
        case Base::host: return r.path;
        case Base::copy: return "<copy>" + r.path;
        case Base::scratch: return "<scratch>" + r.path;
    }
    return r.path;
}

}  // namespace

AppContainerPlan appcontainer_plan(const Plan& plan) { return Planner(plan).run(); }

std::string render_text(const AppContainerPlan& p) {
    std::ostringstream o;
    o << "AppContainer  " << p.container << "  (" << p.display << ")\n"
      << "command line  " << p.command_line << "\n"
      << "working dir   " << shown(p.cwd) << "\n"
      << "              <copy> is the session's copy of the project, <scratch> its private "
         "directories\n\ncapabilities\n";
    if (p.capabilities.empty()) o << "  none (no network)\n";
    for (const auto& c : p.capabilities)
        o << "  " << c.name << " " << c.sid << "  <- " << c.rule << "\n";

    o << "\nACL entries for the container's SID\n";
    std::size_t width = 0;
    for (const auto& a : p.acl) width = std::max(width, shown(a.path).size());
    for (const auto& a : p.acl) {
        char mask[16];
        std::snprintf(mask, sizeof mask, "0x%08x", a.mask);
        std::string path = shown(a.path);
        path.resize(width, ' ');
        std::string access = access_names(a.mask);
        access.resize(25, ' ');
        o << "  " << (a.deny ? "deny " : "allow") << " " << mask << " " << access << " " << path
          << (a.inherit ? " (inherited)" : "            ") << "  <- " << a.rule << "\n";
    }

    o << "\njob object\n  kill on close, die on unhandled exception, UI restricted "
         "(desktop, display, clipboard, global atoms, handles, system parameters, exit "
         "windows)\n";
    if (p.job.flags & kJobLimitJobMemory) o << "  memory     " << util::format_size(p.job.job_memory, "B") << "\n";
    if (p.job.flags & kJobLimitActiveProcess)
        o << "  processes  " << p.job.active_processes << "\n";
    if (p.job.timeout_ms) o << "  timeout    " << p.job.timeout_ms << " ms (supervisor)\n";

    if (!p.copy_excludes.empty()) {
        o << "\nthe copy leaves out\n";
        for (const auto& e : p.copy_excludes) o << "  " << e << "\n";
    }
    o << "\nenvironment (names only)\n  " << util::join(p.env_names, " ") << "\n";
    if (!p.notes.empty()) {
        o << "\nnotes\n";
        for (const auto& n : p.notes) o << "  - " << n << "\n";
    }
    if (!p.weakenings.empty()) {
        o << "\nnot enforceable on Windows\n";
        for (const auto& w : p.weakenings)
            o << "  - " << why(w.rule, w.src) << ": " << w.missing << "\n";
    }
    return o.str();
}

}  // namespace agentbox::sandbox::windows
