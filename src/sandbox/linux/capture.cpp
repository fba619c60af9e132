#include "sandbox/linux/capture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "policy/request.hpp"
#include "sandbox/linux/mount_api.hpp"
#include "sandbox/linux/mount_paths.hpp"
#include "sandbox/linux/syscalls.hpp"
#include "sys/error.hpp"

namespace agentbox::sandbox::lnx {

namespace {

constexpr int kQueriesPerWake = 64;

std::string dotted(std::uint32_t a) {
    char b[INET_ADDRSTRLEN];
    const std::uint32_t n = htonl(a);
    ::inet_ntop(AF_INET, &n, b, sizeof b);
    return b;
}

}  // namespace

int mount_resolv_conf(int newroot, StepError& e) {
    const char* op = "mount(resolv.conf)";
    // Written in the build directory, which leave_host removes: the bind keeps the file, the
    // root keeps no name of it.
    const std::string file = std::string(kBuildDir) + "/resolv.conf";
    {
        sys::unique_fd f(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!f) return fail(e, "create", "/resolv.conf");
        const std::size_t n = std::strlen(kResolvConf);
        if (::write(f.get(), kResolvConf, n) != static_cast<ssize_t>(n))
            return fail(e, "write", "/resolv.conf");
    }
    // Where /etc/resolv.conf leads inside the new root (its symlinks resolved there, never on
    // the host): the file a resolver inside will read. None, or not a file a resolver reads:
    // 127.0.0.1 is its default anyway.
    sys::unique_fd target(sys_openat2(newroot, "etc/resolv.conf", O_PATH | O_CLOEXEC,
                                      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
    struct stat st {};
    if (!target && errno != ENOENT && errno != ENOTDIR) return fail(e, "open", "/etc/resolv.conf");
    if (target && ::fstat(target.get(), &st) < 0) return fail(e, "fstat", "/etc/resolv.conf");
    sys::unique_fd tree;
    if (target && S_ISREG(st.st_mode)) {
        tree.reset(::open_tree(AT_FDCWD, file.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        if (!tree) return fail(e, "open_tree", "/etc/resolv.conf");
    }
    if (tree) {
        struct mount_attr attr {};
        attr.attr_set =
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
            return fail(e, "mount_setattr(ro)", "/etc/resolv.conf");
        // Attached before the name goes: the kernel refuses to attach a clone of a file that
        // was unlinked meanwhile (ENOENT).
        if (attach(tree.get(), target.get(), op, "/etc/resolv.conf", e) < 0) return -1;
    }
    if (::unlink(file.c_str()) < 0) return fail(e, "unlink", "/resolv.conf");
    return 0;
}

Capture::Capture(const policy::NetPlan& net, const EventSink& sink) : net_(net), sink_(sink) {}

void Capture::take_dns(int fd) {
    dns_.reset(fd);
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(dns_.get(), reinterpret_cast<const struct sockaddr*>(&a), sizeof a) < 0)
        throw sys::SysError("bind(127.0.0.1:53) in the sandbox", errno);
    const int flags = ::fcntl(dns_.get(), F_GETFL);
    if (flags < 0 || ::fcntl(dns_.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        throw sys::SysError("fcntl(O_NONBLOCK) on the DNS socket", errno);
}

void Capture::on_dns() {
    using namespace net::dns;
    for (int i = 0; i < kQueriesPerWake; ++i) {
        std::uint8_t buf[1500];
        struct sockaddr_storage from {};
        socklen_t fl = sizeof from;
        const ssize_t n = ::recvfrom(dns_.get(), buf, sizeof buf, MSG_DONTWAIT,
                                     reinterpret_cast<struct sockaddr*>(&from), &fl);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN: nothing more; anything else: the next wake tries again
        }
        const Query q = parse_query(buf, static_cast<std::size_t>(n));
        std::vector<std::uint8_t> out;
        switch (q.status) {
            case Query::drop: continue;
            case Query::formerr: out = make_answer(buf, q, Rcode::formerr); break;
            case Query::notimp: out = make_answer(buf, q, Rcode::notimp); break;
            case Query::ok: {
                if (q.qclass != kClassIN) {
                    out = make_answer(buf, q, Rcode::refused);
                    break;
                }
                const policy::Decision d = decide_name(net_, q.name);
                std::optional<std::uint32_t> addr;
                Rcode rc = Rcode::nxdomain;
                if (d.verdict != policy::Verdict::deny) {
                    addr = names_.address_of(q.name);
                    rc = addr ? Rcode::noerror : Rcode::servfail;
                }
                // One line per name: a resolver asks for A and AAAA, and again and again.
                if (sink_ && logged_.size() < 65536 && logged_.insert(q.name).second) {
                    Event ev{"decision",
                             {{"op", "resolve"},
                              {"target", q.name},
                              {"verdict", policy::to_string(d.verdict)},
                              {"rule", d.rule},
                              {"source", d.source.str()}}};
                    if (addr) ev.fields.emplace_back("address", dotted(*addr));
                    sink_(ev);
                }
                // A for IPv4; every other type of an allowed name is answered with no record
                // (so a client asking AAAA falls back to A); a denied name does not exist.
                out = make_answer(buf, q, rc, q.qtype == kTypeA ? addr : std::nullopt);
                break;
            }
        }
        ::sendto(dns_.get(), out.data(), out.size(), MSG_DONTWAIT,
                 reinterpret_cast<const struct sockaddr*>(&from), fl);
    }
}

}  // namespace agentbox::sandbox::lnx
