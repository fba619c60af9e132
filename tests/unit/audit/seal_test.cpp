// Session-file MACs (audit/seal.hpp): what agentbox wrote verifies; every byte changed, a file
// moved to another session or name, a trailer forged or missing, another user's key: refused.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "audit/chain.hpp"
#include "audit/seal.hpp"

using namespace agentbox::audit;

namespace {

FileKey key_of(std::uint8_t b) {
    std::array<std::uint8_t, 32> k{};
    k.fill(b);
    return FileKey::from_bytes(k);
}

}  // namespace

TEST_CASE("seal: a sealed file unseals to its bytes, and the trailer is one line") {
    const FileKey k = key_of(1);
    const std::string bytes = "{\"state\":\"applying\"}\n";
    const std::string sealed = seal(k, "20261205T000000Z-abcdef", "journal", bytes);
    CHECK(sealed.size() == bytes.size() + kSealBytes);
    CHECK(sealed.starts_with(bytes));
    CHECK(sealed.ends_with("\n"));
    CHECK(sealed.substr(bytes.size()).starts_with("#agentbox-mac v1 "));
    CHECK(unseal(k, "20261205T000000Z-abcdef", "journal", sealed) == bytes);
    CHECK(unseal(k, "s", "empty", seal(k, "s", "empty", "")) == std::string());
}

TEST_CASE("seal: every injected change is refused, with a reason") {
    const FileKey k = key_of(2);
    const std::string bytes = "{\"project\":\"/home/u/p\",\"status\":\"staged\"}\n";
    const std::string sealed = seal(k, "S1", "meta.json", bytes);
    std::string why;

    SUBCASE("each byte flipped") {
        for (std::size_t i = 0; i < sealed.size(); ++i) {
            std::string t = sealed;
            t[i] = static_cast<char>(t[i] ^ 0x01);
            CHECK_MESSAGE(!unseal(k, "S1", "meta.json", t).has_value(), "byte ", i);
        }
    }
    SUBCASE("the plain file an attacker writes, without a trailer") {
        CHECK(!unseal(k, "S1", "meta.json", bytes, &why));
        CHECK(why.find("no MAC") != std::string::npos);
        CHECK(!unseal(k, "S1", "meta.json", "", &why));
    }
    SUBCASE("a trailer computed without the key") {
        std::string forged = bytes + "#agentbox-mac v1 " + std::string(64, 'a') + "\n";
        CHECK(!unseal(k, "S1", "meta.json", forged, &why));
        CHECK(why.find("does not verify") != std::string::npos);
    }
    SUBCASE("another session, another name") {
        CHECK(!unseal(k, "S2", "meta.json", sealed));
        CHECK(!unseal(k, "S1", "journal", sealed));
    }
    SUBCASE("another user's key") {
        CHECK(!unseal(key_of(3), "S1", "meta.json", sealed));
    }
    SUBCASE("bytes cut or appended") {
        CHECK(!unseal(k, "S1", "meta.json", sealed.substr(1)));
        CHECK(!unseal(k, "S1", "meta.json", "x" + sealed));
        CHECK(!unseal(k, "S1", "meta.json", sealed + "\n"));
    }
}

TEST_CASE("seal: the key is derived from the log signing key, one per user") {
    std::array<std::uint8_t, 32> a{}, b{};
    a.fill(7);
    b.fill(8);
    const FileKey ka = FileKey::derive(SigningKey::from_seed(a));
    const FileKey ka2 = FileKey::derive(SigningKey::from_seed(a));
    const FileKey kb = FileKey::derive(SigningKey::from_seed(b));
    CHECK(ka.tag_hex("s", "n", "x") == ka2.tag_hex("s", "n", "x"));
    CHECK(ka.tag_hex("s", "n", "x") != kb.tag_hex("s", "n", "x"));
    // Not the seed itself used as the MAC key.
    CHECK(ka.tag_hex("s", "n", "x") != FileKey::from_bytes(a).tag_hex("s", "n", "x"));
}

TEST_CASE("seal: the key read from the log key file is the one derived from the signing key") {
    // FileKey::load_or_create skips the Ed25519 key pair: it must still be the same MAC key
    // (what a run sealed, diff must verify), and refuse the key files load() refuses.
    char dir_template[] = "/tmp/agentbox-seal-test-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    const std::string path = dir + "/log-key";
    const FileKey made = FileKey::load_or_create(path);  // no file yet: creates the key
    const FileKey read = FileKey::load_or_create(path);
    const FileKey derived = FileKey::derive(SigningKey::load(path));
    CHECK(made.tag_hex("s", "n", "x") == derived.tag_hex("s", "n", "x"));
    CHECK(read.tag_hex("s", "n", "x") == derived.tag_hex("s", "n", "x"));
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    CHECK_THROWS_WITH_AS(FileKey::load_or_create(path),
                         doctest::Contains("may be read or written by others"), std::runtime_error);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    {
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("not hex\n", f);
        std::fclose(f);
    }
    CHECK_THROWS_WITH_AS(FileKey::load_or_create(path), doctest::Contains("is not 64 hex digits"),
                         std::runtime_error);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
}
