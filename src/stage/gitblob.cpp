// zlib is used only here, through LazyLib: a `diff` to a terminal or a `run` never loads it.
#include "stage/gitblob.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "sys/lazylib.hpp"
#include "sys/error.hpp"

namespace agentbox::stage::detail {

namespace {

sys::LazyLib& zlib() {
    static sys::LazyLib lib(AGENTBOX_ZLIB_SONAME);
    return lib;
}

constexpr std::size_t block_size = 1 << 17;

std::uint32_t rol(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

// Reads the first `size` bytes of `fd` in blocks, calling `each` for every block.
template <class F>
void read_blocks(int fd, std::uint64_t size, const std::string& shown, F each) {
    std::vector<char> buf(block_size);
    std::uint64_t off = 0;
    while (off < size) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
        const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys::SysError("read", shown, errno);
        if (n == 0)
            throw std::runtime_error("read \"" + shown + "\": the file shrank while being read");
        each(buf.data(), static_cast<std::size_t>(n));
        off += static_cast<std::uint64_t>(n);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SHA-1

Sha1::Sha1() : h_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0} {}

void Sha1::block(const unsigned char* p) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i)
        w[i] = (std::uint32_t{p[4 * i]} << 24) | (std::uint32_t{p[4 * i + 1]} << 16) |
               (std::uint32_t{p[4 * i + 2]} << 8) | std::uint32_t{p[4 * i + 3]};
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
    for (int i = 0; i < 80; ++i) {
        std::uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5a827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ed9eba1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        else f = b ^ c ^ d, k = 0xca62c1d6;
        const std::uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
}

void Sha1::update(const void* data, std::size_t len) {
    const auto* p = static_cast<const unsigned char*>(data);
    total_ += len;
    if (used_ > 0) {
        const std::size_t take = std::min(len, 64 - used_);
        std::memcpy(buf_ + used_, p, take);
        used_ += take;
        p += take;
        len -= take;
        if (used_ < 64) return;
        block(buf_);
        used_ = 0;
    }
    for (; len >= 64; p += 64, len -= 64) block(p);
    std::memcpy(buf_, p, len);
    used_ = len;
}

std::string Sha1::hex() {
    const std::uint64_t bits = total_ * 8;
    const unsigned char pad = 0x80;
    update(&pad, 1);
    const unsigned char zero = 0;
    while (used_ != 56) update(&zero, 1);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (const std::uint32_t h : h_)
        for (int s = 28; s >= 0; s -= 4) out += digits[(h >> s) & 15];
    return out;
}

std::string blob_id(std::string_view content) {
    Sha1 h;
    const std::string head = "blob " + std::to_string(content.size()) + std::string(1, '\0');
    h.update(head.data(), head.size());
    h.update(content.data(), content.size());
    return h.hex();
}

std::string blob_id(int fd, std::uint64_t size, const std::string& shown) {
    Sha1 h;
    const std::string head = "blob " + std::to_string(size) + std::string(1, '\0');
    h.update(head.data(), head.size());
    read_blocks(fd, size, shown, [&](const char* p, std::size_t n) { h.update(p, n); });
    return h.hex();
}

// ---------------------------------------------------------------------------------------------
// Binary patch data

std::string base85_line(std::string_view data) {
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
    const std::size_t n = data.size();
    if (n == 0 || n > 52) throw std::logic_error("base85_line: 1 to 52 bytes");
    std::string out;
    out += n <= 26 ? static_cast<char>('A' + n - 1) : static_cast<char>('a' + n - 27);
    for (std::size_t i = 0; i < n; i += 4) {
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4; ++k)
            v = (v << 8) | (i + k < n ? static_cast<unsigned char>(data[i + k]) : 0u);
        char group[5];
        for (int k = 4; k >= 0; --k) {
            group[k] = alphabet[v % 85];
            v /= 85;
        }
        out.append(group, 5);
    }
    return out + "\n";
}

void literal(int fd, std::string_view content, std::uint64_t size, const std::string& shown,
             const Sink& out) {
    out("literal " + std::to_string(size) + "\n");
    // Git's own level (zlib_compression_level): the fastest, and the same bytes as git diff.
    z_stream zs{};
    if (AGENTBOX_LAZY(zlib(), deflateInit_)(&zs, Z_BEST_SPEED, ZLIB_VERSION,
                                            static_cast<int>(sizeof(z_stream))) != Z_OK)
        throw std::runtime_error("zlib: deflateInit failed");
    struct End {
        z_stream* z;
        ~End() { AGENTBOX_LAZY(zlib(), deflateEnd)(z); }
    } end{&zs};

    std::vector<unsigned char> zbuf(block_size);
    std::string pending;  // deflated bytes not yet a whole 52-byte line
    std::string text;
    const auto drain = [&](int flush) {
        int rc;
        do {
            zs.next_out = zbuf.data();
            zs.avail_out = static_cast<uInt>(zbuf.size());
            rc = AGENTBOX_LAZY(zlib(), deflate)(&zs, flush);
            if (rc == Z_STREAM_ERROR) throw std::runtime_error("zlib: deflate failed");
            pending.append(reinterpret_cast<const char*>(zbuf.data()), zbuf.size() - zs.avail_out);
            std::size_t i = 0;
            text.clear();
            for (; pending.size() - i >= 52; i += 52)
                text += base85_line(std::string_view(pending).substr(i, 52));
            pending.erase(0, i);
            if (!text.empty()) out(text);
        } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    };
    const auto feed = [&](const char* p, std::size_t n) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
        zs.avail_in = static_cast<uInt>(n);
        drain(Z_NO_FLUSH);
    };
    if (fd >= 0) {
        read_blocks(fd, size, shown, feed);
    } else {
        for (std::size_t i = 0; i < content.size(); i += block_size)
            feed(content.data() + i, std::min(block_size, content.size() - i));
    }
    zs.next_in = nullptr;
    zs.avail_in = 0;
    drain(Z_FINISH);
    if (!pending.empty()) out(base85_line(pending));
    out("\n");
}

}  // namespace agentbox::stage::detail
