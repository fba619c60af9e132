// Random bytes from the kernel, for ids, tokens and tags: getentropy(3), which Linux and macOS
// both have (getrandom is Linux's), never reads short and needs no file descriptor.
#pragma once

#include <cstddef>
#include <string>

namespace agentbox::sys {

// Fills `buf` with `n` random bytes. Throws SysError("getentropy") when the kernel has none
// to give (no entropy source: a failure to report, never a reason to use a weaker one).
void random_bytes(void* buf, std::size_t n);

// `bytes` random bytes as 2 * `bytes` lowercase hex digits.
std::string random_hex(std::size_t bytes);

}  // namespace agentbox::sys
