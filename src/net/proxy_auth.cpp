#include "net/proxy_auth.hpp"

#include "sys/random.hpp"
#include "util/escape.hpp"
#include "util/strings.hpp"

namespace agentbox::net {

bool equal_constant_time(std::string_view a, std::string_view b) {
    // Every byte of the longer one is looked at: the loop's length is the only thing the
    // inputs decide, and no branch depends on a byte.
    const std::size_t n = a.size() > b.size() ? a.size() : b.size();
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

bool proxy_authorized(const http::Head& request, std::string_view credential) {
    if (credential.empty()) return false;  // never "no credential needed" by accident
    const auto values = request.all("proxy-authorization");
    // One field only: two would leave it to the reader which one counts.
    if (values.size() != 1) return false;
    std::string_view v = values.front();
    const auto sp = v.find(' ');
    if (sp == std::string_view::npos || util::to_lower(v.substr(0, sp)) != "basic") return false;
    v.remove_prefix(sp);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    std::string given;
    if (!util::unbase64(v, given)) return false;
    return equal_constant_time(given, credential);
}

std::string proxy_auth_required() {
    std::string r = http::error_response(407, "Proxy Authentication Required",
                                          "this proxy needs the credential in the run's proxy "
                                          "variables (Proxy-Authorization: Basic)");
    // After the status line; error_response's own fields follow.
    r.insert(r.find("\r\n") + 2, "Proxy-Authenticate: Basic realm=\"agentbox\"\r\n");
    return r;
}

std::string new_proxy_token() { return sys::random_hex(16); }

}  // namespace agentbox::net
