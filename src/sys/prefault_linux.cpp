#include "sys/prefault.hpp"

#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace agentbox::sys {

namespace {

std::uintptr_t page_size() { return static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

void reserve_heap(std::size_t bytes) {
#if !defined(__SANITIZE_ADDRESS__)
    // The heap grows by `bytes` more than a request at its next growth, and a free at its top
    // no longer shrinks it (each shrink was a brk call, and the pages faulted again after).
    ::mallopt(M_TOP_PAD, static_cast<int>(bytes));
    ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * bytes));
    // Blocks below the mmap threshold (128 KiB, fixed now that M_TOP_PAD is set) until the
    // break is `bytes` past the first: the heap's top has grown to hold them (or had the room
    // already). Freed in reverse, each joins the top again.
    constexpr std::size_t kStep = 64 << 10;
    constexpr int kMost = 18;
    void* got[kMost];
    int n = 0;
    const std::uintptr_t page = page_size();
    std::uintptr_t lo = 0;
    std::uintptr_t hi = 0;
    while (n < kMost) {
        void* const p = std::malloc(kStep);
        if (p == nullptr) break;
        got[n++] = p;
        const auto at = reinterpret_cast<std::uintptr_t>(p);
        hi = reinterpret_cast<std::uintptr_t>(::sbrk(0));
        if (lo == 0) lo = at & ~(page - 1);
        if (at > hi || hi - lo >= bytes) break;  // above the break: an mmap, not the heap
    }
    while (n > 0) std::free(got[--n]);
    // Nothing when the block was not on the heap, or the range is not the one asked for.
    if (lo == 0 || hi <= lo || hi - lo > 4 * bytes) return;
    ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
#else
    (void)bytes;
#endif
}

void map_code() {
    // dl_iterate_phdr reads the loader's list in memory (no system call); the program is its
    // first entry. Not libc's: its code took ~3 faults of a run, its data most of the rest.
    ::dl_iterate_phdr(
        [](struct dl_phdr_info* info, std::size_t, void*) {
            const std::uintptr_t page = page_size();
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
                const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
                const std::uintptr_t lo = start & ~(page - 1);
                const std::uintptr_t hi = (start + ph.p_memsz + page - 1) & ~(page - 1);
                ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_READ);
            }
            return 1;
        },
        nullptr);
}

}  // namespace agentbox::sys
