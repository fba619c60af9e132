#include "audit/seal.hpp"

#include <sodium.h>
#include <unistd.h>

#include <stdexcept>

#include "audit/chain.hpp"
#include "util/strings.hpp"

namespace agentbox::audit {

namespace {

// Domain strings keep a MAC from ever being valid for anything else keyed the same way.
constexpr std::string_view kKeyDomain = "agentbox session-file MAC key v1";
constexpr std::string_view kMacDomain = "agentbox session file v1";

void init_sodium() {
    if (::sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

void update(crypto_generichash_state& st, std::string_view s) {
    ::crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

// Each variable-length field is preceded by its length, so that no two (scope, name, bytes)
// triples hash the same input.
void update_field(crypto_generichash_state& st, std::string_view s) {
    unsigned char len[8];
    std::uint64_t n = s.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    ::crypto_generichash_update(&st, len, sizeof len);
    update(st, s);
}

}  // namespace

FileKey FileKey::from_seed(const std::uint8_t* seed) {
    init_sodium();
    FileKey k;
    ::crypto_generichash(k.key_.data(), k.key_.size(),
                         reinterpret_cast<const unsigned char*>(kKeyDomain.data()),
                         kKeyDomain.size(), seed, 32);
    return k;
}

// libsodium's Ed25519 secret key is the 32-byte seed followed by the public key.
FileKey FileKey::derive(const SigningKey& key) { return from_seed(key.secret_.data()); }

FileKey FileKey::load_or_create(const std::string& path) {
    // No key yet: made as the log makes it (two first commands agree on one key).
    if (::access(path.c_str(), F_OK) != 0) return derive(SigningKey::load_or_create(path));
    std::array<std::uint8_t, 32> seed = SigningKey::load_seed(path);
    FileKey k = from_seed(seed.data());
    ::sodium_memzero(seed.data(), seed.size());
    return k;
}

FileKey FileKey::from_bytes(const std::array<std::uint8_t, 32>& bytes) {
    init_sodium();
    FileKey k;
    k.key_ = bytes;
    return k;
}

std::string FileKey::tag_hex(std::string_view scope, std::string_view name,
                             std::string_view bytes) const {
    crypto_generichash_state st;
    ::crypto_generichash_init(&st, key_.data(), key_.size(), 32);
    update_field(st, kMacDomain);
    update_field(st, scope);
    update_field(st, name);
    update_field(st, bytes);
    unsigned char out[32];
    ::crypto_generichash_final(&st, out, sizeof out);
    return util::hex(out, sizeof out);
}

FileKey::FileKey(FileKey&& o) noexcept : key_(o.key_) {
    ::sodium_memzero(o.key_.data(), o.key_.size());
}

FileKey& FileKey::operator=(FileKey&& o) noexcept {
    if (this != &o) {
        key_ = o.key_;
        ::sodium_memzero(o.key_.data(), o.key_.size());
    }
    return *this;
}

FileKey::~FileKey() { ::sodium_memzero(key_.data(), key_.size()); }

std::string seal(const FileKey& key, std::string_view scope, std::string_view name,
                 std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() + kSealBytes);
    out.append(bytes);
    out.append(kSealPrefix);
    out.append(key.tag_hex(scope, name, bytes));
    out.push_back('\n');
    return out;
}

std::optional<std::string> unseal(const FileKey& key, std::string_view scope,
                                  std::string_view name, std::string_view sealed,
                                  std::string* why) {
    auto fail = [&](const char* reason) -> std::optional<std::string> {
        if (why != nullptr) *why = reason;
        return std::nullopt;
    };
    if (sealed.size() < kSealBytes) return fail("it carries no MAC (not written by agentbox)");
    const std::string_view bytes = sealed.substr(0, sealed.size() - kSealBytes);
    const std::string_view trailer = sealed.substr(bytes.size());
    if (trailer.substr(0, kSealPrefix.size()) != kSealPrefix || trailer.back() != '\n' ||
        !is_hex(trailer.substr(kSealPrefix.size(), 64), 32))
        return fail("it carries no MAC (not written by agentbox)");
    const std::string want = key.tag_hex(scope, name, bytes);
    if (::sodium_memcmp(want.data(), trailer.data() + kSealPrefix.size(), want.size()) != 0)
        return fail("its MAC does not verify (not written by agentbox for this session, or "
                    "changed since)");
    return std::string(bytes);
}

}  // namespace agentbox::audit
