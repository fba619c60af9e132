// OpenSSL, loaded on first use: included only by net/intercept.cpp, after the OpenSSL headers.
//
// Linked, libssl and libcrypto were half of every agentbox start's page faults and CPU
// (206 page faults for an empty program with them against 63 without), although only a run
// that intercepts TLS (secrets, request rules) calls them. Each function intercept.cpp
// calls is defined here as a macro that resolves it through sys::LazyLib on its first call;
// the macros OpenSSL's headers define (SSL_CTX_set_mode -> SSL_CTX_ctrl, EVP_EC_gen ->
// EVP_PKEY_Q_keygen, ...) expand at the call site to these names, so they are lazy too.
//
// The agentbox binary links neither library: a function used in intercept.cpp and missing
// here is an undefined reference at link time, never a silent direct dependency
// (tests/integration/test_startup_libs.py checks the binary's NEEDED entries). The first call
// (Authority::create, when a run intercepts a host) opens the libraries; when they cannot be
// opened it throws, and the run fails with that error before the sandbox starts.
#pragma once

#include "sys/lazylib.hpp"

namespace agentbox::net::openssl_lazy {

inline sys::LazyLib& ssl() {
    static sys::LazyLib lib(AGENTBOX_LIBSSL_SONAME);
    return lib;
}
inline sys::LazyLib& crypto() {
    static sys::LazyLib lib(AGENTBOX_LIBCRYPTO_SONAME);
    return lib;
}

}  // namespace agentbox::net::openssl_lazy

#define AGENTBOX_SSL(fn) AGENTBOX_LAZY(::agentbox::net::openssl_lazy::ssl(), fn)
#define AGENTBOX_CRYPTO(fn) AGENTBOX_LAZY(::agentbox::net::openssl_lazy::crypto(), fn)

