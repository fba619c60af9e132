#include "net/intercept.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

// After the OpenSSL headers: every OpenSSL function below is loaded on first use.
#include "net/openssl_lazy.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace agentbox::net {

namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
    void operator()(SSL* p) const { SSL_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
    void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
};
template <class T>
using Own = std::unique_ptr<T, Free>;

std::string ssl_error() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown TLS error" : out;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + ssl_error());
}

Own<EVP_PKEY> ec_key() {
    Own<EVP_PKEY> k(EVP_EC_gen("P-256"));
    if (!k) fail("EC key");
    return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    Own<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("certificate extension");
}

void random_serial(X509* cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) fail("RAND_bytes");
    bytes[0] &= 0x7f;  // positive
    BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
        BN_free(bn);
        fail("serial");
    }
    BN_free(bn);
}

// Valid from an hour ago (clocks differ) for a day: a run that lasts longer re-mints nothing,
// so a day is the run's limit for intercepted hosts; longer runs are rare and get an error
// that names the certificate.
Own<X509> new_cert(const std::string& cn, EVP_PKEY* key) {
    Own<X509> cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1) fail("X509_new");
    random_serial(cert.get());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("agentbox"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    if (X509_set_pubkey(cert.get(), key) != 1) fail("X509_set_pubkey");
    return cert;
}

bool is_ip(const std::string& host) {
    unsigned char buf[16];
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
    (void)buf;
    if (!ip) {
        ERR_clear_error();
        return false;
    }
    ASN1_OCTET_STRING_free(ip);
    return true;
}

// "[::1]" -> "::1"
std::string bare(const std::string& host) {
    if (host.size() > 2 && host.front() == '[') return host.substr(1, host.size() - 2);
    return host;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned inlen, void*) {
    for (unsigned i = 0; i < inlen;) {
        const unsigned n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Upstream sessions kept at most (one per intercepted host and port; the plan bounds those,
// this bounds a plan with very many).
constexpr std::size_t kMaxSessions = 256;

}  // namespace

// One TLS connection's OpenSSL state. `key` ("name:port", the name as verified) is declared
// first so that it outlives `ssl`, whose new-session callback reads it.
struct TlsConn::Ssl {
    std::string key;
    Own<SSL> ssl;
};

struct Authority::Impl {
    Own<EVP_PKEY> key;       // the CA's: this process's memory only
    Own<X509> cert;
    Own<EVP_PKEY> leaf_key;  // one key for every leaf of the run
    Own<SSL_CTX> client;     // towards upstream servers
    std::once_flag system_trust;  // loaded into `client` on first need (load_system_trust)
    std::mutex mu;
    std::map<std::string, Own<SSL_CTX>> servers;  // per intercepted host
    // Upstream sessions for resumption, by "name:port" where name is the host name (or
    // address) the server's certificate was verified for. A resumed handshake does not show
    // the certificate again: the session stands for the verification it came from, so it is
    // offered only to a connection that would verify exactly the same name (never to another
    // host, nor to the same host at another port, which may be another server).
    std::mutex sessions_mu;
    std::map<std::string, Own<SSL_SESSION>> sessions;

    // OpenSSL's new-session callback on the client context: a copy of the session (TLS 1.2
    // at the end of the handshake, TLS 1.3 with each ticket) is kept for the connection's
    // key. A copy, because SSL_free without a close_notify marks the connection's own session
    // not resumable, and the proxy closes an upstream connection without one when the
    // response ends it (the server's close, or ours).
    static int on_session(SSL* s, SSL_SESSION* sess) {
        auto* im = static_cast<Impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(s)));
        auto* conn = static_cast<TlsConn::Ssl*>(SSL_get_app_data(s));
        // Only from a handshake whose certificate verified (SSL_VERIFY_PEER fails the others
        // already; this keeps it so if that ever changes).
        if (!im || !conn || conn->key.empty() || SSL_get_verify_result(s) != X509_V_OK ||
            SSL_SESSION_is_resumable(sess) != 1)
            return 0;
        Own<SSL_SESSION> copy(SSL_SESSION_dup(sess));
        if (!copy) {
            ERR_clear_error();
            return 0;
        }
        std::lock_guard<std::mutex> lock(im->sessions_mu);
        if (im->sessions.size() >= kMaxSessions && !im->sessions.count(conn->key))
            im->sessions.erase(im->sessions.begin());
        im->sessions[conn->key] = std::move(copy);
        return 0;  // the connection's own reference stays OpenSSL's
    }

    // The session kept for `name_port` (a reference of its own), or null.
    Own<SSL_SESSION> session_for(const std::string& name_port) {
        std::lock_guard<std::mutex> lock(sessions_mu);
        auto it = sessions.find(name_port);
        if (it == sessions.end() || SSL_SESSION_up_ref(it->second.get()) != 1) return nullptr;
        return Own<SSL_SESSION>(it->second.get());
    }

    SSL_CTX* server_for(const std::string& host) {
        std::lock_guard<std::mutex> lock(mu);
        auto it = servers.find(host);
        if (it != servers.end()) return it->second.get();
        const std::string name = bare(host);
        Own<X509> leaf = new_cert(name, leaf_key.get());
        if (X509_set_issuer_name(leaf.get(), X509_get_subject_name(cert.get())) != 1)
            fail("issuer");
        add_ext(leaf.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE");
        add_ext(leaf.get(), cert.get(), NID_key_usage, "critical,digitalSignature");
        add_ext(leaf.get(), cert.get(), NID_ext_key_usage, "serverAuth");
        add_ext(leaf.get(), cert.get(), NID_subject_alt_name,
                ((is_ip(name) ? "IP:" : "DNS:") + name).c_str());
        add_ext(leaf.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
        if (X509_sign(leaf.get(), key.get(), EVP_sha256()) == 0) fail("signing a leaf certificate");
        Own<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) fail("SSL_CTX_new");
        SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
        if (SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1 ||
            SSL_CTX_use_PrivateKey(ctx.get(), leaf_key.get()) != 1)
            fail("leaf certificate");
        SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11, nullptr);
        // Clients that come back resume (tickets, and the session cache for TLS 1.2, both
        // OpenSSL's defaults for a server; the context id makes the cache explicit). Each
        // host has its own context, so its own ticket key: a session for one intercepted host
        // never resumes at another's leaf.
        static const unsigned char kSid[] = "agentbox leaf";
        if (SSL_CTX_set_session_id_context(ctx.get(), kSid, sizeof kSid - 1) != 1)
            fail("session id context");
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX* raw = ctx.get();
        servers.emplace(host, std::move(ctx));
        return raw;
    }
};

