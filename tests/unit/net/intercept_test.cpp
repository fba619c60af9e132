// Upstream session resumption in net/intercept: a session is kept under the name (and port)
// whose certificate was verified, and offered to that name only. The run's own CA plays the
// upstream servers (its leaves for "a.test" and "b.test"), trusted by the client side as the
// tests' CA is (trust_upstream), over socket pairs in this process.
#include "net/intercept.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

namespace {

using agentbox::net::Authority;
using agentbox::net::TlsConn;

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// A file holding `ca`'s certificate; the caller unlinks it.
std::string cert_file(const Authority& ca) {
    char path[] = "/tmp/abtest-intercept-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << ca.cert_pem();
    return path;
}

// A CA whose certificate the client side also trusts upstream.
std::shared_ptr<Authority> trusted_ca() {
    auto ca = Authority::create();
    const std::string path = cert_file(*ca);
    ca->trust_upstream(path);
    ::unlink(path.c_str());
    return ca;
}

bool waiting(TlsConn::Io io) {
    return io == TlsConn::Io::want_read || io == TlsConn::Io::want_write;
}

// Both handshakes, then a byte from the server read by the client (a TLS 1.3 client gets its
// session tickets with the first read after the handshake).
void exchange(TlsConn& server, TlsConn& client) {
    TlsConn::Io s = TlsConn::Io::want_read, c = TlsConn::Io::want_read;
    for (int i = 0; i < 100 && (s != TlsConn::Io::done || c != TlsConn::Io::done); ++i) {
        if (c != TlsConn::Io::done) c = client.handshake();
        if (s != TlsConn::Io::done) s = server.handshake();
        REQUIRE_MESSAGE((c == TlsConn::Io::done || waiting(c)), client.error());
        REQUIRE_MESSAGE((s == TlsConn::Io::done || waiting(s)), server.error());
    }
    REQUIRE(s == TlsConn::Io::done);
    REQUIRE(c == TlsConn::Io::done);
    std::size_t put = 0, got = 0;
    REQUIRE(server.write("x", 1, put) == TlsConn::Io::done);
    char b = 0;
    TlsConn::Io r = TlsConn::Io::want_read;
    for (int i = 0; i < 10 && r != TlsConn::Io::done; ++i) r = client.read(&b, 1, got);
    REQUIRE(r == TlsConn::Io::done);
    CHECK(b == 'x');
}

struct Pair {
    Fd s, c;
    std::unique_ptr<TlsConn> server, client;
    Pair(Authority& ca, const std::string& served, const std::string& asked, std::uint16_t port) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        s.fd = fds[0];
        c.fd = fds[1];
        server = TlsConn::accept(ca, served, s.fd);
        client = TlsConn::connect(ca, asked, port, c.fd);
    }
};

}  // namespace

TEST_CASE("an upstream session is resumed for the same name and port") {
    auto ca = trusted_ca();
    {
        Pair first(*ca, "a.test", "a.test", 443);
        CHECK_FALSE(first.client->offers_session());
        exchange(*first.server, *first.client);
        CHECK_FALSE(first.client->resumed());
    }
    Pair again(*ca, "a.test", "a.test", 443);
    CHECK(again.client->offers_session());
    exchange(*again.server, *again.client);
    CHECK(again.client->resumed());
    CHECK(again.server->resumed());
}

TEST_CASE("a session cached for host A is never offered to host B") {
    auto ca = trusted_ca();
    {
        Pair first(*ca, "a.test", "a.test", 443);
        exchange(*first.server, *first.client);
    }
    // Another name, at the same port and (here) the same server: a full handshake, which
    // verifies b.test's own certificate.
    Pair other(*ca, "b.test", "b.test", 443);
    CHECK_FALSE(other.client->offers_session());
    exchange(*other.server, *other.client);
    CHECK_FALSE(other.client->resumed());
    // The same name at another port may be another server: not offered either.
    Pair port(*ca, "a.test", "a.test", 8443);
    CHECK_FALSE(port.client->offers_session());
    // A name that only differs in case or by a trailing dot is another key too: the proxy
    // passes canonical names, and anything else simply does not resume.
    Pair upper(*ca, "a.test", "A.test", 443);
    CHECK_FALSE(upper.client->offers_session());
}

