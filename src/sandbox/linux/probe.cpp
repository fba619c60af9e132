// probe_host(): what this kernel and system can enforce, for policy::compile and `doctor`.
// Runs in the launcher before anything else, so it is kept cheap: one short-lived child for
// the namespace and overlay probe, a few syscalls and two small /proc files for the rest.
// It never asks bubblewrap (that is doctor's business) and never creates a cgroup.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sandbox/fs_posix.hpp"
#include "sandbox/linux/glob_walk.hpp"
#include "sandbox/linux/hardening.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// ---- namespaces and overlayfs ----------------------------------------------------------

// Exit codes of the probe child: how far it got.
enum : int {
    kAllWorked = 0,
    kNoUserns = 10,
    kNoMountns = 11,
    kNoIdMaps = 12,
    kNoTmpfs = 13,
    kNoOverlay = 14,
};

bool write_file(const char* path, const char* data, std::size_t len) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, data, len) == static_cast<ssize_t>(len);
    return ::close(fd) == 0 && ok;
}

// In the child: only async-signal-safe calls (the launcher may have threads), all strings
// prepared by the parent.
[[noreturn]] void namespace_child(const std::string& uid_map, const std::string& gid_map) {
    if (::unshare(CLONE_NEWUSER) < 0) ::_exit(kNoUserns);
    if (::unshare(CLONE_NEWNS) < 0) ::_exit(kNoMountns);
    if (!write_file("/proc/self/setgroups", "deny", 4) ||
        !write_file("/proc/self/uid_map", uid_map.data(), uid_map.size()) ||
        !write_file("/proc/self/gid_map", gid_map.data(), gid_map.size()))
        ::_exit(kNoIdMaps);
    // Private first, so nothing below can propagate to the host (it would not anyway: mounts
    // from a less privileged namespace are slaves).
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
        ::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") < 0)
        ::_exit(kNoTmpfs);
    for (const char* d : {"/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m"})
        if (::mkdir(d, 0700) < 0) ::_exit(kNoTmpfs);
    if (::mount("overlay", "/tmp/m", "overlay", 0,
                "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w,userxattr") < 0)
        ::_exit(kNoOverlay);
    ::_exit(kAllWorked);
}

void probe_namespaces(policy::HostFacts& f) {
    const std::string uid_map = "0 " + std::to_string(f.uid) + " 1\n";
    const std::string gid_map = "0 " + std::to_string(f.gid) + " 1\n";
    f.userns = false;
    f.overlay_userxattr = false;
    const pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) namespace_child(uid_map, gid_map);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status)) return;
    const int got = WEXITSTATUS(status);
    // The native backend writes the maps from outside; a child that could not write its own
    // still shows that user namespaces exist.
    f.userns = got == kAllWorked || got >= kNoMountns;
    f.overlay_userxattr = got == kAllWorked;
}

// ---- seccomp and Landlock --------------------------------------------------------------

bool seccomp_action_available(std::uint32_t action) {
    return ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

int landlock_abi() {
    const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u /* VERSION */);
    return abi > 0 ? static_cast<int>(abi) : 0;
}

// ---- cgroups ---------------------------------------------------------------------------

