// Ed25519 and BLAKE2b for signed profiles (audit/minisign.hpp), behind plain arrays: libsodium
// stays inside audit/ (chain.cpp, sig.cpp), and the file formats around these primitives stay
// pure code that is tested and fuzzed without it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace agentbox::audit::sig {

using PublicKey = std::array<std::uint8_t, 32>;
using SecretKey = std::array<std::uint8_t, 64>;  // libsodium's: seed followed by public key
using Signature = std::array<std::uint8_t, 64>;
using Digest512 = std::array<std::uint8_t, 64>;
using Digest256 = std::array<std::uint8_t, 32>;

// A fresh random key pair.
void keypair(PublicKey& pk, SecretKey& sk);
Signature sign(const SecretKey& sk, std::string_view message);
bool verify(const PublicKey& pk, std::string_view message, const Signature& s);
// Unkeyed BLAKE2b with a 64- and a 32-byte output.
Digest512 blake2b_512(std::string_view data);
Digest256 blake2b_256(std::string_view data);
void random_bytes(std::uint8_t* out, std::size_t n);
// Overwrites `n` bytes in a way the compiler does not elide.
void wipe(void* p, std::size_t n);

}  // namespace agentbox::audit::sig
