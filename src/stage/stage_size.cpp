#include "stage/stage_size.hpp"

#include <fcntl.h>

#include "sys/fd.hpp"
#include "sys/walk.hpp"

namespace agentbox::stage {

std::uint64_t tree_bytes(const std::string& dir) {
    sys::unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return 0;
    struct Sum : sys::WalkVisitor {
        std::uint64_t bytes = 0;
        sys::WalkStep visit(const sys::WalkEntry& e) override {
            bytes += static_cast<std::uint64_t>(e.st.st_blocks) * 512;
            return sys::WalkStep::into;
        }
        void fail(const sys::SysError&) override {}  // unreadable: counts as 0
    } sum;
    sys::walk_tree(d.get(), dir, sum);
    return sum.bytes;
}

std::uint64_t copy_staged_bytes(const std::string& snapshot, std::uint64_t base) {
    const std::uint64_t now = tree_bytes(snapshot);
    return now > base ? now - base : 0;
}

}  // namespace agentbox::stage
