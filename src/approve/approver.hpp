// Approvals (DESIGN.md §8): a verdict of `ask` is put to the user's approver command, which
// gets the request as one JSON object on stdin and answers
//   {"verdict":"allow|deny","scope":"once|session","reason":"…"}
// on stdout within a timeout. Anything else — no answer in time, a crash, a non-zero exit,
// output that is not exactly such an object — is a denial, and says which it was, so that
// the caller can log it.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace agentbox::approve {

struct Request {
    std::string op;       // "connect", "commit", ...
    std::string target;   // host:port, path, ...
    std::string rule;     // the rule that said ask, as written
    std::string source;   // its file:line:col
    std::string session;  // session id
    nlohmann::ordered_json to_json() const;
};

enum class Verdict { allow, deny };
enum class Scope { once, session };

struct Answer {
    Verdict verdict = Verdict::deny;
    Scope scope = Scope::once;
    std::string reason;  // the approver's, or why agentbox denied
    std::string by;      // "approver" | "none"
    // "answered" when the approver gave a valid answer; otherwise why it counts as a denial:
    // "timeout", "crashed", "exit N", "malformed", "not started", "cancelled", "no approver".
    std::string how;
    long long ms = 0;    // how long the approver took
    nlohmann::ordered_json to_json() const;  // for the "approval" log event
};

// Runs `command` with /bin/sh -c in its own process group, the request on stdin, and reads at
// most 64 KiB of its stdout. The process group is killed at the timeout. Never throws for the
// approver's faults; every failure is a denial with `how` saying which. When `cancel_fd` (if
// not -1) becomes readable the approver is killed and the answer is a denial, "cancelled": the
// question no longer matters (the run ended).
Answer ask_command(const std::string& command, const Request& req,
                   std::chrono::milliseconds timeout, int cancel_fd = -1);

// Parses an approver's stdout. Exactly one JSON object, "verdict" required ("allow" or
// "deny"), "scope" optional ("once" default, or "session"), "reason" optional string; nothing
// else. Returns false (and `why`) for anything else.
bool parse_answer(const std::string& text, Answer& out, std::string& why);

const char* to_string(Verdict v);
const char* to_string(Scope s);

}  // namespace agentbox::approve
