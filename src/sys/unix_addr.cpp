#include "sys/unix_addr.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

namespace agentbox::sys {

UnixAddr parse_unix_addr(const std::uint8_t* bytes, std::size_t len) {
    UnixAddr a;
    sa_family_t family = 0;
    if (len < sizeof family) return a;  // the kernel refuses it before looking at a family
    std::memcpy(&family, bytes, sizeof family);
    if (family == AF_UNSPEC) {
        a.kind = UnixAddr::unspec;
        return a;
    }
    if (family != AF_UNIX) return a;
    // unix_validate_addr: something after the family, and no more than a sockaddr_un.
    constexpr std::size_t head = offsetof(struct sockaddr_un, sun_path);
    if (len <= head || len > sizeof(struct sockaddr_un)) {
        a.kind = UnixAddr::invalid;
        return a;
    }
    const auto* path = reinterpret_cast<const char*>(bytes + head);
    const std::size_t room = len - head;
    if (path[0] == '\0') {
        a.kind = UnixAddr::abstract;
        return a;
    }
    // unix_mkname_bsd: the name ends at the first NUL or at addrlen, whichever is first.
    a.kind = UnixAddr::pathname;
    a.path.assign(path, strnlen(path, room));
    return a;
}

}  // namespace agentbox::sys
