// Authenticating the files agentbox reads back later: session metadata, commit journals,
// commit records. Any directory a sandbox could ever have reached is input from an attacker
// (THREATS.md, "agentbox's own state"); a file agentbox acts on carries a MAC by a key the
// sandbox never sees, and one whose MAC does not verify is never acted on.
//
// The MAC key is derived from the user's log signing key (chain.hpp: $XDG_CONFIG_HOME/
// agentbox/log-key, one of agentbox's own hidden directories), so there is one secret per user
// to keep, and a sealed file and a signed log stand or fall together. The MAC is keyed
// BLAKE2b-256 over a domain string, the scope (the session id), the file's name within it, and
// its bytes: a sealed file copied into another session, or under another name, does not verify.
//
// A sealed file is its bytes followed by one trailer line, so it stays readable by eye:
//     <bytes>#agentbox-mac v1 <64 hex digits>\n
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agentbox::audit {

class SigningKey;

inline constexpr std::string_view kSealPrefix = "#agentbox-mac v1 ";
inline constexpr std::size_t kSealBytes = kSealPrefix.size() + 64 + 1;

class FileKey {
public:
    // The MAC key of the user whose log key this is.
    static FileKey derive(const SigningKey& key);
    // The MAC key of the log key at `path`, created as SigningKey::load_or_create creates it
    // when there is none. The same key as derive(SigningKey::load_or_create(path)), without
    // the Ed25519 key pair: a command that only reads or writes session files (diff,
    // sessions, commit...) never signs, and computing the public key was ~60 us of its start.
    static FileKey load_or_create(const std::string& path);
    // From 32 bytes (tests).
    static FileKey from_bytes(const std::array<std::uint8_t, 32>& bytes);

    // Lower-case hex of the MAC of `bytes` as file `name` of `scope`.
    std::string tag_hex(std::string_view scope, std::string_view name,
                        std::string_view bytes) const;

    FileKey(FileKey&&) noexcept;
    FileKey& operator=(FileKey&&) noexcept;
    FileKey(const FileKey&) = delete;
    FileKey& operator=(const FileKey&) = delete;
    ~FileKey();  // wipes the key

private:
    FileKey() = default;
    static FileKey from_seed(const std::uint8_t* seed);
    std::array<std::uint8_t, 32> key_{};
};

// `bytes` with its trailer.
std::string seal(const FileKey& key, std::string_view scope, std::string_view name,
                 std::string_view bytes);

// The bytes of a sealed file, or nullopt with `why` (when given) saying what is wrong: no
// trailer, or a MAC that does not verify (compared in constant time).
std::optional<std::string> unseal(const FileKey& key, std::string_view scope,
                                  std::string_view name, std::string_view sealed,
                                  std::string* why = nullptr);

}  // namespace agentbox::audit
