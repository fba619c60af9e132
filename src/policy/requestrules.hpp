// Request rules (profile network.request, DESIGN.md §6), pure: the rule grammar, the request
// path's normal form, pattern matching, and the request decision that both `explain request`
// and the proxy use.
//
//   "GET,HEAD api.example.com"              those methods, any path
//   "read-only api.example.com"             GET and HEAD
//   "POST api.github.com/repos/acme/**"     POST at /repos/acme and below
//   "* uploads.example.com/v1/*/parts"      any method; "*" is one segment (or part of one)
//
// A host that any rule names is judged request by request; a request no rule for its host
// allows is refused. Hosts no rule names are decided by the host rules alone.
#pragma once

#include <string>
#include <string_view>

#include "policy/plan.hpp"
#include "policy/request.hpp"
#include "profile/model.hpp"

namespace agentbox::policy {

// One network.request entry (already validated and canonicalised by profile::parse).
// Throws std::invalid_argument naming the rule and its file:line:col.
RequestRule parse_request_rule(const profile::Entry& entry);

// The path of an origin-form request target ("/a/b?q") as the rules see it, or what makes it
// impossible to judge (then `path` is left empty). The query and fragment are cut; escapes of
// unreserved characters are decoded ("%61" -> "a", "%2e" -> "."), other escapes kept with
// upper-case hex; "." and ".." segments removed (RFC 3986 §5.2.4). Refused, because a server
// might read them otherwise than the rule does: a ".." above the root, an empty segment
// ("//"), an escaped "/" or "\", a raw "\", a control character or byte outside printable
// ASCII, a malformed escape, a dot segment with parameters ("..;x"), a target that is not a
// path ("*", "http://..."). The proxy sends the normal form upstream, so the server sees the
// path that was judged.
std::string normalize_path(std::string_view target, std::string& path);

// Does the normalized `path` match `pattern` (RequestRule::path; "" matches any path)?
// Segment by segment: "*" matches any run of characters within one segment, a "**" segment
// zero or more whole segments.
bool path_matches(std::string_view pattern, std::string_view path);

// Does any request rule name `host` (canonical)?
bool has_request_rules(const NetPlan& net, std::string_view host);

// The request decision for `method` `target` (origin-form, query included) to `host`
// (canonical), one that has request rules: allowed by the first rule for the host that
// matches method and path; otherwise denied naming the rule for the host that came nearest
// (of those whose path matched, the longest pattern; else the host's first rule). `path` receives the normalized path ("" when the
// target cannot be judged: denied, rule "request path").
Decision decide_request(const NetPlan& net, std::string_view method, std::string_view host,
                        std::string_view target, std::string& path);

// For `explain request`: `request` is "METHOD URL" (http:// or https://). The connect
// decision for the URL's host and port first (a refusal there is the answer); then, for a host
// with request rules, decide_request; for one without, the connect decision says so.
Decision decide_request_url(const NetPlan& net, std::string_view request);

}  // namespace agentbox::policy
