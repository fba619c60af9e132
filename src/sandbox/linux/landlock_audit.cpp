#include "sandbox/linux/landlock_audit.hpp"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "seccomp/rules.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// Record types: Debian 12's <linux/audit.h> predates Landlock's.
constexpr int kLandlockAccess = 1423;
constexpr int kLandlockDomain = 1424;
constexpr int kSyscall = AUDIT_SYSCALL;  // 1300
constexpr int kEndOfEvent = AUDIT_EOE;   // 1320
constexpr unsigned kReadLogGroup = 1;    // AUDIT_NLGRP_READLOG
// Denials held while their domain is not yet known to be ours: a bound on what a flood of
// other processes' denials can make us keep.
constexpr std::size_t kMaxWaiting = 4096;

// The netlink messages in a datagram: (header, payload) each, without the <linux/netlink.h>
// macros (their C casts). Stops at a truncated one.
template <class F>
void each_message(const char* buf, std::size_t n, F&& f) {
    constexpr std::size_t kHdr = (sizeof(struct nlmsghdr) + 3) & ~std::size_t{3};
    std::size_t at = 0;
    while (n - at >= sizeof(struct nlmsghdr)) {
        struct nlmsghdr h {};
        std::memcpy(&h, buf + at, sizeof h);
        if (h.nlmsg_len < kHdr || h.nlmsg_len > n - at) return;
        f(h, buf + at + kHdr, h.nlmsg_len - kHdr);
        at += (h.nlmsg_len + 3) & ~std::size_t{3};
        if (at > n) return;
    }
}

// AUDIT_GET on a socket of its own: 1 or 2 (locked) when enabled. -errno when refused.
int audit_enabled() {
    sys::unique_fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
    if (!s) return -errno;
    struct nlmsghdr req {};
    req.nlmsg_len = sizeof req;
    req.nlmsg_type = AUDIT_GET;
    req.nlmsg_flags = NLM_F_REQUEST;
    req.nlmsg_seq = 1;
    struct sockaddr_nl kernel {};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(s.get(), &req, req.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return -errno;
    char buf[8192];
    for (int tries = 0; tries < 4; ++tries) {
        struct pollfd p {s.get(), POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) return -ETIMEDOUT;
        const ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
        if (n < 0) return -errno;
        int result = 1 << 30;  // nothing yet
        each_message(buf, static_cast<std::size_t>(n),
                     [&result](const struct nlmsghdr& h, const char* data, std::size_t len) {
                         if (result != (1 << 30)) return;
                         if (h.nlmsg_type == NLMSG_ERROR && len >= sizeof(int)) {
                             int error = 0;  // struct nlmsgerr starts with it; 0: an ack
                             std::memcpy(&error, data, sizeof error);
                             if (error != 0) result = error;
                         } else if (h.nlmsg_type == AUDIT_GET) {
                             struct audit_status st {};
                             std::memcpy(&st, data, std::min(sizeof st, len));
                             result = static_cast<int>(st.enabled);
                         }
                     });
        if (result != (1 << 30)) return result;
    }
    return -EPROTO;
}

sys::unique_fd subscribe(int* err) {
    sys::unique_fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT));
    if (!s) {
        *err = errno;
        return {};
    }
    struct sockaddr_nl a {};
    a.nl_family = AF_NETLINK;
    a.nl_groups = 1u << (kReadLogGroup - 1);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        *err = errno;
        return {};
    }
    // A burst of denials must not overflow the socket before the supervisor reads it.
    const int size = 1 << 20;
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return s;
}

bool is_hex(const std::string& v) {
    if (v.empty() || v.size() % 2 != 0) return false;
    for (char c : v)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
    return true;
}

std::string unhex(const std::string& v) {
    std::string out;
    for (std::size_t i = 0; i + 1 < v.size(); i += 2)
        out += static_cast<char>(std::stoi(v.substr(i, 2), nullptr, 16));
    return out;
}

// Fields whose value the kernel writes with audit_log_untrustedstring: quoted when plain,
// upper-case hex otherwise (a space, a quote, a control byte).
bool untrusted_string(const std::string& key) {
    for (const char* k : {"path", "comm", "exe", "ocomm", "name"})
        if (key == k) return true;
    return false;
}

}  // namespace

LandlockAuditStatus landlock_audit_status() {
    LandlockAuditStatus st;
    int err = 0;
    sys::unique_fd s = subscribe(&err);
    if (!s) {
        st.detail = err == EPERM
                        ? "not logged: reading the kernel's audit records needs CAP_AUDIT_READ "
                          "(agentbox as root)"
                        : std::string("not logged: audit socket: ") + std::strerror(err);
        st.fix = err == EPERM ? "run agentbox as root to log them; denied accesses fail with "
                                "EACCES either way"
                              : "a kernel with CONFIG_AUDIT=y";
        return st;
    }
    const int enabled = audit_enabled();
    if (enabled < 0) {
        st.detail = std::string("not logged: audit status: ") + std::strerror(-enabled);
        st.fix = "a kernel with CONFIG_AUDIT=y";
    } else if (enabled == 0) {
        st.detail = "not logged: kernel audit is disabled, so Landlock reports nothing";
        st.fix = "auditctl -e 1 (or run auditd, or boot with audit=1)";
    } else {
        st.observable = true;
        st.detail = "each denial is logged (landlock.denied), from the kernel's audit records";
    }
    return st;
}

