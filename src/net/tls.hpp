// The server name (SNI) a TLS client asks for, read from the first bytes it sends through a
// CONNECT tunnel: the proxy checks it against the host the tunnel was allowed for, so that an
// allowed front (a CDN) cannot carry requests for any other name behind it. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agentbox::net::tls {

enum class Hello {
    not_tls,     // the first byte is not a TLS handshake record: nothing to check
    incomplete,  // a ClientHello has begun and more bytes are needed
    malformed,   // a handshake that no server would accept either
    no_name,     // a ClientHello without a host name
    name,        // a ClientHello naming server_name
};

struct ClientHello {
    Hello kind = Hello::incomplete;
    std::string server_name;  // Hello::name: lower case, without a trailing dot
};

// The ClientHello may span several handshake records; one longer than this is malformed.
inline constexpr std::size_t kMaxHello = 64 * 1024;

// `bytes`: everything the client has sent so far.
ClientHello client_hello(std::string_view bytes);

}  // namespace agentbox::net::tls
