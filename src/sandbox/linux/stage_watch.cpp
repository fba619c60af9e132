#include "sandbox/linux/stage_watch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/walk.hpp"

namespace agentbox::sandbox::lnx {

namespace {

// The blocks of every entry below the root. What cannot be read is not counted: the command
// may be changing the tree meanwhile.
struct Counter : sys::WalkVisitor {
    std::uint64_t total = 0;
    sys::WalkStep visit(const sys::WalkEntry& e) override {
        total += static_cast<std::uint64_t>(e.st.st_blocks) * 512;
        return sys::WalkStep::into;
    }
    void fail(const sys::SysError&) override {}
};

}  // namespace

std::uint64_t tree_bytes(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    Counter c;
    sys::walk_tree(fd, "upper", c, {.max_depth = 256});
    ::close(fd);
    return c.total;
}

StageWatch::StageWatch(std::string upper, std::uint64_t limit)
    : upper_(std::move(upper)), limit_(limit) {
    if (limit_ == 0 || upper_.empty()) return;
    timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!timer_) throw sys::SysError("timerfd_create", errno);
    arm(100);
}

void StageWatch::arm(long ms) {
    struct itimerspec its {};
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000;
    if (::timerfd_settime(timer_.get(), 0, &its, nullptr) != 0)
        throw sys::SysError("timerfd_settime", errno);
}

bool StageWatch::over() {
    std::uint64_t expirations = 0;
    if (::read(timer_.get(), &expirations, sizeof expirations) < 0 && errno == EAGAIN) return false;
    const auto t0 = std::chrono::steady_clock::now();
    last_ = tree_bytes(upper_);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
    if (last_ > limit_) return true;
    // Measuring costs time that grows with the staged files: never spend more than about a
    // tenth of the supervisor's time on it.
    arm(std::max<long>(100, static_cast<long>(took) * 10));
    return false;
}

}  // namespace agentbox::sandbox::lnx