Authority::Authority() : impl_(std::make_unique<Impl>()) {}
Authority::~Authority() = default;

std::shared_ptr<Authority> Authority::create() {
    std::shared_ptr<Authority> a(new Authority());
    Impl& im = *a->impl_;
    im.key = ec_key();
    im.leaf_key = ec_key();
    // The name says whose it is and that it is one run's: someone who finds it in a bundle
    // knows where it came from.
    unsigned char r[6];
    if (RAND_bytes(r, sizeof r) != 1) fail("RAND_bytes");
    char id[13];
    for (int i = 0; i < 6; ++i) std::snprintf(id + 2 * i, 3, "%02x", r[i]);
    im.cert = new_cert(std::string("agentbox run CA ") + id, im.key.get());
    X509_set_issuer_name(im.cert.get(), X509_get_subject_name(im.cert.get()));
    add_ext(im.cert.get(), im.cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(im.cert.get(), im.cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(im.cert.get(), im.cert.get(), NID_subject_key_identifier, "hash");
    if (X509_sign(im.cert.get(), im.key.get(), EVP_sha256()) == 0) fail("signing the CA");

    im.client.reset(SSL_CTX_new(TLS_client_method()));
    if (!im.client) fail("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(im.client.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(im.client.get(), SSL_VERIFY_PEER, nullptr);
    // The system trust store is not loaded here: see load_system_trust.
    SSL_CTX_set_alpn_protos(im.client.get(), kAlpn, sizeof kAlpn);
    // Sessions are kept by Impl::on_session under the verified name, not by OpenSSL's
    // internal cache (which a client does not look up by name anyway).
    SSL_CTX_set_app_data(im.client.get(), &im);
    SSL_CTX_set_session_cache_mode(im.client.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(im.client.get(), &Impl::on_session);
    SSL_CTX_set_mode(im.client.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return a;
}

std::string Authority::cert_pem() const {
    Own<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), impl_->cert.get()) != 1) fail("PEM");
    BUF_MEM* mem = nullptr;
    BIO_ctrl(bio.get(), BIO_C_GET_BUF_MEM_PTR, 0, &mem);
    if (mem == nullptr) fail("PEM");
    return std::string(mem->data, mem->length);
}

void Authority::prepare(const std::string& host) { impl_->server_for(host); }

namespace {

// Whether one of the directories in `dirs` (':'-separated, as OpenSSL reads SSL_CERT_DIR)
// holds a CA by its subject hash ("1a2b3c4d.0", what c_rehash and update-ca-certificates make).
bool has_hashed_certs(const std::string& dirs) {
    std::istringstream list(dirs);
    std::string d;
    while (std::getline(list, d, ':')) {
        DIR* dir = d.empty() ? nullptr : ::opendir(d.c_str());
        if (dir == nullptr) continue;
        bool found = false;
        while (const struct dirent* e = ::readdir(dir)) {
            const std::string_view n = e->d_name;
            if (n.size() == 10 && n.substr(8) == ".0" &&
                n.substr(0, 8).find_first_not_of("0123456789abcdef") == std::string_view::npos) {
                found = true;
                break;
            }
        }
        ::closedir(dir);
        if (found) return true;
    }
    return false;
}

// Whether two paths lead to the same file (an environment that sets SSL_CERT_FILE to the
// default bundle, as some do, names no other).
bool same_file(const char* a, const char* b) {
    struct stat sa {}, sb {};
    return ::stat(a, &sa) == 0 && ::stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

}  // namespace

void Authority::load_system_trust() {
    Impl& im = *impl_;
    // call_once: a throw leaves it not done, so the next upstream connection tries again.
    std::call_once(im.system_trust, [&im] {
        // OpenSSL's default paths are a file (parsed whole when added: Debian's 144 CAs, 10 to
        // 100 ms with OpenSSL 3) and a directory of CAs by subject hash (read when a
        // verification asks for an issuer: one file, then kept). Where the directory has such
        // links (Debian, Ubuntu, Arch, Alpine: the same CAs as the file), it alone, unless
        // SSL_CERT_FILE names another file than the default; else both, as before.
        const char* file_env = std::getenv(X509_get_default_cert_file_env());
        const char* dir_env = std::getenv(X509_get_default_cert_dir_env());
        const std::string dirs = dir_env && *dir_env ? dir_env : X509_get_default_cert_dir();
        if (!(file_env && *file_env && !same_file(file_env, X509_get_default_cert_file())) &&
            has_hashed_certs(dirs)) {
            if (SSL_CTX_load_verify_locations(im.client.get(), nullptr, dirs.c_str()) != 1)
                fail("the system trust store (" + dirs + ")");
        } else if (SSL_CTX_set_default_verify_paths(im.client.get()) != 1) {
            fail("the system trust store");
        }
    });
}

void Authority::trust_upstream(const std::string& pem_file) {
    if (SSL_CTX_load_verify_locations(impl_->client.get(), pem_file.c_str(), nullptr) != 1)
        fail("loading the test CA " + pem_file);
}

void write_ca_bundle(const Authority& ca, const std::string& path) {
    std::string bundle;
    const char* sys = X509_get_default_cert_file();
    if (const char* env = std::getenv(X509_get_default_cert_file_env()); env && *env) sys = env;
    if (std::ifstream in(sys, std::ios::binary); in) {
        std::ostringstream ss;
        ss << in.rdbuf();
        bundle = ss.str();
        if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    }
    bundle += ca.cert_pem();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    std::size_t done = 0;
    while (done < bundle.size()) {
        const ssize_t w = ::write(fd, bundle.data() + done, bundle.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            const int err = errno;
            ::close(fd);
            throw std::runtime_error("write " + path + ": " + std::strerror(err));
        }
        done += static_cast<std::size_t>(w);
    }
    ::close(fd);
}

TlsConn::~TlsConn() = default;

std::unique_ptr<TlsConn> TlsConn::accept(Authority& ca, const std::string& host, int fd) {
    std::unique_ptr<TlsConn> c(new TlsConn());
    c->ssl_ = std::make_unique<Ssl>();
    c->ssl_->ssl.reset(SSL_new(ca.impl().server_for(host)));
    if (!c->ssl_->ssl || SSL_set_fd(c->ssl_->ssl.get(), fd) != 1) fail("SSL_new");
    SSL_set_accept_state(c->ssl_->ssl.get());
    return c;
}

std::unique_ptr<TlsConn> TlsConn::connect(Authority& ca, const std::string& host,
                                          std::uint16_t port, int fd) {
    ca.load_system_trust();  // done already, unless nothing preloaded it
    std::unique_ptr<TlsConn> c(new TlsConn());
    c->ssl_ = std::make_unique<Ssl>();
    SSL* s = SSL_new(ca.impl().client.get());
    c->ssl_->ssl.reset(s);
    if (!s || SSL_set_fd(s, fd) != 1) fail("SSL_new");
    const std::string name = bare(host);
    const bool ip = is_ip(name);
    if (ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), name.c_str()) != 1) fail("verify ip");
    } else {
        if (SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(name.c_str())) != 1 || SSL_set1_host(s, name.c_str()) != 1)
            fail("verify host");
    }
    // Resumption: the session kept for exactly this verified name and port, if any. Its
    // server certificate (verified when the session began) must also be valid for the name:
    // a second lock on the same door, should the key ever be built wrongly.
    c->ssl_->key = name + ":" + std::to_string(port);
    SSL_set_app_data(s, c->ssl_.get());
    if (Own<SSL_SESSION> sess = ca.impl().session_for(c->ssl_->key)) {
        X509* peer = SSL_SESSION_get0_peer(sess.get());
        const bool for_name =
            peer != nullptr && (ip ? X509_check_ip_asc(peer, name.c_str(), 0) == 1
                                   : X509_check_host(peer, name.c_str(), name.size(), 0,
                                                     nullptr) == 1);
        if (for_name && SSL_set_session(s, sess.get()) != 1) ERR_clear_error();
    }
    SSL_set_connect_state(s);
    return c;
}

