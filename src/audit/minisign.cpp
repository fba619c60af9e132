#include "audit/minisign.hpp"

#include <algorithm>
#include <cstring>

namespace agentbox::audit::minisign {

namespace {

constexpr std::string_view kUntrusted = "untrusted comment: ";
constexpr std::string_view kTrusted = "trusted comment: ";
constexpr std::size_t kPublicBytes = 2 + 8 + 32;
constexpr std::size_t kSigBytes = 2 + 8 + 64;
constexpr std::size_t kSecretBytes = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;
// minisign's own limit for a trusted comment (TRUSTEDCOMMENTMAXBYTES).
constexpr std::size_t kMaxTrustedComment = 8192;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const std::uint8_t* p, std::size_t n) {
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (std::size_t i = 0; i < n; i += 3) {
        const std::uint32_t v = std::uint32_t{p[i]} << 16 |
                                (i + 1 < n ? std::uint32_t{p[i + 1]} << 8 : 0) |
                                (i + 2 < n ? std::uint32_t{p[i + 2]} : 0);
        out += kAlphabet[v >> 18 & 63];
        out += kAlphabet[v >> 12 & 63];
        out += i + 1 < n ? kAlphabet[v >> 6 & 63] : '=';
        out += i + 2 < n ? kAlphabet[v & 63] : '=';
    }
    return out;
}

// Strict: standard alphabet, padded, no whitespace inside, and exactly `n` bytes. Anything
// else is not the file it claims to be.
bool unbase64(std::string_view s, std::uint8_t* out, std::size_t n) {
    if (s.size() != (n + 2) / 3 * 4) return false;
    std::size_t o = 0;
    for (std::size_t i = 0; i < s.size(); i += 4) {
        std::uint32_t v = 0;
        int pad = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = s[i + j];
            int d;
            if (c == '=' && i + 4 == s.size() && j >= 2) {
                ++pad;
                d = 0;
            } else {
                if (pad != 0) return false;  // data after padding
                const char* at = c == '\0' ? nullptr : std::strchr(kAlphabet, c);
                if (at == nullptr) return false;
                d = static_cast<int>(at - kAlphabet);
            }
            v = v << 6 | static_cast<std::uint32_t>(d);
        }
        const std::uint8_t b[3] = {static_cast<std::uint8_t>(v >> 16),
                                   static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
        for (int j = 0; j < 3 - pad; ++j) {
            if (o >= n) return false;
            out[o++] = b[j];
        }
    }
    return o == n;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

// Lines without their "\n" (and a "\r" before it); a last line without "\n" counts.
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.push_back(line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string key_id_hex(const KeyId& id) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (int i = 7; i >= 0; --i) {
        out += digits[id[static_cast<std::size_t>(i)] >> 4];
        out += digits[id[static_cast<std::size_t>(i)] & 15];
    }
    return out;
}

PublicKey parse_public_key(std::string_view text) {
    std::string_view b64;
    for (std::string_view line : lines_of(text)) {
        line = trim(line);
        if (line.empty() || starts_with(line, kUntrusted)) continue;
        if (!b64.empty()) throw FormatError("more than one key in a public key");
        b64 = line;
    }
    std::array<std::uint8_t, kPublicBytes> raw{};
    if (b64.empty()) throw FormatError("no public key in it");
    if (!unbase64(b64, raw.data(), raw.size()))
        throw FormatError("not a minisign public key (base64 of 42 bytes, \"RW...\")");
    if (raw[0] != 'E' || raw[1] != 'd')
        throw FormatError("not an Ed25519 minisign public key");
    PublicKey k;
    std::copy_n(raw.begin() + 2, 8, k.id.begin());
    std::copy_n(raw.begin() + 10, 32, k.pk.begin());
    return k;
}

std::string public_key_base64(const PublicKey& k) {
    std::array<std::uint8_t, kPublicBytes> raw{'E', 'd'};
    std::copy(k.id.begin(), k.id.end(), raw.begin() + 2);
    std::copy(k.pk.begin(), k.pk.end(), raw.begin() + 10);
    return base64(raw.data(), raw.size());
}

std::string public_key_file(const PublicKey& k) {
    return std::string(kUntrusted) + "minisign public key " + key_id_hex(k.id) + "\n" +
           public_key_base64(k) + "\n";
}

SecretKey SecretKey::generate() {
    SecretKey k;
    sig::PublicKey pk{};
    sig::keypair(pk, k.sk_);
    sig::random_bytes(k.id_.data(), k.id_.size());
    return k;
}

namespace {

// BLAKE2b-256("Ed" || key id || sk): minisign's check that a secret key decoded intact.
sig::Digest256 secret_checksum(const KeyId& id, const sig::SecretKey& sk) {
    std::string buf = "Ed";
    buf.append(reinterpret_cast<const char*>(id.data()), id.size());
    buf.append(reinterpret_cast<const char*>(sk.data()), sk.size());
    const sig::Digest256 d = sig::blake2b_256(buf);
    sig::wipe(buf.data(), buf.size());
    return d;
}

}  // namespace

SecretKey SecretKey::parse(std::string_view text) {
    std::string_view b64;
    for (std::string_view line : lines_of(text)) {
        line = trim(line);
        if (line.empty() || starts_with(line, kUntrusted)) continue;
        if (!b64.empty()) throw FormatError("more than one key in a secret key file");
        b64 = line;
    }
    std::array<std::uint8_t, kSecretBytes> raw{};
    struct Wipe {
        std::array<std::uint8_t, kSecretBytes>& r;
        ~Wipe() { sig::wipe(r.data(), r.size()); }
    } wipe_raw{raw};
    if (b64.empty() || !unbase64(b64, raw.data(), raw.size()))
        throw FormatError("not a minisign secret key");
    if (raw[0] != 'E' || raw[1] != 'd' || raw[4] != 'B' || raw[5] != '2')
        throw FormatError("not an Ed25519 minisign secret key");
    if (raw[2] == 'S' && raw[3] == 'c')
        throw FormatError("the key is encrypted with a password, which agentbox cannot ask for: "
                          "sign with minisign -S, or use a key made by `minisign -G -W` or "
                          "`agentbox profile keygen`");
    if (raw[2] != 0 || raw[3] != 0) throw FormatError("unknown key derivation in the secret key");
    SecretKey k;
    constexpr std::size_t at = 2 + 2 + 2 + 32 + 8 + 8;
    std::copy_n(raw.begin() + at, 8, k.id_.begin());
    std::copy_n(raw.begin() + at + 8, 64, k.sk_.begin());
    // minisign 0.11 leaves the checksum of an unencrypted key all zero (`minisign -G -W`);
    // a key that carries one (agentbox's) must match it.
    const auto stored = raw.begin() + at + 8 + 64;
    const bool no_checksum = std::all_of(stored, stored + 32, [](std::uint8_t b) { return b == 0; });
    const sig::Digest256 chk = secret_checksum(k.id_, k.sk_);
    if (!no_checksum && !std::equal(chk.begin(), chk.end(), stored))
        throw FormatError("the secret key's checksum does not match (damaged file)");
    return k;
}

std::string SecretKey::file() const {
    std::array<std::uint8_t, kSecretBytes> raw{'E', 'd', 0, 0, 'B', '2'};
    constexpr std::size_t at = 2 + 2 + 2 + 32 + 8 + 8;  // salt and limits stay zero: no KDF
    std::copy(id_.begin(), id_.end(), raw.begin() + at);
    std::copy(sk_.begin(), sk_.end(), raw.begin() + at + 8);
    const sig::Digest256 chk = secret_checksum(id_, sk_);
    std::copy(chk.begin(), chk.end(), raw.begin() + at + 8 + 64);
    std::string out = std::string(kUntrusted) + "minisign secret key (unencrypted)\n" +
                      base64(raw.data(), raw.size()) + "\n";
    sig::wipe(raw.data(), raw.size());
    return out;
}

PublicKey SecretKey::public_key() const {
    PublicKey k;
    k.id = id_;
    std::copy_n(sk_.begin() + 32, 32, k.pk.begin());  // libsodium keeps pk after the seed
    return k;
}

SecretKey::SecretKey(SecretKey&& o) noexcept : id_(o.id_), sk_(o.sk_) { sig::wipe(o.sk_.data(), o.sk_.size()); }

SecretKey::~SecretKey() { sig::wipe(sk_.data(), sk_.size()); }

Signature parse_signature(std::string_view text) {
    const std::vector<std::string_view> lines = lines_of(text);
    std::size_t i = 0;
    auto next = [&]() -> std::string_view {
        while (i < lines.size() && trim(lines[i]).empty()) ++i;
        return i < lines.size() ? lines[i++] : std::string_view();
    };
    if (!starts_with(next(), kUntrusted))
        throw FormatError("not a minisign signature (no \"untrusted comment:\" line)");
    Signature s;
    std::array<std::uint8_t, kSigBytes> raw{};
    if (!unbase64(trim(next()), raw.data(), raw.size()))
        throw FormatError("not a minisign signature (its second line is not base64 of 74 bytes)");
    if (raw[0] == 'E' && raw[1] == 'D')
        s.prehashed = true;
    else if (raw[0] == 'E' && raw[1] == 'd')
        s.prehashed = false;
    else
        throw FormatError("unknown signature algorithm");
    std::copy_n(raw.begin() + 2, 8, s.id.begin());
    std::copy_n(raw.begin() + 10, 64, s.sig.begin());
    const std::string_view tc = next();
    if (!starts_with(tc, kTrusted)) throw FormatError("no \"trusted comment:\" line");
    // The comment is signed byte for byte: nothing but the line end is taken off.
    s.trusted_comment = std::string(tc.substr(kTrusted.size()));
    if (s.trusted_comment.size() > kMaxTrustedComment) throw FormatError("trusted comment too long");
    if (!unbase64(trim(next()), s.global.data(), s.global.size()))
        throw FormatError("no global signature after the trusted comment");
    if (!next().empty()) throw FormatError("text after the global signature");
    return s;
}

namespace {

std::string global_message(const sig::Signature& s, std::string_view comment) {
    std::string m(reinterpret_cast<const char*>(s.data()), s.size());
    m.append(comment);
    return m;
}

std::string_view digest_view(const sig::Digest512& d) {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace

std::string sign(const SecretKey& key, std::string_view data, std::string_view trusted_comment) {
    if (trusted_comment.find_first_of("\r\n") != std::string_view::npos)
        throw FormatError("a trusted comment is one line");
    if (trusted_comment.size() > kMaxTrustedComment) throw FormatError("trusted comment too long");
    const sig::Digest512 h = sig::blake2b_512(data);
    const sig::Signature s = sig::sign(key.sk(), digest_view(h));
    const sig::Signature global = sig::sign(key.sk(), global_message(s, trusted_comment));
    std::array<std::uint8_t, kSigBytes> raw{'E', 'D'};
    std::copy(key.id().begin(), key.id().end(), raw.begin() + 2);
    std::copy(s.begin(), s.end(), raw.begin() + 10);
    return std::string(kUntrusted) + "signature from agentbox secret key " + key_id_hex(key.id()) +
           "\n" + base64(raw.data(), raw.size()) + "\n" + std::string(kTrusted) +
           std::string(trusted_comment) + "\n" + base64(global.data(), global.size()) + "\n";
}

Verdict verify(const std::vector<PublicKey>& keys, std::string_view data, std::string_view sig_text) {
    Verdict v;
    Signature s;
    try {
        s = parse_signature(sig_text);
    } catch (const FormatError& e) {
        v.why = e.what();
        return v;
    }
    v.key_id = key_id_hex(s.id);
    const auto key = std::find_if(keys.begin(), keys.end(),
                                  [&](const PublicKey& k) { return k.id == s.id; });
    if (key == keys.end()) {
        v.why = "signed by key " + v.key_id + ", which is not a trusted key";
        return v;
    }
    const bool sig_ok = s.prehashed ? sig::verify(key->pk, digest_view(sig::blake2b_512(data)), s.sig)
                                    : sig::verify(key->pk, data, s.sig);
    if (!sig_ok) {
        v.why = "the signature by key " + v.key_id +
                " does not match the file (altered since it was signed, or signed wrongly)";
        return v;
    }
    if (!sig::verify(key->pk, global_message(s.sig, s.trusted_comment), s.global)) {
        v.why = "the trusted comment of the signature by key " + v.key_id + " was altered";
        return v;
    }
    v.ok = true;
    v.trusted_comment = s.trusted_comment;
    return v;
}

}  // namespace agentbox::audit::minisign
