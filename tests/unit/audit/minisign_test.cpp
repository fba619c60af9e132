// minisign's formats (audit/minisign.hpp): files made by minisign 0.11 itself (`minisign -G -W`,
// `minisign -S`, `minisign -S -l`) parse and verify; what agentbox signs verifies; a changed
// byte of the file, of the trusted comment, or another key is refused, each with its reason.
#include <doctest/doctest.h>

#include <string>

#include "audit/minisign.hpp"

using namespace agentbox::audit::minisign;

namespace {

const std::string kPub =
    "untrusted comment: minisign public key CAEECC9146436BFC\n"
    "RWT8a0NGkczuysLEa4gR6bLxE+epjFlb6DRgy2EGGexY54Xs2ts8H1Po\n";
// `minisign -G -W`: unencrypted (a throwaway test key).
const std::string kSec =
    "untrusted comment: minisign encrypted secret key\n"
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/GtDRpHM7sra8OiCrTti"
    "ATL29j7kVOe9tWGJ5ELoIq81L4TIz6b5T8LEa4gR6bLxE+epjFlb6DRgy2EGGexY54Xs2ts8H1PoAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
const std::string kData = "version = 1\nname = \"demo\"\n";
// `minisign -S -t fixture`: prehashed ("ED").
const std::string kSig =
    "untrusted comment: signature from minisign secret key\n"
    "RUT8a0NGkczuygC/6b4da6eE70DVNiNFkgN0aoUE1O6ktCmCwsk30qaL3VuMIzI5hEc7IuiBGFsdCNF8dR/wlqoxi4ju"
    "YE3v2gs=\n"
    "trusted comment: fixture\n"
    "2SOLI9J0AEBaL2b7EfyRhz32kon6BKJpnKwzWCIgnmyytrJirD46PNxmCBT5X6hOCjB+U+xzRxfJzsZdZxmzAA==\n";
// `minisign -S -l -t legacy`: the legacy "Ed" signature of the bytes themselves.
const std::string kLegacy =
    "untrusted comment: signature from minisign secret key\n"
    "RWT8a0NGkczuyjO+Z0tUrzi1C5ILuKlpOz3AnKasfFkiSNRawKwX8JHs+Ut3Fgg/Lucc5CFKdywtrBOgSEQHmDjD9riI"
    "X/LqnQ0=\n"
    "trusted comment: legacy\n"
    "XVpY9eXIMNLYBuA++QgIrTCKxp61v9jLB/lsyTCrT61BK0qQNfq0v4nHBJAQ566wqqsfxiUPD+62eZSr5SGUCQ==\n";

}  // namespace

TEST_CASE("minisign: a public key file and its bare base64 line give the same key and id") {
    const PublicKey k = parse_public_key(kPub);
    CHECK(key_id_hex(k.id) == "CAEECC9146436BFC");
    CHECK(parse_public_key("RWT8a0NGkczuysLEa4gR6bLxE+epjFlb6DRgy2EGGexY54Xs2ts8H1Po") == k);
    CHECK(public_key_file(k) == kPub);
}

TEST_CASE("minisign: malformed public keys are refused") {
    CHECK_THROWS_AS(parse_public_key(""), FormatError);
    CHECK_THROWS_AS(parse_public_key("RWT8a0NGkczuysLEa4gR6bLxE+epjFlb6DRgy2EGGexY54Xs2ts8H1P"), FormatError);
    CHECK_THROWS_AS(parse_public_key("RWT8a0NGkczuysLEa4gR6bLxE+epjFlb6DRgy2EGGexY54Xs2ts8H1P="), FormatError);
    CHECK_THROWS_AS(parse_public_key("RWT8a0NGkczuysLEa4gR6bL E+epjFlb6DRgy2EGGexY54Xs2ts8H1Po"), FormatError);
    // Two keys in one file: which one would be meant?
    CHECK_THROWS_AS(parse_public_key(kPub + "RWT8a0NGkczuysLEa4gR6bLxE+epjFlb6DRgy2EGGexY54Xs2ts8H1Po\n"),
                    FormatError);
}

TEST_CASE("minisign: an unencrypted minisign secret key reads, and its public half matches") {
    const SecretKey k = SecretKey::parse(kSec);
    CHECK(k.public_key() == parse_public_key(kPub));
    // And what agentbox writes reads back the same.
    const SecretKey again = SecretKey::parse(k.file());
    CHECK(again.public_key() == k.public_key());
}

