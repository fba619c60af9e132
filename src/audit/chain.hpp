// The cryptography of the decision log (DESIGN.md §7), and the only place libsodium is used:
// BLAKE2b-256 chains each line to the one before it, and an Ed25519 key per user signs the
// chain head in every `session.end`.
//
// The chain alone proves nothing against someone who can rewrite the whole file (anyone can
// recompute unkeyed hashes); it makes every line depend on all before it, so that the one
// signature at the end covers the whole log.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace agentbox::audit {

using Json = nlohmann::ordered_json;

inline constexpr std::size_t kHashBytes = 32;   // BLAKE2b-256
inline constexpr std::size_t kKeyBytes = 32;    // Ed25519 public key
inline constexpr std::size_t kSigBytes = 64;    // Ed25519 signature

// "prev" of the first line: there is nothing before it.
std::string zero_hash_hex();

// The one serialization that is hashed and written: compact, members in insertion order,
// non-ASCII as UTF-8, invalid UTF-8 replaced by U+FFFD (a hostile file name must not make
// the writer throw). Parsing a canonical line and serializing it again gives the same bytes.
std::string canonical(const Json& j);

// Lower-case hex of BLAKE2b-256(data).
std::string hash_hex(std::string_view data);

// Whether `s` is 2*n lower-case hex digits.
bool is_hex(std::string_view s, std::size_t n);

// The message a session.end signature covers: a fixed domain string and the BLAKE2b-256 of
// the canonical session.end line without "sig" and "hash" (which itself holds "prev", the
// head of the chain). The domain string keeps a log signature from ever being valid for
// anything else signed with the same key.
std::string signed_message(std::string_view end_line_without_sig);

// The per-user signing key: an Ed25519 seed in $XDG_CONFIG_HOME/agentbox/log-key, which no
// sandbox can see (it is one of agentbox's own hidden directories).
class SigningKey {
public:
    // Reads the key at `path`, or creates it (directory 0700, file 0600, created with O_EXCL
    // under a temporary name and linked into place, so that two first runs agree on one key).
    // Refuses a key file that is not a regular file owned by this user, or that others may
    // read or write. Throws std::system_error / std::runtime_error naming the path.
    static SigningKey load_or_create(const std::string& path);
    // Reads an existing key; throws if there is none.
    static SigningKey load(const std::string& path);
    // From a 32-byte seed (tests).
    static SigningKey from_seed(const std::array<std::uint8_t, 32>& seed);

    const std::string& public_hex() const { return public_hex_; }
    // Lower-case hex of the detached Ed25519 signature of `message`.
    std::string sign_hex(std::string_view message) const;

    SigningKey(SigningKey&&) noexcept;
    SigningKey& operator=(SigningKey&&) noexcept;
    SigningKey(const SigningKey&) = delete;
    SigningKey& operator=(const SigningKey&) = delete;
    ~SigningKey();  // wipes the secret

private:
    friend class FileKey;  // seal.hpp: derives the session-file MAC key from the seed
    SigningKey() = default;
    // The seed of the existing key at `path`, checked as load() checks it.
    static std::array<std::uint8_t, 32> load_seed(const std::string& path);
    std::array<std::uint8_t, 64> secret_{};
    std::string public_hex_;
};

// Whether `sig_hex` is a valid signature of `message` by `public_hex`. False for malformed hex.
bool verify_signature(std::string_view public_hex, std::string_view message,
                      std::string_view sig_hex);

}  // namespace agentbox::audit