std::string AuditRecord::get(const std::string& key) const {
    for (const auto& [k, v] : fields)
        if (k == key) return v;
    return {};
}

bool parse_audit_record(int type, const std::string& text, AuditRecord& out) {
    out = AuditRecord{};
    out.type = type;
    // "audit(SECONDS.MILLIS:SERIAL): ..."
    if (text.rfind("audit(", 0) != 0) return false;
    const std::size_t close = text.find("): ");
    const std::size_t colon = text.rfind(':', close);
    if (close == std::string::npos || colon == std::string::npos || colon < 6) return false;
    const std::string serial = text.substr(colon + 1, close - colon - 1);
    if (serial.empty() || serial.size() > 19 ||
        serial.find_first_not_of("0123456789") != std::string::npos)
        return false;
    out.serial = std::stoull(serial);
    std::size_t i = close + 3;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        const std::size_t eq = text.find('=', i);
        if (eq == std::string::npos) break;
        std::string key = text.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 1;
        bool quoted = false;
        if (j < text.size() && text[j] == '"') {
            const std::size_t end = text.find('"', j + 1);
            if (end == std::string::npos) return false;
            value = text.substr(j + 1, end - j - 1);
            i = end + 1;
            quoted = true;
        } else {
            const std::size_t end = text.find(' ', j);
            value = text.substr(j, end == std::string::npos ? std::string::npos : end - j);
            i = end == std::string::npos ? text.size() : end;
        }
        if (!quoted && untrusted_string(key) && is_hex(value)) value = unhex(value);
        if (key.find(' ') != std::string::npos) return false;
        out.fields.emplace_back(std::move(key), std::move(value));
    }
    return true;
}

Event landlock_denial_event(const AuditRecord& access, const AuditRecord* syscall) {
    Event ev{"landlock.denied", {}};
    auto put = [&ev](const char* key, const std::string& value) {
        if (!value.empty()) ev.fields.emplace_back(key, value);
    };
    put("blockers", access.get("blockers"));
    put("domain", access.get("domain"));
    // What was refused: a file, a TCP port (bind: the local address; connect: the remote
    // one), or a process or socket outside the sandbox's scope.
    put("path", access.get("path"));
    const std::string saddr = access.get("saddr"), daddr = access.get("daddr");
    if (!access.get("src").empty() || !saddr.empty()) {
        put("addr", saddr);
        put("port", access.get("src"));
    } else {
        put("addr", daddr);
        put("port", access.get("dest"));
    }
    put("target_pid", access.get("opid"));
    put("target_comm", access.get("ocomm"));
    if (syscall != nullptr) {
        put("pid", syscall->get("pid"));
        put("comm", syscall->get("comm"));
        const std::string nr = syscall->get("syscall");
        if (!nr.empty() && nr.find_first_not_of("0123456789") == std::string::npos) {
            put("syscall", seccomp::syscall_name(std::stoi(nr)));
            put("nr", nr);
        }
        const std::string exit = syscall->get("exit");
        if (exit.size() > 1 && exit[0] == '-') put("errno", exit.substr(1));
    }
    return ev;
}

LandlockAudit LandlockAudit::open() {
    LandlockAudit a;
    int err = 0;
    a.sock_ = subscribe(&err);
    return a;
}

void LandlockAudit::keep_if_enabled() {
    // Disabled audit emits nothing: no socket to poll for the rest of the run.
    if (sock_ && audit_enabled() <= 0) sock_.reset();
}

pid_t pid_of_pidfd(int pidfd) {
    std::ifstream in("/proc/self/fdinfo/" + std::to_string(pidfd));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Pid:", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 4));
    return -1;
}

void LandlockAudit::set_sandbox(pid_t init_pid) {
    struct stat st {};
    if (init_pid_ > 0 || init_pid <= 0 ||
        ::stat(("/proc/" + std::to_string(init_pid) + "/ns/pid").c_str(), &st) < 0)
        return;
    init_pid_ = init_pid;
    // A sandbox always has a pid namespace of its own; were it ours, every process of the
    // host would be in it, and only init itself may be placed.
    struct stat self {};
    if (::stat("/proc/self/ns/pid", &self) == 0 && self.st_dev == st.st_dev &&
        self.st_ino == st.st_ino)
        return;
    ns_dev_ = st.st_dev;
    ns_ino_ = st.st_ino;
}