TEST_CASE("a session is not kept from a handshake whose certificate did not verify") {
    auto ca = trusted_ca();
    {
        // The server shows a.test's leaf to a client that asked for b.test: verification fails.
        Pair wrong(*ca, "a.test", "b.test", 443);
        TlsConn::Io s = TlsConn::Io::want_read, c = TlsConn::Io::want_read;
        for (int i = 0; i < 100 && waiting(c); ++i) {
            c = wrong.client->handshake();
            if (waiting(s)) s = wrong.server->handshake();
        }
        CHECK(c == TlsConn::Io::failed);
        CHECK(wrong.client->error().find("certificate") != std::string::npos);
    }
    Pair next(*ca, "b.test", "b.test", 443);
    CHECK_FALSE(next.client->offers_session());
}

TEST_CASE("the system trust store is loaded by the first upstream connection") {
    // Not in Authority::create (the proxy preloads it on its own thread): a connection that
    // comes before any preload still verifies against it. The system store here is
    // SSL_CERT_FILE, which OpenSSL's default paths honour, holding the CA; trust_upstream is
    // not called.
    auto ca = Authority::create();
    const std::string path = cert_file(*ca);
    const char* old = std::getenv("SSL_CERT_FILE");
    const std::string saved = old ? old : "";
    ::setenv("SSL_CERT_FILE", path.c_str(), 1);
    {
        Pair first(*ca, "a.test", "a.test", 443);
        exchange(*first.server, *first.client);
    }
    if (old) ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
    else ::unsetenv("SSL_CERT_FILE");
    ::unlink(path.c_str());
}

TEST_CASE("a system trust store of CAs by subject hash is read from its directory") {
    // SSL_CERT_DIR holds the CA under its subject hash (as update-ca-certificates leaves
    // /etc/ssl/certs) and SSL_CERT_FILE is unset: the directory alone is loaded, and still
    // verifies. The hash is the openssl tool's, as c_rehash takes it.
    auto ca = Authority::create();
    char dir[] = "/tmp/abtest-certdir-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string pem = std::string(dir) + "/ca.pem";
    std::ofstream(pem) << ca->cert_pem();
    std::string hash;
    if (FILE* p = ::popen(("openssl x509 -hash -noout -in " + pem).c_str(), "r")) {
        char line[64] = {};
        if (std::fgets(line, sizeof line, p)) hash = std::string(line).substr(0, 8);
        ::pclose(p);
    }
    if (hash.size() != 8) {
        MESSAGE("no openssl tool: skipped");
        return;
    }
    const std::string link = std::string(dir) + "/" + hash + ".0";
    REQUIRE(::rename(pem.c_str(), link.c_str()) == 0);
    const char* old_file = std::getenv("SSL_CERT_FILE");
    const char* old_dir = std::getenv("SSL_CERT_DIR");
    const std::string saved_file = old_file ? old_file : "", saved_dir = old_dir ? old_dir : "";
    ::unsetenv("SSL_CERT_FILE");
    ::setenv("SSL_CERT_DIR", dir, 1);
    {
        Pair first(*ca, "a.test", "a.test", 443);
        exchange(*first.server, *first.client);
    }
    if (old_file) ::setenv("SSL_CERT_FILE", saved_file.c_str(), 1);
    if (old_dir) ::setenv("SSL_CERT_DIR", saved_dir.c_str(), 1);
    else ::unsetenv("SSL_CERT_DIR");
    ::unlink(link.c_str());
    ::rmdir(dir);
}
