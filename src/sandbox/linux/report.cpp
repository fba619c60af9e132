#include "sandbox/linux/report.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys/error.hpp"

namespace agentbox::sandbox::lnx {

namespace {
void copy_bounded(char* dst, std::size_t size, const char* src) noexcept {
    if (src == nullptr) src = "";
    std::size_t n = ::strnlen(src, size - 1);
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}
}  // namespace

void send_report(int fd, ReportKind kind, const char* op, const char* path, int err) noexcept {
    Report r;
    r.kind = kind;
    r.err = err;
    copy_bounded(r.op, sizeof r.op, op);
    copy_bounded(r.path, sizeof r.path, path);
    ssize_t n;
    do n = ::write(fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
}

std::string describe(const Report& r) {
    Report copy = r;  // terminate defensively: the record came from another process
    copy.op[sizeof copy.op - 1] = '\0';
    copy.path[sizeof copy.path - 1] = '\0';
    return sys::SysError(copy.op, copy.path, copy.err).what();
}

}  // namespace agentbox::sandbox::lnx
