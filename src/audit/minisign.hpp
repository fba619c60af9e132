// minisign's file formats (https://jedisct1.github.io/minisign/), so that a profile signed by
// minisign verifies in agentbox and one signed by `agentbox profile sign` verifies with
// `minisign -V`. The parsing is pure code; the cryptography is audit/sig.hpp.
//
//   public key   "untrusted comment: ..." line, then base64("Ed" || key id[8] || pk[32])
//   signature    "untrusted comment: ..." line,
//                base64(alg[2] || key id[8] || sig[64])   alg "ED": sig of BLAKE2b-512(file)
//                                                         alg "Ed": sig of the file (legacy)
//                "trusted comment: TEXT" line,
//                base64(global sig[64])   = sig of (sig[64] || TEXT): the comment is signed too
//   secret key   "untrusted comment: ..." line, then base64 of
//                "Ed" kdf[2] "B2" salt[32] opslimit[8] memlimit[8] key id[8] sk[64] chk[32]
//                chk = BLAKE2b-256("Ed" || key id || sk), all zero in minisign's unencrypted
//                keys (then not checked). Only unencrypted keys (kdf "\0\0",
//                `minisign -G -W`, or `agentbox profile keygen`) are read: an scrypt-encrypted
//                one needs a password prompt, which agentbox does not have.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "audit/sig.hpp"

namespace agentbox::audit::minisign {

using KeyId = std::array<std::uint8_t, 8>;

// A file in one of these formats that does not parse; what() says why, without the path (the
// caller adds it).
class FormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// As minisign prints it: the 8 bytes read as a little-endian number, 16 upper-case hex digits.
std::string key_id_hex(const KeyId& id);

struct PublicKey {
    KeyId id{};
    sig::PublicKey pk{};
    bool operator==(const PublicKey&) const = default;
};

// Either the base64 line alone ("RW...", as `minisign -P` takes it) or a whole .pub file.
PublicKey parse_public_key(std::string_view text);
std::string public_key_base64(const PublicKey& k);
// A .pub file as minisign writes it.
std::string public_key_file(const PublicKey& k);

class SecretKey {
public:
    static SecretKey generate();
    static SecretKey parse(std::string_view text);  // throws FormatError
    // The unencrypted .key file (kdf "\0\0"), which minisign reads too.
    std::string file() const;
    PublicKey public_key() const;
    const KeyId& id() const { return id_; }
    const sig::SecretKey& sk() const { return sk_; }
    SecretKey(const SecretKey&) = delete;
    SecretKey& operator=(const SecretKey&) = delete;
    SecretKey(SecretKey&&) noexcept;
    ~SecretKey();

private:
    SecretKey() = default;
    KeyId id_{};
    sig::SecretKey sk_{};
};

struct Signature {
    bool prehashed = true;  // "ED"; false for the legacy "Ed"
    KeyId id{};
    sig::Signature sig{};
    std::string trusted_comment;
    sig::Signature global{};
};

Signature parse_signature(std::string_view text);  // throws FormatError

// A .minisig file for `data`: prehashed ("ED"), as current minisign makes by default.
// `trusted_comment` must be one line.
std::string sign(const SecretKey& key, std::string_view data, std::string_view trusted_comment);

struct Verdict {
    bool ok = false;
    std::string why;              // when !ok: one line, for "FILE: REASON"
    std::string key_id;           // the signature's key id (key_id_hex), when it parsed
    std::string trusted_comment;  // when ok
};

// Checks `sig_text` (a .minisig file) for `data` against `keys`: the key id must be one of
// them, the signature must match the data, and the global signature must match the trusted
// comment. Never throws for bad input.
Verdict verify(const std::vector<PublicKey>& keys, std::string_view data, std::string_view sig_text);

}  // namespace agentbox::audit::minisign
