// A plain HTTP/1.1 POST with a deadline, for exporting the decision log to an OpenTelemetry
// collector (cli/otlp_export). http:// only: TLS to a remote collector is a local
// collector's job (agentbox-log(5), OPENTELEMETRY), which keeps OpenSSL's use to the proxy.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace agentbox::net {

struct HttpUrl {
    std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
    std::uint16_t port = 80;
    std::string path;  // origin-form, at least "/"
};

// "http://HOST[:PORT][/PATH]". Returns "" or what is wrong (https, userinfo, a bad port).
std::string parse_http_url(std::string_view url, HttpUrl& out);

struct PostResult {
    int status = 0;     // the response's status code; 0 when none was received
    std::string error;  // when status == 0: what failed (connect refused, timed out, ...)
};

// POSTs `body` and reads the response head. Never waits past `deadline`, whatever the peer
// does (a collector that accepts and never answers is a timeout, not a hang).
PostResult http_post(const HttpUrl& url, std::string_view content_type, std::string_view body,
                     std::chrono::steady_clock::time_point deadline);

}  // namespace agentbox::net
