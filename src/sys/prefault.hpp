// Page faults a short-lived process would take one at a time, taken in one system call each
// instead. On a virtualised host a fault costs 10-25 us of exception handling; populating
// the same pages with madvise costs a fraction of that per page (bench/RESULTS.md
// "startup-pass7-z"). Best effort: a kernel without MADV_POPULATE_* (Linux < 5.14) leaves the
// pages to be faulted as before.
#pragma once

#include <cstddef>

namespace agentbox::sys {

#ifdef __linux__
// Makes the next `bytes` of malloc's heap resident now, and keeps malloc from giving them
// back: a run's supervisor touched ~60 new heap pages before the sandbox's clone, one fault
// each. A no-op under AddressSanitizer, whose allocator is not malloc's heap.
void reserve_heap(std::size_t bytes);

// Maps the program's code (its executable segment, 4 MiB; read from the page cache, nothing
// copied): ~40 read faults before the clone, each mapping the 64 KiB around it, were most of
// the faults a run took in agentbox's own mapping.
void map_code();
#else
// glibc's malloc and madvise's populate flags are Linux's (prefault_linux.cpp): elsewhere the
// pages are faulted as they are touched.
inline void reserve_heap(std::size_t) {}
inline void map_code() {}
#endif

}  // namespace agentbox::sys
