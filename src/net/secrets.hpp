// Credentials kept outside the sandbox (profile [secrets], `run --secret`; DESIGN notes in
// docs/design-notes.md "Secrets"). Inside, a secret's variable holds a stand-in: random per
// run, shaped like the real value so that clients accept it, worthless anywhere else. The
// proxy puts the real value in place of the stand-in in requests to the secret's hosts, and
// refuses a request that carries a stand-in anywhere else.
//
// Pure but for resolve_secrets (which reads the environment, files, and runs commands) and
// random_stand_in (which reads the kernel's random source). Error texts never hold a value.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"
#include "profile/model.hpp"

namespace agentbox::net {

struct SecretValue {
    std::string name;
    std::string real;
    std::string stand_in;
    std::vector<std::string> hosts;  // canonical names
};

// Reads each secret's real value from where its rule says, outside the sandbox: the
// launcher's environment (the variable is then wiped from this process's environment, bytes
// and all, so that nothing agentbox starts or clones inherits it), a file, or a command's
// standard output (one trailing newline removed). Throws std::runtime_error naming the
// secret, its rule and the source, never the value; an empty value is an error.
std::vector<SecretValue> resolve_secrets(const std::map<std::string, profile::Secret>& secrets);

// A stand-in for `real`: its prefix up to the last '-' or '_' among the first 16 bytes kept
// ("sk-ant-api03-", "ghp_": clients check those), the rest `random` (letters and digits),
// at least as long as the real value's rest and never shorter than 24 random characters.
std::string stand_in_for(std::string_view real, std::string_view random);
// The same with fresh random characters from getentropy(3).
std::string random_stand_in(std::string_view real);

// RFC 4648 base64, for Authorization: Basic. decode: false on anything not base64.
std::string base64_encode(std::string_view in);
bool base64_decode(std::string_view in, std::string& out);

// What rewrite_request did. `refused` names the secret whose stand-in was found on its way to
// a host it is not bound to, and `where` the header (or "request target") that carried it.
struct SecretUse {
    bool refused = false;
    std::string secret;
    std::string where;
    std::vector<std::string> substituted;  // "NAME in HEADER", for the log
};

// For a request to `host` (canonical): every header value and the request target are
// searched for every stand-in, literally and, in Authorization: Basic, inside the base64
// user:password. Bound to `host`: replaced by the real value. Not bound: refused, and the
// request is left as it was (it must not be sent).
SecretUse rewrite_request(http::Head& request, std::string& target, std::string_view host,
                          const std::vector<SecretValue>& secrets);

// Every real value in `text` replaced by its stand-in: for what comes back from upstream
// (response heads), so that a server echoing the key does not hand it to the sandbox.
void mask_reals(std::string& text, const std::vector<SecretValue>& secrets);

}  // namespace agentbox::net
