// TLS interception for the hosts a run's secrets are bound to (DESIGN notes in
// docs/design-notes.md "Secrets"): a certificate authority made for the run, whose private
// key lives only in this process's memory (never in a file, never inside the sandbox, gone
// when the run ends); per-host leaf certificates minted on first use; and the TLS sessions
// the proxy runs on both sides of an intercepted tunnel. OpenSSL stays inside this file's
// .cpp: the header is plain C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/secrets.hpp"

namespace agentbox::net {

class Authority {
public:
    // A fresh CA: an EC P-256 key and a self-signed certificate valid for a day.
    static std::shared_ptr<Authority> create();
    ~Authority();
    Authority(const Authority&) = delete;
    Authority& operator=(const Authority&) = delete;

    std::string cert_pem() const;
    // Mint `host`'s leaf and its TLS context now rather than on its first connection (the
    // proxy does it for every intercepted host while the sandbox starts). Throws
    // std::runtime_error as the first connection would.
    void prepare(const std::string& host);
    // Load the system's trust store (OpenSSL's default file and directory) for verifying
    // upstream servers; once, and before the first upstream connection (TlsConn::connect
    // calls it). Not in create(): parsing Debian's 144 CAs takes 10-100 ms, which the proxy
    // spends on its own thread while the sandbox starts instead of before. Throws
    // std::runtime_error.
    void load_system_trust();
    // Also trust `pem_file` when verifying upstream servers (the test switch
    // AGENTBOX_TEST_CA, see proxy.hpp). Throws std::runtime_error when it does not load.
    void trust_upstream(const std::string& pem_file);

    struct Impl;
    Impl& impl() { return *impl_; }

private:
    Authority();
    std::unique_ptr<Impl> impl_;
};

// What the proxy needs to intercept: the run's CA and secrets.
struct Intercept {
    std::shared_ptr<Authority> ca;
    std::vector<SecretValue> secrets;
};

// The system's CA bundle with the run's CA appended, written to `path` (created 0644, must not
// exist). The system bundle is OpenSSL's default certificate file, when there is one.
void write_ca_bundle(const Authority& ca, const std::string& path);

// One TLS connection over a non-blocking socket, either side. Each call does what it can
// without blocking and says what it waits for.
class TlsConn {
public:
    enum class Io { done, want_read, want_write, closed, failed };

    // The proxy's side towards the client: a leaf for `host` signed by the run's CA; ALPN
    // answers "http/1.1" when offered and nothing otherwise (so HTTP/2 clients fall back).
    static std::unique_ptr<TlsConn> accept(Authority& ca, const std::string& host, int fd);
    // Towards the server: verified against the system trust store (and a test CA), for the
    // name `host` (or its address), offering ALPN "http/1.1" only. Offers to resume the last
    // session of a server verified for this same `host` and `port` (never another's).
    static std::unique_ptr<TlsConn> connect(Authority& ca, const std::string& host,
                                            std::uint16_t port, int fd);
    ~TlsConn();

    Io handshake();
    Io read(char* buf, std::size_t n, std::size_t& got);
    Io write(const char* buf, std::size_t n, std::size_t& put);
    Io shutdown();
    // Bytes OpenSSL has decrypted and not yet handed out: read() may return them without the
    // socket becoming readable again.
    bool pending() const;
    // connect side: a kept session is offered (before the handshake); the handshake resumed
    // one (after it, either side).
    bool offers_session() const;
    bool resumed() const;
    // The last failure (verification, protocol), one line.
    const std::string& error() const { return error_; }
    // The server name the client sent (accept side), "" without one.
    std::string server_name() const;

    struct Ssl;  // OpenSSL's state (intercept.cpp)

private:
    TlsConn() = default;
    Io result(int rc);
    std::unique_ptr<Ssl> ssl_;
    std::string error_;
};

}  // namespace agentbox::net
