#include "net/tls.hpp"

#include <cstdint>

namespace agentbox::net::tls {

namespace {

constexpr unsigned char kHandshake = 0x16;
constexpr unsigned char kClientHello = 0x01;
constexpr std::size_t kMaxRecord = 16384 + 2048;  // TLSCiphertext's limit; plaintext is less

// Reads big-endian fields from a byte string; any read past the end makes it !ok().
class Reader {
public:
    explicit Reader(std::string_view b) : b_(b) {}
    bool ok() const { return ok_; }
    std::size_t left() const { return b_.size() - at_; }
    std::uint32_t num(std::size_t n) {
        if (!ok_ || left() < n) return fail();
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(b_[at_ + i]);
        at_ += n;
        return v;
    }
    std::string_view bytes(std::size_t n) {
        if (!ok_ || left() < n) {
            fail();
            return {};
        }
        const std::string_view v = b_.substr(at_, n);
        at_ += n;
        return v;
    }
    // A length-prefixed vector: the length in `n` bytes, then that many.
    std::string_view vec(std::size_t n) { return bytes(num(n)); }

private:
    std::uint32_t fail() {
        ok_ = false;
        return 0;
    }
    std::string_view b_;
    std::size_t at_ = 0;
    bool ok_ = true;
};

ClientHello malformed() {
    return {Hello::malformed, {}};
}

// The body of a ClientHello (after its 4-byte handshake header).
ClientHello parse_hello(std::string_view body) {
    Reader r(body);
    r.num(2);     // legacy_version
    r.bytes(32);  // random
    r.vec(1);     // legacy_session_id
    r.vec(2);     // cipher_suites
    r.vec(1);     // legacy_compression_methods
    if (!r.ok()) return malformed();
    if (r.left() == 0) return {Hello::no_name, {}};  // no extensions at all
    Reader ext(r.vec(2));
    if (!r.ok() || r.left() != 0) return malformed();
    ClientHello out{Hello::no_name, {}};
    bool seen = false;
    while (ext.ok() && ext.left() > 0) {
        const std::uint32_t type = ext.num(2);
        Reader data(ext.vec(2));
        if (!ext.ok()) return malformed();
        if (type != 0) continue;       // server_name (RFC 6066)
        if (seen) return malformed();  // a second one would be read differently by someone
        seen = true;
        // RFC 6066 allows one name per type and defines only host_name. A list that holds more
        // (two host names, or a type nobody defines) is read differently by different servers:
        // one judges the first name, the upstream may serve the second. Exactly one host_name,
        // or the hello is refused.
        Reader list(data.vec(2));
        if (!data.ok() || data.left() != 0) return malformed();
        const std::uint32_t name_type = list.num(1);
        const std::string_view name = list.vec(2);
        if (!list.ok() || list.left() != 0 || name_type != 0 || name.empty()) return malformed();
        std::string lower;
        for (const char ch : name) {
            const auto c = static_cast<unsigned char>(ch);
            if (c <= 0x20 || c >= 0x7f) return malformed();  // a DNS name, in ASCII
            lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        if (lower.back() == '.') lower.pop_back();
        if (lower.empty()) return malformed();
        out = {Hello::name, std::move(lower)};
    }
    return ext.ok() ? out : malformed();
}

}  // namespace

ClientHello client_hello(std::string_view bytes) {
    if (bytes.empty()) return {Hello::incomplete, {}};
    if (static_cast<unsigned char>(bytes[0]) != kHandshake) return {Hello::not_tls, {}};
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[1]) != 3) return {Hello::not_tls, {}};
    // The handshake message, gathered from as many records as it spans.
    std::string message;
    std::size_t at = 0;
    for (;;) {
        if (bytes.size() - at < 5) return {Hello::incomplete, {}};
        Reader head(bytes.substr(at, 5));
        const std::uint32_t type = head.num(1), major = head.num(1), minor = head.num(1),
                            length = head.num(2);
        if (type != kHandshake || major != 3 || minor > 4 || length == 0 || length > kMaxRecord)
            return malformed();
        if (bytes.size() - at - 5 < length) return {Hello::incomplete, {}};
        message.append(bytes.substr(at + 5, length));
        at += 5 + length;
        if (message.size() < 4) continue;
        Reader hs(message);
        if (hs.num(1) != kClientHello) return malformed();
        const std::uint32_t need = hs.num(3);
        if (need > kMaxHello) return malformed();
        if (message.size() - 4 >= need)
            return parse_hello(std::string_view(message).substr(4, need));
    }
}

}  // namespace agentbox::net::tls