struct MountEntry {
    std::string root;  // the mounted subtree of the filesystem
    std::string point;
    std::string fstype;
    std::string super_opts;
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const std::string oct = s.substr(i + 1, 3);
            if (oct.find_first_not_of("01234567") == std::string::npos) {
                out += static_cast<char>(std::stoi(oct, nullptr, 8));
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

// Takes the text up to the next `sep` (a line, a field) off the front of `rest`.
std::string_view take(std::string_view& rest, char sep) {
    const auto end = rest.find(sep);
    const std::string_view f = rest.substr(0, end);
    rest.remove_prefix(end == rest.npos ? rest.size() : end + 1);
    return f;
}

std::vector<MountEntry> cgroup_mounts() {
    std::vector<MountEntry> out;
    std::string text;
    if (sys::read_file("/proc/self/mountinfo", text) != 0) return out;
    for (std::string_view rest = text; !rest.empty();) {
        const std::string_view line = take(rest, '\n');
        // "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTS"
        const auto dash = line.find(" - ");
        if (dash == line.npos) continue;
        std::string_view pre = line.substr(0, dash), post = line.substr(dash + 3);
        for (int i = 0; i < 3; ++i) take(pre, ' ');  // id, parent, devno
        const std::string_view root = take(pre, ' '), point = take(pre, ' ');
        const std::string_view fstype = take(post, ' ');
        take(post, ' ');  // source
        const std::string_view super_opts = take(post, ' ');
        if (fstype == "cgroup" || fstype == "cgroup2")
            out.push_back({unescape(std::string(root)), unescape(std::string(point)),
                           std::string(fstype), std::string(super_opts)});
    }
    return out;
}

bool has_option(const std::string& opts, const std::string& want) {
    for (const auto& o : util::split(opts, ','))
        if (o == want) return true;
    return false;
}

// Our cgroup v2 path, from the "0::/path" line.
std::string own_cgroup2_path() {
    std::string text;
    if (sys::read_file("/proc/self/cgroup", text) != 0) return {};
    for (std::string_view rest = text; !rest.empty();)
        if (const auto line = take(rest, '\n'); util::starts_with(line, "0::"))
            return std::string(line.substr(3));
    return {};
}

bool writable(const std::string& path) {
    return ::access(path.c_str(), W_OK) == 0;
}

void probe_cgroups(policy::HostFacts& f) {
    const auto mounts = cgroup_mounts();
    const std::string own = own_cgroup2_path();
    for (const auto& m : mounts) {
        if (m.fstype != "cgroup2" || own.empty() || !util::path_within(own, m.root)) continue;
        const std::string rel = util::relative_to(own, m.root);
        const std::string dir = rel.empty() || rel == "." ? m.point : m.point + "/" + rel;
        // Usable for limits only with the controllers they need, and only if we may enable
        // them for children, create children, and move processes into them (which needs
        // write access to cgroup.procs of the common ancestor: this directory). Checked with
        // access(): probing must not leave cgroups behind.
        std::string controllers;
        (void)sys::read_file(dir + "/cgroup.controllers", controllers);
        const auto names = util::split(std::string_view(controllers).substr(
                                           0, controllers.find('\n')), ' ');
        const bool has = std::find(names.begin(), names.end(), "memory") != names.end() &&
                         std::find(names.begin(), names.end(), "pids") != names.end();
        if (has && writable(dir) && writable(dir + "/cgroup.subtree_control") &&
            writable(dir + "/cgroup.procs")) {
            f.cgroup2_delegated = dir;
            break;
        }
    }
    for (const auto& m : mounts) {
        if (m.fstype != "cgroup" || m.root != "/") continue;
        const bool memory = has_option(m.super_opts, "memory");
        const bool pids = has_option(m.super_opts, "pids");
        if (!memory && !pids) continue;
        if (!writable(m.point)) continue;
        if (memory) f.cgroup1_memory = true;
        if (pids) f.cgroup1_pids = true;
        // The supervisor finds each controller as <cgroup1_root>/<name>.
        const auto slash = m.point.rfind('/');
        if (slash != std::string::npos && slash > 0) f.cgroup1_root = m.point.substr(0, slash);
    }
}

// ---- the namespace probe's cache -------------------------------------------------------

// The first line of a small /proc file; "" when it cannot be read.
std::string read_small(const char* path) {
    std::string s;
    if (sys::read_file(path, s, 4096) != 0) return {};
    return s.substr(0, s.find('\n'));
}

// Everything that can change the probe's answer without a reboot, plus the boot itself.
std::string namespace_probe_key(const policy::HostFacts& f) {
    std::string key = read_small("/proc/sys/kernel/random/boot_id");
    if (key.empty()) return {};  // no boot id: never trust a cached answer
    key += "|" + f.kernel + "|" + std::to_string(f.uid) + ":" + std::to_string(f.gid);
    for (const char* knob : {"/proc/sys/kernel/unprivileged_userns_clone",
                             "/proc/sys/user/max_user_namespaces",
                             "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"})
        key += "|" + read_small(knob);
    return key;
}

bool read_cached_probe(const std::string& file, const std::string& key, policy::HostFacts& f) {
    std::string text;
    if (!sys::read_own_file(file, text, 4096)) return false;
    const auto tab = text.rfind('\t');
    if (tab == std::string::npos || text.substr(0, tab) != key) return false;
    const std::string v = text.substr(tab + 1);
    if (v != "11\n" && v != "10\n" && v != "00\n") return false;
    f.userns = v[0] == '1';
    f.overlay_userxattr = v[1] == '1';
    return true;
}

void write_cached_probe(const std::string& dir, const std::string& file, const std::string& key,
                        const policy::HostFacts& f) {
    ::mkdir(dir.c_str(), 0700);
    // A cache that cannot be written is only slower.
    sys::replace_own_file(file, key + "\t" + (f.userns ? "1" : "0") +
                                    (f.overlay_userxattr ? "1" : "0") + "\n");
}

policy::HostFacts probe_host_impl(const std::string& cache_dir) {
    policy::HostFacts f = fs_facts();
    struct utsname u {};
    if (::uname(&u) == 0) f.kernel = u.release;

    const std::string key = cache_dir.empty() ? std::string() : namespace_probe_key(f);
    const std::string file = cache_dir + "/host-probe";
    if (key.empty() || !read_cached_probe(file, key, f)) {
        probe_namespaces(f);
        if (!key.empty()) write_cached_probe(cache_dir, file, key, f);
    }
    // PR_GET_SECCOMP fails only when the kernel has no seccomp at all; the filter mode is
    // present when the kernel can tell which filter actions it supports.
    f.seccomp = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 &&
                seccomp_action_available(SECCOMP_RET_ERRNO) &&
                seccomp_action_available(SECCOMP_RET_KILL_PROCESS);
    f.seccomp_user_notif = f.seccomp && seccomp_action_available(SECCOMP_RET_USER_NOTIF);
#ifdef AGENTBOX_TEST_RESOLVER
    // Tests of what a host without it refuses (network.capture = true): it only takes away,
    // and what it takes away shows in the plan's weakenings and notes.
    if (const char* v = std::getenv("AGENTBOX_TEST_NO_USER_NOTIF"); v && *v)
        f.seccomp_user_notif = false;
#endif
    f.landlock_abi = landlock_abi();
    probe_cgroups(f);

    f.glob_all = [dir = cache_dir.empty() ? std::string() : cache_dir + "/walk"](
                     const std::vector<std::string>& p) { return expand_globs(p, WalkCache{dir}); };
    return f;
}

// realpath(3) with three system calls whatever the path's depth: glibc's readlink()s every
// component of every path it resolves (a project under /home/u/src costs five), and the compile
// resolves ~20 paths (pass 6-q2: 72 of the launcher's 297 system calls before the clone).
// The kernel resolves the path once in the open and names what it reached in
// /proc/self/fd: the same canonical path, the same failures (a missing component, a
// non-directory). Where /proc cannot answer, or the name it gives is not a plain path (an
// object unlinked meanwhile is named "... (deleted)", one outside our root "(unreachable)"),
// realpath(3) decides. It also takes the paths of one or two components (/usr, /etc/ssh): one
// readlink() each is fewer than the open's three.
std::string real_path(const std::string& path) {
    if (std::count(path.begin(), path.end(), '/') <= 2) return posix::real_path(path);
    const sys::unique_fd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) return {};
    char link[32];
    char buf[PATH_MAX];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd.get());
    const ssize_t n = ::readlink(link, buf, sizeof buf);
    if (n > 0 && n < static_cast<ssize_t>(sizeof buf) && buf[0] == '/') {
        const std::string_view got(buf, static_cast<std::size_t>(n));
        if (!got.ends_with(" (deleted)")) return std::string(got);
    }
    return posix::real_path(path);
}

}  // namespace

policy::HostFacts probe_host() { return probe_host_impl({}); }

policy::HostFacts fs_facts() {
    policy::HostFacts f = posix::fs_facts();
    f.glob = expand_glob;  // Linux's glob walk (glob_walk.hpp); fs_posix's is macOS's
    f.realpath = real_path;
    return f;
}
policy::HostFacts probe_host(const std::string& cache_dir) { return probe_host_impl(cache_dir); }

}  // namespace agentbox::sandbox::lnx
