// parse_unix_addr: a connect() address read as the kernel reads it, from bytes the sandboxed
// process chose.
#include "sys/unix_addr.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <vector>

using agentbox::sys::parse_unix_addr;
using agentbox::sys::UnixAddr;

namespace {
std::vector<std::uint8_t> un(const char* path, std::size_t pathlen) {
    std::vector<std::uint8_t> b(sizeof(sockaddr_un), 0);
    const sa_family_t f = AF_UNIX;
    std::memcpy(b.data(), &f, sizeof f);
    std::memcpy(b.data() + offsetof(sockaddr_un, sun_path), path, pathlen);
    return b;
}
constexpr std::size_t kHead = offsetof(sockaddr_un, sun_path);
}  // namespace

TEST_CASE("a pathname address ends at its first NUL or at addrlen") {
    auto b = un("/run/docker.sock", 16);
    auto a = parse_unix_addr(b.data(), kHead + 17);
    CHECK(a.kind == UnixAddr::pathname);
    CHECK(a.path == "/run/docker.sock");
    // No NUL within addrlen: the kernel cuts the name at addrlen.
    a = parse_unix_addr(b.data(), kHead + 4);
    CHECK(a.path == "/run");
    // Bytes after the NUL are not part of the name.
    auto c = un("ab\0/etc", 7);
    a = parse_unix_addr(c.data(), kHead + 7);
    CHECK(a.path == "ab");
}

TEST_CASE("a full-length sun_path without a NUL is one 108-byte name") {
    std::vector<char> p(sizeof(sockaddr_un::sun_path), 'x');
    auto b = un(p.data(), p.size());
    auto a = parse_unix_addr(b.data(), sizeof(sockaddr_un));
    CHECK(a.kind == UnixAddr::pathname);
    CHECK(a.path.size() == p.size());
}

TEST_CASE("an abstract name is not a path") {
    auto b = un("\0hidden", 7);
    CHECK(parse_unix_addr(b.data(), kHead + 7).kind == UnixAddr::abstract);
}

TEST_CASE("lengths the kernel refuses are invalid, not a path") {
    auto b = un("/x", 2);
    CHECK(parse_unix_addr(b.data(), kHead).kind == UnixAddr::invalid);       // family only
    CHECK(parse_unix_addr(b.data(), sizeof(sockaddr_un) + 1).kind == UnixAddr::invalid);
    CHECK(parse_unix_addr(b.data(), 1).kind == UnixAddr::not_unix);          // no family
    CHECK(parse_unix_addr(b.data(), 0).kind == UnixAddr::not_unix);
}

TEST_CASE("other families are not unix addresses; AF_UNSPEC is a disconnect") {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    CHECK(parse_unix_addr(reinterpret_cast<const std::uint8_t*>(&in), sizeof in).kind ==
          UnixAddr::not_unix);
    sockaddr s{};
    s.sa_family = AF_UNSPEC;
    CHECK(parse_unix_addr(reinterpret_cast<const std::uint8_t*>(&s), sizeof s).kind ==
          UnixAddr::unspec);
}
