#include "sys/io.hpp"

#include <unistd.h>

#include <cerrno>

#include "sys/error.hpp"

namespace agentbox::sys {

void write_all(int fd, std::string_view data, const std::string& shown) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("write", shown, errno);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace agentbox::sys
