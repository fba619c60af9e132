#include "sys/random.hpp"

#include <unistd.h>
#ifdef __APPLE__
#include <sys/random.h>  // getentropy
#endif

#include <cerrno>
#include <vector>

#include "sys/error.hpp"

namespace agentbox::sys {

void random_bytes(void* buf, std::size_t n) {
    auto* at = static_cast<unsigned char*>(buf);
    while (n > 0) {
        const std::size_t chunk = n < 256 ? n : 256;  // getentropy's most per call
        if (::getentropy(at, chunk) != 0) {
            if (errno == EINTR) continue;
            throw SysError("getentropy", errno);
        }
        at += chunk;
        n -= chunk;
    }
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    random_bytes(raw.data(), raw.size());
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * bytes);
    for (const unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

}  // namespace agentbox::sys
