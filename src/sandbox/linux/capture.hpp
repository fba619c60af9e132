// Tools that ignore the proxy variables (DESIGN.md §6, "capture"), in network mode proxy. The
// sandbox's network namespace has only lo, so nothing inside reaches out by itself; what makes
// such a tool work is:
//   - a DNS responder at 127.0.0.1:53 inside (a UDP socket init makes in the namespace and the
//     supervisor binds and serves), named by /etc/resolv.conf inside, which answers the names
//     the plan could allow with synthetic addresses (net/dns.hpp) and NXDOMAIN for the rest.
//     It never asks a real DNS server: no query leaves the sandbox.
//   - the connect() every sandboxed process makes going to the supervisor anyway (seccomp user
//     notification, unix_connect.hpp): a TCP connect to an address outside the sandbox is
//     decided as the proxy decides a CONNECT; refused at once (ECONNREFUSED) when the plan
//     denies it, else made to the in-sandbox proxy listener instead, the proxy having been
//     told which name and port that connection is for (net::Proxy::expect_capture).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "net/dns.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/linux/hardening.hpp"
#include "sys/fd.hpp"

namespace agentbox::net {
class Proxy;
}

namespace agentbox::sandbox::lnx {

// Init, native backend, while the new root is built (it is "/", the host tree in it): a file
// saying "nameserver 127.0.0.1", bound read-only over /etc/resolv.conf in `newroot` — over
// the file a symlink there leads to, inside the new root, since a mount cannot go on a
// symlink. None there (no /etc, a link into a directory not mounted inside) is left so:
// resolvers then ask 127.0.0.1 anyway. Returns 0 or -1.
int mount_resolv_conf(int newroot, StepError& e);

// The content of that file: the bwrap backend binds it with --ro-bind-data.
inline constexpr const char* kResolvConf =
    "# agentbox: the sandbox's DNS, which answers only the names its network rules allow\n"
    "nameserver 127.0.0.1\n";

class Capture {
public:
    Capture(const policy::NetPlan& net, const EventSink& sink);
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Init's UDP socket in the sandbox's namespace ('D'), bound here to 127.0.0.1:53: the
    // supervisor can, over the namespace it made (or as root), where init under bwrap holds no
    // capability. Throws SysError.
    void take_dns(int fd);
    int dns_fd() const { return dns_.get(); }
    // Answer every query waiting (a bounded number per call, so a flood cannot hold the loop).
    void on_dns();

    void set_proxy(net::Proxy* p) { proxy_ = p; }
    net::Proxy* proxy() const { return proxy_; }
    const policy::NetPlan& net() const { return net_; }
    // The name a synthetic address (host byte order) was handed out for.
    std::optional<std::string> name_of(std::uint32_t addr) const { return names_.name_of(addr); }

private:
    const policy::NetPlan& net_;
    const EventSink& sink_;
    sys::unique_fd dns_;
    net::dns::SyntheticNames names_;
    std::set<std::string> logged_;  // names whose decision is in the log already
    net::Proxy* proxy_ = nullptr;
};

}  // namespace agentbox::sandbox::lnx