TEST_CASE("minisign: an encrypted or damaged secret key is refused with the reason") {
    std::string enc = kSec;
    // kdf "\0\0" -> "Sc": base64 of bytes 2..3 sits in the first four characters "RWQA".
    enc.replace(enc.find("RWQAAEIy"), 8, "RWRTY0Iy");
    CHECK_THROWS_WITH_AS(SecretKey::parse(enc), doctest::Contains("encrypted"), FormatError);
    // agentbox's key files carry minisign's checksum: a changed key id is noticed.
    std::string damaged = SecretKey::parse(kSec).file();
    const std::size_t b64 = damaged.find('\n') + 1;
    const std::size_t at = b64 + (2 + 2 + 2 + 32 + 8 + 8) / 3 * 4 + 4;  // inside the key id
    damaged[at] = damaged[at] == 'A' ? 'B' : 'A';
    CHECK_THROWS_WITH_AS(SecretKey::parse(damaged), doctest::Contains("checksum"), FormatError);
}

TEST_CASE("minisign: minisign's prehashed and legacy signatures verify") {
    const std::vector<PublicKey> keys{parse_public_key(kPub)};
    const Verdict v = verify(keys, kData, kSig);
    CHECK(v.ok);
    CHECK(v.key_id == "CAEECC9146436BFC");
    CHECK(v.trusted_comment == "fixture");
    CHECK(parse_signature(kSig).prehashed);
    const Verdict l = verify(keys, kData, kLegacy);
    CHECK(l.ok);
    CHECK_FALSE(parse_signature(kLegacy).prehashed);
}

TEST_CASE("minisign: an altered file, an altered trusted comment and another key fail, each named") {
    const std::vector<PublicKey> keys{parse_public_key(kPub)};
    std::string altered = kData;
    altered[0] = 'V';
    Verdict v = verify(keys, altered, kSig);
    CHECK_FALSE(v.ok);
    CHECK(v.why.find("does not match the file") != std::string::npos);
    CHECK_FALSE(verify(keys, altered, kLegacy).ok);

    std::string comment = kSig;
    comment.replace(comment.find("fixture"), 7, "fixturE");
    v = verify(keys, kData, comment);
    CHECK_FALSE(v.ok);
    CHECK(v.why.find("trusted comment") != std::string::npos);

    const SecretKey other = SecretKey::generate();
    v = verify({other.public_key()}, kData, kSig);
    CHECK_FALSE(v.ok);
    CHECK(v.why.find("CAEECC9146436BFC") != std::string::npos);
    CHECK(v.why.find("not a trusted key") != std::string::npos);
    CHECK_FALSE(verify({}, kData, kSig).ok);
}

TEST_CASE("minisign: a key with the trusted id but other key bytes does not verify") {
    const SecretKey other = SecretKey::generate();
    PublicKey forged = other.public_key();
    forged.id = parse_public_key(kPub).id;
    CHECK_FALSE(verify({forged}, kData, kSig).ok);
}

TEST_CASE("minisign: what agentbox signs verifies, with its trusted comment, and nothing else") {
    const SecretKey k = SecretKey::parse(kSec);
    const std::string sig = sign(k, kData, "timestamp:1\tfile:demo.toml\thashed");
    const Verdict v = verify({k.public_key()}, kData, sig);
    CHECK(v.ok);
    CHECK(v.trusted_comment == "timestamp:1\tfile:demo.toml\thashed");
    CHECK(parse_signature(sig).prehashed);
    CHECK_FALSE(verify({k.public_key()}, kData + " ", sig).ok);
    CHECK_THROWS_AS(sign(k, kData, "two\nlines"), FormatError);
}

TEST_CASE("minisign: truncated and padded signature files are refused, not misread") {
    const std::vector<PublicKey> keys{parse_public_key(kPub)};
    const std::string cut = kSig.substr(0, kSig.rfind("2SOLI"));
    CHECK_FALSE(verify(keys, kData, cut).ok);
    CHECK_FALSE(verify(keys, kData, "").ok);
    CHECK_FALSE(verify(keys, kData, kSig + "extra\n").ok);
    CHECK_FALSE(verify(keys, kData, kSig.substr(kSig.find('\n') + 1)).ok);
    // Windows line ends are line ends.
    std::string crlf;
    for (char c : kSig) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    CHECK(verify(keys, kData, crlf).ok);
}
