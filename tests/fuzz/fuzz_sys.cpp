// libFuzzer target for sys::parse_unix_addr: arbitrary bytes and lengths, as the address a
// sandboxed process passes to connect(). Invariants: a pathname is non-empty, has no NUL and
// fits in sun_path; nothing is read past min(len, sizeof(sockaddr_un)).
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sys/unix_addr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // The first byte picks the addrlen the caller claims (up to a little past the struct);
    // the supervisor copies at most sizeof(sockaddr_un) bytes, exactly this buffer.
    const std::size_t len = data[0] % (sizeof(sockaddr_un) + 8);
    std::vector<std::uint8_t> buf(std::min(len, sizeof(sockaddr_un)));
    if (!buf.empty()) std::memcpy(buf.data(), data + 1, std::min(buf.size(), size - 1));
    const auto a = agentbox::sys::parse_unix_addr(buf.data(), len);
    if (a.kind == agentbox::sys::UnixAddr::pathname) {
        if (a.path.empty() || a.path.size() > sizeof(sockaddr_un::sun_path)) std::abort();
        if (a.path.find('\0') != std::string::npos) std::abort();
    }
    return 0;
}