TlsConn::Io TlsConn::result(int rc) {
    SSL* s = ssl_->ssl.get();
    switch (SSL_get_error(s, rc)) {
        case SSL_ERROR_NONE: return Io::done;
        case SSL_ERROR_WANT_READ: return Io::want_read;
        case SSL_ERROR_WANT_WRITE: return Io::want_write;
        case SSL_ERROR_ZERO_RETURN: return Io::closed;
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_error() == 0) {
                // EOF without close_notify: as a plain close (HTTP frames its own messages).
                if (errno == 0 || rc == 0) return Io::closed;
                error_ = std::strerror(errno);
                return Io::failed;
            }
            [[fallthrough]];
        default: {
            const long v = SSL_get_verify_result(s);
            error_ = ssl_error();
            if (v != X509_V_OK) error_ = std::string("certificate: ") + X509_verify_cert_error_string(v);
            return Io::failed;
        }
    }
}

TlsConn::Io TlsConn::handshake() {
    ERR_clear_error();
    errno = 0;
    return result(SSL_do_handshake(ssl_->ssl.get()));
}

TlsConn::Io TlsConn::read(char* buf, std::size_t n, std::size_t& got) {
    ERR_clear_error();
    errno = 0;
    got = 0;
    const int rc = SSL_read_ex(ssl_->ssl.get(), buf, n, &got);
    return rc == 1 ? Io::done : result(rc);
}

TlsConn::Io TlsConn::write(const char* buf, std::size_t n, std::size_t& put) {
    ERR_clear_error();
    errno = 0;
    put = 0;
    const int rc = SSL_write_ex(ssl_->ssl.get(), buf, n, &put);
    return rc == 1 ? Io::done : result(rc);
}

TlsConn::Io TlsConn::shutdown() {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_shutdown(ssl_->ssl.get());
    return rc >= 0 ? Io::done : result(rc);
}

bool TlsConn::pending() const { return SSL_pending(ssl_->ssl.get()) > 0; }

bool TlsConn::offers_session() const { return SSL_get_session(ssl_->ssl.get()) != nullptr; }

bool TlsConn::resumed() const { return SSL_session_reused(ssl_->ssl.get()) == 1; }

std::string TlsConn::server_name() const {
    const char* n = SSL_get_servername(ssl_->ssl.get(), TLSEXT_NAMETYPE_host_name);
    return n ? n : "";
}

}  // namespace agentbox::net
