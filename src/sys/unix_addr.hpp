// What a connect() address names, read the way the kernel's AF_UNIX code reads it
// (net/unix/af_unix.c: unix_validate_addr, unix_mkname_bsd). Pure: the bytes come from a
// sandboxed process's memory, so every length is checked here and nothing is trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace agentbox::sys {

struct UnixAddr {
    enum Kind {
        not_unix,  // another family (AF_INET, ...), or too short to hold one
        unspec,    // AF_UNSPEC: a datagram socket's disconnect
        invalid,   // AF_UNIX, but a length the kernel refuses (EINVAL)
        abstract,  // sun_path[0] == 0: a name in the network namespace, no file
        pathname,  // a file in the filesystem: `path`
    } kind = not_unix;
    std::string path;  // pathname: up to the first NUL, never empty
};

// `len` is the caller's addrlen; `bytes` holds min(len, sizeof(sockaddr_un)) bytes of the
// address.
UnixAddr parse_unix_addr(const std::uint8_t* bytes, std::size_t len);

}  // namespace agentbox::sys
