#include "audit/sig.hpp"

#include <sodium.h>

#include <stdexcept>

namespace agentbox::audit::sig {

static_assert(crypto_sign_PUBLICKEYBYTES == sizeof(PublicKey));
static_assert(crypto_sign_SECRETKEYBYTES == sizeof(SecretKey));
static_assert(crypto_sign_BYTES == sizeof(Signature));

namespace {

void init() {
    if (::sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

void keypair(PublicKey& pk, SecretKey& sk) {
    init();
    ::crypto_sign_keypair(pk.data(), sk.data());
}

Signature sign(const SecretKey& sk, std::string_view message) {
    init();
    Signature s{};
    ::crypto_sign_detached(s.data(), nullptr, bytes(message), message.size(), sk.data());
    return s;
}

bool verify(const PublicKey& pk, std::string_view message, const Signature& s) {
    init();
    return ::crypto_sign_verify_detached(s.data(), bytes(message), message.size(), pk.data()) == 0;
}

Digest512 blake2b_512(std::string_view data) {
    init();
    Digest512 d{};
    ::crypto_generichash(d.data(), d.size(), bytes(data), data.size(), nullptr, 0);
    return d;
}

Digest256 blake2b_256(std::string_view data) {
    init();
    Digest256 d{};
    ::crypto_generichash(d.data(), d.size(), bytes(data), data.size(), nullptr, 0);
    return d;
}

void random_bytes(std::uint8_t* out, std::size_t n) {
    init();
    ::randombytes_buf(out, n);
}

void wipe(void* p, std::size_t n) { ::sodium_memzero(p, n); }

}  // namespace agentbox::audit::sig
