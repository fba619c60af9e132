#include "sys/prefault.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <link.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// The pages of this program's code that are not mapped in its page table (/proc/self/pagemap:
// bit 63 of a page's entry says present), or -1 when that cannot be read.
long unmapped_code_pages() {
    struct Range {
        std::uintptr_t lo = 0, hi = 0;
    } r;
    ::dl_iterate_phdr(
        [](struct dl_phdr_info* info, std::size_t, void* out) {
            if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') return 0;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
                auto* range = static_cast<Range*>(out);
                range->lo = (info->dlpi_addr + ph.p_vaddr) & ~std::uintptr_t{4095};
                range->hi = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
                return 1;
            }
            return 0;
        },
        &r);
    const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || r.lo == 0) return -1;
    long missing = 0;
    std::vector<std::uint64_t> entries((r.hi - r.lo + 4095) / 4096);
    const auto want = static_cast<ssize_t>(entries.size() * sizeof(std::uint64_t));
    const bool ok = ::pread(fd, entries.data(), want, static_cast<off_t>(r.lo / 4096 * 8)) == want;
    ::close(fd);
    if (!ok) return -1;
    for (const std::uint64_t e : entries) missing += (e >> 63) == 0 ? 1 : 0;
    return missing;
}

// Unused under AddressSanitizer, whose allocator the first case leaves alone.
[[maybe_unused]] long minor_faults() {
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

}  // namespace

TEST_CASE("reserve_heap: the heap a process then grows into takes no page fault per page") {
#if defined(__SANITIZE_ADDRESS__)
    MESSAGE("AddressSanitizer's allocator is not malloc's heap: nothing to reserve");
#else
    // 96 blocks of 4 KiB, each written: without the reserve each new page of the heap's top
    // is a fault of its own (more than the 128 KiB a freed top may keep resident).
    agentbox::sys::reserve_heap(512 << 10);
    std::vector<void*> blocks;
    blocks.reserve(96);
    const long before = minor_faults();
    for (int i = 0; i < 96; ++i) {
        void* b = std::malloc(4096);
        REQUIRE(b != nullptr);
        std::memset(b, 0x5a, 4096);
        blocks.push_back(b);
    }
    const long faults = minor_faults() - before;
    for (void* b : blocks) std::free(b);
    CHECK(faults < 8);
#endif
}

TEST_CASE("map_code: every page of the program's code is mapped, none left to a fault") {
    const long before = unmapped_code_pages();
    if (before < 0) {
        MESSAGE("no /proc/self/pagemap here");
        return;
    }
    agentbox::sys::map_code();
    CHECK(unmapped_code_pages() == 0);
}