// --- the functions intercept.cpp calls (keep sorted; add a line for each new one) ---
// libssl
#define SSL_CTX_ctrl                     AGENTBOX_SSL(SSL_CTX_ctrl)
#define SSL_CTX_free                     AGENTBOX_SSL(SSL_CTX_free)
#define SSL_CTX_get_ex_data              AGENTBOX_SSL(SSL_CTX_get_ex_data)
#define SSL_CTX_load_verify_locations    AGENTBOX_SSL(SSL_CTX_load_verify_locations)
#define SSL_CTX_new                      AGENTBOX_SSL(SSL_CTX_new)
#define SSL_CTX_sess_set_new_cb          AGENTBOX_SSL(SSL_CTX_sess_set_new_cb)
#define SSL_CTX_set_alpn_protos          AGENTBOX_SSL(SSL_CTX_set_alpn_protos)
#define SSL_CTX_set_alpn_select_cb       AGENTBOX_SSL(SSL_CTX_set_alpn_select_cb)
#define SSL_CTX_set_default_verify_paths AGENTBOX_SSL(SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_ex_data              AGENTBOX_SSL(SSL_CTX_set_ex_data)
#define SSL_CTX_set_session_id_context   AGENTBOX_SSL(SSL_CTX_set_session_id_context)
#define SSL_CTX_set_verify               AGENTBOX_SSL(SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey           AGENTBOX_SSL(SSL_CTX_use_PrivateKey)
#define SSL_CTX_use_certificate          AGENTBOX_SSL(SSL_CTX_use_certificate)
#define SSL_SESSION_dup                  AGENTBOX_SSL(SSL_SESSION_dup)
#define SSL_SESSION_free                 AGENTBOX_SSL(SSL_SESSION_free)
#define SSL_SESSION_get0_peer            AGENTBOX_SSL(SSL_SESSION_get0_peer)
#define SSL_SESSION_is_resumable         AGENTBOX_SSL(SSL_SESSION_is_resumable)
#define SSL_SESSION_up_ref               AGENTBOX_SSL(SSL_SESSION_up_ref)
#define SSL_ctrl                         AGENTBOX_SSL(SSL_ctrl)
#define SSL_do_handshake                 AGENTBOX_SSL(SSL_do_handshake)
#define SSL_free                         AGENTBOX_SSL(SSL_free)
#define SSL_get0_param                   AGENTBOX_SSL(SSL_get0_param)
#define SSL_get_SSL_CTX                  AGENTBOX_SSL(SSL_get_SSL_CTX)
#define SSL_get_error                    AGENTBOX_SSL(SSL_get_error)
#define SSL_get_ex_data                  AGENTBOX_SSL(SSL_get_ex_data)
#define SSL_get_servername               AGENTBOX_SSL(SSL_get_servername)
#define SSL_get_session                  AGENTBOX_SSL(SSL_get_session)
#define SSL_get_verify_result            AGENTBOX_SSL(SSL_get_verify_result)
#define SSL_new                          AGENTBOX_SSL(SSL_new)
#define SSL_pending                      AGENTBOX_SSL(SSL_pending)
#define SSL_read_ex                      AGENTBOX_SSL(SSL_read_ex)
#define SSL_session_reused               AGENTBOX_SSL(SSL_session_reused)
#define SSL_set1_host                    AGENTBOX_SSL(SSL_set1_host)
#define SSL_set_accept_state             AGENTBOX_SSL(SSL_set_accept_state)
#define SSL_set_connect_state            AGENTBOX_SSL(SSL_set_connect_state)
#define SSL_set_ex_data                  AGENTBOX_SSL(SSL_set_ex_data)
#define SSL_set_fd                       AGENTBOX_SSL(SSL_set_fd)
#define SSL_set_session                  AGENTBOX_SSL(SSL_set_session)
#define SSL_shutdown                     AGENTBOX_SSL(SSL_shutdown)
#define SSL_write_ex                     AGENTBOX_SSL(SSL_write_ex)
#define TLS_client_method                AGENTBOX_SSL(TLS_client_method)
#define TLS_server_method                AGENTBOX_SSL(TLS_server_method)
// libcrypto
#define ASN1_OCTET_STRING_free           AGENTBOX_CRYPTO(ASN1_OCTET_STRING_free)
#define BIO_ctrl                         AGENTBOX_CRYPTO(BIO_ctrl)
#define BIO_free                         AGENTBOX_CRYPTO(BIO_free)
#define BIO_new                          AGENTBOX_CRYPTO(BIO_new)
#define BIO_s_mem                        AGENTBOX_CRYPTO(BIO_s_mem)
#define BN_bin2bn                        AGENTBOX_CRYPTO(BN_bin2bn)
#define BN_free                          AGENTBOX_CRYPTO(BN_free)
#define BN_to_ASN1_INTEGER               AGENTBOX_CRYPTO(BN_to_ASN1_INTEGER)
#define ERR_clear_error                  AGENTBOX_CRYPTO(ERR_clear_error)
#define ERR_error_string_n               AGENTBOX_CRYPTO(ERR_error_string_n)
#define ERR_get_error                    AGENTBOX_CRYPTO(ERR_get_error)
#define ERR_peek_error                   AGENTBOX_CRYPTO(ERR_peek_error)
#define EVP_PKEY_Q_keygen                AGENTBOX_CRYPTO(EVP_PKEY_Q_keygen)
#define EVP_PKEY_free                    AGENTBOX_CRYPTO(EVP_PKEY_free)
#define EVP_sha256                       AGENTBOX_CRYPTO(EVP_sha256)
#define PEM_write_bio_X509               AGENTBOX_CRYPTO(PEM_write_bio_X509)
#define RAND_bytes                       AGENTBOX_CRYPTO(RAND_bytes)
#define X509V3_EXT_conf_nid              AGENTBOX_CRYPTO(X509V3_EXT_conf_nid)
#define X509V3_set_ctx                   AGENTBOX_CRYPTO(X509V3_set_ctx)
#define X509_EXTENSION_free              AGENTBOX_CRYPTO(X509_EXTENSION_free)
#define X509_NAME_add_entry_by_txt       AGENTBOX_CRYPTO(X509_NAME_add_entry_by_txt)
#define X509_VERIFY_PARAM_set1_ip_asc    AGENTBOX_CRYPTO(X509_VERIFY_PARAM_set1_ip_asc)
#define X509_add_ext                     AGENTBOX_CRYPTO(X509_add_ext)
#define X509_check_host                  AGENTBOX_CRYPTO(X509_check_host)
#define X509_check_ip_asc                AGENTBOX_CRYPTO(X509_check_ip_asc)
#define X509_free                        AGENTBOX_CRYPTO(X509_free)
#define X509_get_default_cert_dir        AGENTBOX_CRYPTO(X509_get_default_cert_dir)
#define X509_get_default_cert_dir_env    AGENTBOX_CRYPTO(X509_get_default_cert_dir_env)
#define X509_get_default_cert_file       AGENTBOX_CRYPTO(X509_get_default_cert_file)
#define X509_get_default_cert_file_env   AGENTBOX_CRYPTO(X509_get_default_cert_file_env)
#define X509_get_serialNumber            AGENTBOX_CRYPTO(X509_get_serialNumber)
#define X509_get_subject_name            AGENTBOX_CRYPTO(X509_get_subject_name)
#define X509_getm_notAfter               AGENTBOX_CRYPTO(X509_getm_notAfter)
#define X509_getm_notBefore              AGENTBOX_CRYPTO(X509_getm_notBefore)
#define X509_gmtime_adj                  AGENTBOX_CRYPTO(X509_gmtime_adj)
#define X509_new                         AGENTBOX_CRYPTO(X509_new)
#define X509_set_issuer_name             AGENTBOX_CRYPTO(X509_set_issuer_name)
#define X509_set_pubkey                  AGENTBOX_CRYPTO(X509_set_pubkey)
#define X509_set_version                 AGENTBOX_CRYPTO(X509_set_version)
#define X509_sign                        AGENTBOX_CRYPTO(X509_sign)
#define X509_verify_cert_error_string    AGENTBOX_CRYPTO(X509_verify_cert_error_string)
#define a2i_IPADDRESS                    AGENTBOX_CRYPTO(a2i_IPADDRESS)
// --- end of the functions intercept.cpp calls ---
