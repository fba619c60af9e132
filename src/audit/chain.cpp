#include "audit/chain.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "sys/io.hpp"
#include "util/strings.hpp"

namespace agentbox::audit {

static_assert(crypto_generichash_BYTES == kHashBytes);
static_assert(crypto_sign_PUBLICKEYBYTES == kKeyBytes);
static_assert(crypto_sign_BYTES == kSigBytes);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == 32);

namespace {

constexpr std::string_view kDomain = "agentbox decision log v1: session.end ";

void init_sodium() {
    // Idempotent and thread-safe; -1 only when no randomness source works at all.
    if (::sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

bool unhex(std::string_view s, unsigned char* out, std::size_t n) {
    if (!is_hex(s, n)) return false;
    auto val = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<unsigned char>(val(s[2 * i]) << 4 | val(s[2 * i + 1]));
    return true;
}

[[noreturn]] void fail(const std::string& op, const std::string& path, int err) {
    throw std::system_error(err, std::generic_category(), op + " " + util::quote(path));
}

void write_all(int fd, std::string_view data, const std::string& path) {
    if (const int err = sys::write_full(fd, data); err != 0) fail("write", path, err);
}

// The parent directory of the key, created 0700 if missing (one level: config_dir() itself).
void ensure_parent(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail("mkdir", dir, errno);
}

std::string read_key_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) fail("open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail("fstat", path, err);
    }
    std::string why;
    if (!S_ISREG(st.st_mode)) why = "is not a regular file";
    else if (st.st_uid != ::geteuid()) why = "is owned by uid " + std::to_string(st.st_uid);
    // A key others can read signs for them too; one others can write is not ours.
    else if ((st.st_mode & 077) != 0) why = "may be read or written by others (chmod 600 it)";
    if (!why.empty()) {
        ::close(fd);
        throw std::runtime_error("log signing key " + util::quote(path) + " " + why);
    }
    char buf[128];
    ssize_t n;
    do n = ::read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (n < 0) fail("read", path, err);
    return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

std::string zero_hash_hex() { return std::string(kHashBytes * 2, '0'); }

std::string canonical(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string hash_hex(std::string_view data) {
    init_sodium();
    unsigned char out[kHashBytes];
    ::crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(data.data()),
                         data.size(), nullptr, 0);
    return util::hex(out, sizeof out);
}

bool is_hex(std::string_view s, std::size_t n) {
    if (s.size() != 2 * n) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string signed_message(std::string_view end_line_without_sig) {
    return std::string(kDomain) + hash_hex(end_line_without_sig);
}

SigningKey SigningKey::from_seed(const std::array<std::uint8_t, 32>& seed) {
    init_sodium();
    SigningKey k;
    unsigned char pk[kKeyBytes];
    ::crypto_sign_seed_keypair(pk, k.secret_.data(), seed.data());
    k.public_hex_ = util::hex(pk, sizeof pk);
    return k;
}

std::array<std::uint8_t, 32> SigningKey::load_seed(const std::string& path) {
    std::string text = read_key_file(path);
    std::array<std::uint8_t, 32> seed{};
    const bool ok = unhex(util::trim(text), seed.data(), seed.size());
    ::sodium_memzero(text.data(), text.size());
    if (!ok)
        throw std::runtime_error("log signing key " + util::quote(path) +
                                 " is not 64 hex digits");
    return seed;
}

SigningKey SigningKey::load(const std::string& path) {
    std::array<std::uint8_t, 32> seed = load_seed(path);
    SigningKey k = from_seed(seed);
    ::sodium_memzero(seed.data(), seed.size());
    return k;
}

SigningKey SigningKey::load_or_create(const std::string& path) {
    if (::access(path.c_str(), F_OK) == 0) return load(path);
    if (errno != ENOENT) fail("access", path, errno);
    init_sodium();
    ensure_parent(path);

    std::array<std::uint8_t, 32> seed{};
    ::randombytes_buf(seed.data(), seed.size());
    std::string text = util::hex(seed.data(), seed.size()) + "\n";
    // Written in full under a private name first and then linked into place: link() fails
    // with EEXIST instead of replacing, so a concurrent first run either wins or reads the
    // winner's complete key, never half of one.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) fail("open", tmp, errno);
    try {
        write_all(fd, text, tmp);
        if (::fsync(fd) != 0) fail("fsync", tmp, errno);
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    ::close(fd);
    ::sodium_memzero(text.data(), text.size());
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err != EEXIST) fail("link", path, err);
    if (rc != 0) return load(path);  // another run created it first: use theirs
    SigningKey k = from_seed(seed);
    ::sodium_memzero(seed.data(), seed.size());
    return k;
}

std::string SigningKey::sign_hex(std::string_view message) const {
    unsigned char sig[kSigBytes];
    ::crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size(), secret_.data());
    return util::hex(sig, sizeof sig);
}

SigningKey::SigningKey(SigningKey&& o) noexcept
    : secret_(o.secret_), public_hex_(std::move(o.public_hex_)) {
    ::sodium_memzero(o.secret_.data(), o.secret_.size());
}

SigningKey& SigningKey::operator=(SigningKey&& o) noexcept {
    if (this != &o) {
        secret_ = o.secret_;
        public_hex_ = std::move(o.public_hex_);
        ::sodium_memzero(o.secret_.data(), o.secret_.size());
    }
    return *this;
}

SigningKey::~SigningKey() { ::sodium_memzero(secret_.data(), secret_.size()); }

bool verify_signature(std::string_view public_hex, std::string_view message,
                      std::string_view sig_hex) {
    init_sodium();
    unsigned char pk[kKeyBytes], sig[kSigBytes];
    if (!unhex(public_hex, pk, sizeof pk) || !unhex(sig_hex, sig, sizeof sig)) return false;
    return ::crypto_sign_verify_detached(sig, reinterpret_cast<const unsigned char*>(message.data()),
                                         message.size(), pk) == 0;
}

}  // namespace agentbox::audit