// A process of the sandbox: init itself, or one in init's pid namespace. The kernel writes
// pids as the initial namespace sees them, which is ours (agentbox runs there to read audit).
// A pid that has exited since cannot be placed: its denials wait for another of their domain.
bool LandlockAudit::ours(const std::string& pid) const {
    if (init_pid_ <= 0 || pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
        return false;
    if (pid == std::to_string(init_pid_)) return true;
    if (ns_ino_ == 0) return false;
    struct stat st {};
    if (::stat(("/proc/" + pid + "/ns/pid").c_str(), &st) < 0) return false;
    return st.st_dev == ns_dev_ && st.st_ino == ns_ino_;
}

void LandlockAudit::settle(std::uint64_t, Group& g, const EventSink& sink) {
    const AuditRecord* syscall = nullptr;
    const AuditRecord* domain = nullptr;
    for (const AuditRecord& r : g.other) {
        if (r.type == kSyscall) syscall = &r;
        else if (r.type == kLandlockDomain && r.get("status") == "allocated") domain = &r;
    }
    for (const AuditRecord& a : g.access) {
        const std::string id = a.get("domain");
        if (id.empty()) continue;
        Event ev = landlock_denial_event(a, syscall);
        if (mine_.count(id) == 0) {
            // The caller, its parent (init for the command) or the domain's creator: any one
            // in the sandbox makes the domain ours (ids are never reused until reboot).
            const bool placed = (syscall != nullptr && (ours(syscall->get("pid")) ||
                                                        ours(syscall->get("ppid")))) ||
                                (domain != nullptr && domain->get("domain") == id &&
                                 ours(domain->get("pid")));
            if (!placed) {
                if (waiting_count_ < kMaxWaiting) {
                    waiting_[id].push_back(std::move(ev));
                    ++waiting_count_;
                }
                continue;
            }
            mine_.insert(id);
            auto w = waiting_.find(id);
            if (w != waiting_.end()) {
                waiting_count_ -= w->second.size();
                if (sink)
                    for (const Event& e : w->second) sink(e);
                waiting_.erase(w);
            }
        }
        if (sink) sink(ev);
    }
}

void LandlockAudit::take(const AuditRecord& r, const EventSink& sink) {
    if (r.type == kLandlockDomain && r.get("status") == "deallocated") {
        const std::string id = r.get("domain");
        if (mine_.count(id) != 0) freed_.insert(id);
        waiting_count_ -= waiting_.count(id) != 0 ? waiting_[id].size() : 0;
        waiting_.erase(id);  // never to be placed now
        return;
    }
    // Records of one event arrive together and events in order: a newer serial completes the
    // older ones.
    for (auto it = open_.begin(); it != open_.end() && it->first < r.serial;) {
        settle(it->first, it->second, sink);
        it = open_.erase(it);
    }
    if (r.type == kEndOfEvent) {
        auto it = open_.find(r.serial);
        if (it != open_.end()) {
            settle(it->first, it->second, sink);
            open_.erase(it);
        }
        return;
    }
    if (r.type == kLandlockAccess) open_[r.serial].access.push_back(r);
    else if (r.type == kLandlockDomain || r.type == kSyscall) {
        // Context only for an event that has a Landlock record (SYSCALL records of every other
        // audited call are not kept).
        auto it = open_.find(r.serial);
        if (it != open_.end()) it->second.other.push_back(r);
        else if (r.type == kLandlockDomain) open_[r.serial].other.push_back(r);
    }
}

void LandlockAudit::handle(const EventSink& sink) {
    if (!sock_) return;
    static char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::recv(sock_.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS) {
                // Records were dropped: say so rather than count too few.
                if (sink)
                    sink(Event{"warning", {{"message", "Landlock audit records were lost (socket "
                                                       "buffer full); the count is short"}}});
                continue;
            }
            return;  // EAGAIN: all read
        }
        if (n == 0) return;
        each_message(buf, static_cast<std::size_t>(n),
                     [&](const struct nlmsghdr& h, const char* data, std::size_t len) {
                         const int type = h.nlmsg_type;
                         if (type != kLandlockAccess && type != kLandlockDomain &&
                             type != kSyscall && type != kEndOfEvent)
                             return;
                         std::string text(data, len);
                         while (!text.empty() && (text.back() == '\0' || text.back() == '\n'))
                             text.pop_back();
                         AuditRecord r;
                         if (parse_audit_record(type, text, r)) take(r, sink);
                     });
    }
}

void LandlockAudit::finish(const EventSink& sink) {
    if (sock_) drain(sink);
    for (auto& [serial, g] : open_) settle(serial, g, sink);
    open_.clear();
    sock_.reset();
}

void LandlockAudit::drain(const EventSink& sink) {
    using clock = std::chrono::steady_clock;
    const auto limit = clock::now() + std::chrono::milliseconds(500);
    for (;;) {
        handle(sink);
        bool all_freed = true;
        for (const std::string& d : mine_) all_freed = all_freed && freed_.count(d) != 0;
        // With every domain freed its count is complete; otherwise, or with none seen, wait
        // for a short quiet spell in case records are still on their way.
        const int quiet_ms = all_freed && !mine_.empty() ? 0 : 50;
        const auto now = clock::now();
        if (now >= limit) break;
        const int wait = static_cast<int>(std::min<long long>(
            quiet_ms,
            std::chrono::duration_cast<std::chrono::milliseconds>(limit - now).count()));
        if (wait <= 0) break;
        struct pollfd p {sock_.get(), POLLIN, 0};
        if (::poll(&p, 1, wait) <= 0) break;
    }
}

}  // namespace agentbox::sandbox::lnx
