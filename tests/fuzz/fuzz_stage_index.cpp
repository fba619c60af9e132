// libFuzzer target for the git index reader (stage/gitindex.cpp): arbitrary bytes as a
// `.git/index` that a sandboxed command rewrote, which commit reads whole (up to 1 GiB) to
// decide whether it needs approval. Any answer is fine; a crash, hang, leak or sanitizer
// report is a bug. Seeds (tests/fuzz/corpus/stage_index) are indexes written by git itself:
// versions 2, 3 and 4, SHA-1 and SHA-256, with the EOIE and IEOT extensions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "stage/gitindex.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto hazard = agentbox::stage::git_index_hazard(bytes);
    // A reason is what the approval prompt shows: never empty.
    if (hazard && hazard->empty()) std::abort();
    return 0;
}
