// What `git apply` needs to apply a binary (or too large to diff) file: the full blob ids of
// both sides ("index <sha1>..<sha1>") and the new and old content as `GIT binary patch`
// literals (zlib deflate, then git's base85 in lines of at most 52 bytes). Both are computed
// from a file descriptor a block at a time, so memory stays bounded whatever the file's size.
// Internal to the stage module; zlib is loaded on first use (sys/lazylib.hpp), as libgit2.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace agentbox::stage::detail {

using Sink = std::function<void(std::string_view)>;

// SHA-1 (FIPS 180-4), only for git's object ids: git names blobs by it, nothing here relies on
// its collision resistance.
class Sha1 {
public:
    Sha1();
    void update(const void* data, std::size_t len);
    std::string hex();  // 40 lowercase hex digits; the object is spent afterwards

private:
    void block(const unsigned char* p);
    std::uint32_t h_[5];
    unsigned char buf_[64];
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
};

// git's id of a blob: SHA-1 of "blob <size>\0" followed by the content.
std::string blob_id(std::string_view content);
// The same for the first `size` bytes of the regular file `fd` (read with pread from offset 0).
// Throws when the file holds fewer bytes than that (it changed while being read).
std::string blob_id(int fd, std::uint64_t size, const std::string& shown);

// git's base85 (the alphabet of base85.c), one line of a binary patch: a length character
// ('A'-'Z' for 1-26 bytes, 'a'-'z' for 27-52), the data in groups of 4 bytes as 5 characters,
// the last group zero-padded, then "\n". `data` holds 1 to 52 bytes.
std::string base85_line(std::string_view data);

// "literal <size>\n", then the deflated first `size` bytes of `fd` (or `content` when fd < 0)
// as base85 lines, then an empty line: one hunk of a `GIT binary patch`.
void literal(int fd, std::string_view content, std::uint64_t size, const std::string& shown,
             const Sink& out);

}  // namespace agentbox::stage::detail
